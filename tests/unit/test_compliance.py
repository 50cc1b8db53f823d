"""Compliance figures: open overdue work counts against the on-time rate."""

from datetime import UTC, datetime, timedelta
from typing import Any

from services.sla.compliance import compliance

NOW = datetime(2026, 12, 20, tzinfo=UTC)
DUE = datetime(2026, 12, 10, tzinfo=UTC)
START = datetime(2026, 12, 1, tzinfo=UTC)


def completion(agency: str, state: str, ended: datetime | None = None) -> dict[str, Any]:
    return {
        "agency_id": agency,
        "stage": "completion",
        "state": state,
        "due_at": DUE,
        "started_at": START,
        "ended_at": ended,
    }


def follow_up(agency: str, hours: float) -> dict[str, Any]:
    return {
        "agency_id": agency,
        "stage": "first_follow_up",
        "state": "met",
        "due_at": DUE,
        "started_at": START,
        "ended_at": START + timedelta(hours=hours),
    }


def test_on_time_rate_counts_open_overdue_in_the_denominator() -> None:
    clocks = [
        completion("a", "stopped", DUE - timedelta(days=1)),  # on time
        completion("a", "stopped", DUE + timedelta(days=1)),  # late
        completion("a", "running"),  # open and overdue (due 10th, now 20th)
        completion("a", "running") | {"due_at": NOW + timedelta(days=3)},  # open, not yet due
    ]
    [figures] = compliance(clocks, now=NOW)
    assert (figures.closed, figures.closed_on_time, figures.open_overdue) == (2, 1, 1)
    assert figures.on_time_rate == 1 / 3


def test_median_time_to_first_follow_up_per_agency() -> None:
    clocks = [follow_up("a", 2), follow_up("a", 30), follow_up("a", 5), follow_up("b", 1)]
    figures = {f.agency_id: f for f in compliance(clocks, now=NOW)}
    assert figures["a"].median_first_follow_up_hours == 5
    assert figures["b"].median_first_follow_up_hours == 1
    assert figures["a"].on_time_rate is None  # nothing closed or overdue yet


def test_verification_clocks_belong_to_no_agency() -> None:
    clocks = [{"agency_id": None, "stage": "verification", "state": "running", "due_at": DUE}]
    assert compliance(clocks, now=NOW) == []


def test_figures_per_unit_when_asked() -> None:
    clocks = [
        completion("a", "stopped", DUE) | {"unit_id": "u1"},
        completion("a", "running") | {"unit_id": "u2"},
    ]
    figures = {(f.agency_id, f.unit_id): f for f in compliance(clocks, now=NOW, by_unit=True)}
    assert figures[("a", "u1")].on_time_rate == 1.0
    assert figures[("a", "u2")].on_time_rate == 0.0
    [agency] = compliance(clocks, now=NOW)
    assert (agency.unit_id, agency.on_time_rate) == (None, 0.5)


def test_merged_reports_are_left_out_of_the_figures() -> None:
    clocks = [
        completion("a", "stopped", DUE + timedelta(days=1)),  # late
        completion("a", "merged", DUE - timedelta(days=5)),  # not a resolution
        completion("a", "merged", NOW),
    ]
    [figures] = compliance(clocks, now=NOW)
    assert (figures.closed, figures.closed_on_time, figures.on_time_rate) == (1, 0, 0.0)
    only_merged = [completion("b", "merged", DUE - timedelta(days=1))]
    assert compliance(only_merged, now=NOW) == []


def test_an_answer_that_met_the_completion_clock_counts_on_time() -> None:
    clocks = [completion("a", "met", START + timedelta(hours=1))]
    [figures] = compliance(clocks, now=NOW)
    assert (figures.closed, figures.closed_on_time, figures.on_time_rate) == (1, 1, 1.0)
