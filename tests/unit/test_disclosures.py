"""What the access log records of a view (pure: no database): the reporter's fields shown to
anyone but the reporter."""

from typing import Any

from schemas.complaint import Actor, Role
from services.intake.views import ComplaintDetail, ReporterView, disclosed

RECORD = {"_id": "LPR-7KQ2M-9XA4B", "reporter_id": "warga-1"}


def view(reporter: ReporterView | None) -> ComplaintDetail:
    fields: dict[str, Any] = {"reporter": reporter}  # all the function reads of a view
    return ComplaintDetail.model_construct(**fields)


def test_the_reporter_reading_their_own_report_discloses_nothing() -> None:
    full = view(ReporterView(name="Siti", email="siti@example.id", phone="+62812"))
    assert disclosed(full, RECORD, Actor(Role.CITIZEN, "warga-1")) == ()


def test_what_another_viewer_is_shown_is_what_is_disclosed() -> None:
    admin = Actor(Role.NATIONAL_ADMIN, "admin")
    full = view(ReporterView(name="Siti", email="siti@example.id", phone=None))
    assert disclosed(full, RECORD, admin) == ("name", "email")
    agency = Actor(Role.AGENCY_ADMIN, "officer", agency_id="dinkes-kota-ambon")
    assert disclosed(view(ReporterView(name="Siti")), RECORD, agency) == ("name",)


def test_an_anonim_report_shows_no_reporter_and_discloses_nothing() -> None:
    agency = Actor(Role.AGENCY_ADMIN, "officer", agency_id="dinkes-kota-ambon")
    assert disclosed(view(None), RECORD, agency) == ()
    # Another citizen (a supporter) is not the reporter.
    assert disclosed(view(ReporterView(name="Siti")), RECORD, Actor(Role.CITIZEN, "x")) == ("name",)
