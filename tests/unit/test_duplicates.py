"""Duplicate suggestions: same problem, same place, similar words, recent."""

from dataclasses import replace
from datetime import timedelta

from services.intake.duplicates import Report, distance_m, likely_duplicates, score
from tests.factories import NOW

PASAR = Report(
    tracking_id="LPR-OLD00-00001",
    category="infrastruktur.jalan",
    region_code="81.71.01",
    text="Jalan berlubang besar di depan Pasar Mardika membahayakan motor",
    submitted_at=NOW - timedelta(days=2),
    point=(-3.6954, 128.1814),
)
NEW = replace(
    PASAR,
    tracking_id="LPR-NEW00-00001",
    text="Lubang besar di jalan Pasar Mardika, motor sering jatuh",
    submitted_at=NOW,
    point=(-3.6960, 128.1820),
)


def test_distance_is_measured_on_the_ground() -> None:
    # One degree of latitude is about 111 km.
    assert 110_000 < distance_m((0.0, 120.0), (1.0, 120.0)) < 112_000
    assert PASAR.point is not None
    assert NEW.point is not None
    assert distance_m(PASAR.point, NEW.point) < 100


def test_the_same_pothole_reported_twice_is_suggested() -> None:
    assert likely_duplicates(NEW, [PASAR])[0][0] == PASAR.tracking_id


def test_far_away_old_or_different_problems_are_not() -> None:
    far = replace(PASAR, point=(-3.75, 128.25))  # several kilometres off
    old = replace(PASAR, submitted_at=NOW - timedelta(days=45))
    health = replace(PASAR, category="kesehatan.puskesmas")
    unrelated = replace(PASAR, text="Lampu penerangan mati total di kompleks perumahan")
    assert score(NEW, far) is None
    assert score(NEW, old) is None
    assert score(NEW, health) is None
    assert likely_duplicates(NEW, [unrelated]) == []


def test_without_coordinates_the_region_code_decides_nearness() -> None:
    new = replace(NEW, point=None)
    same_district = replace(PASAR, point=None)
    other_regency = replace(PASAR, point=None, region_code="81.01")
    assert likely_duplicates(new, [same_district]) != []
    assert score(new, other_regency) is None


def test_best_suggestions_first_and_never_itself() -> None:
    weaker = replace(PASAR, tracking_id="LPR-OLD00-00002", text="Jalan rusak dekat pasar")
    ranked = likely_duplicates(NEW, [weaker, PASAR, NEW])
    assert ranked[0][0] == PASAR.tracking_id
    assert NEW.tracking_id not in [tracking_id for tracking_id, _ in ranked]
