"""The portal's own logic: what it shows and offers, its session cookie and CSRF token."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from starlette.requests import Request
from starlette.responses import Response

from schemas.complaint import Actor, Role
from services.portal import present
from services.portal.app import Settings
from services.portal.session import COOKIE, Session, SessionCookies
from services.portal.texts import STATUS, TEXTS
from services.sla.calendar import WorkingCalendar
from services.standards.importing import COLUMNS

CALENDAR = WorkingCalendar()
# Thursday 3 December 2026, 10:00 WIT.
NOW = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)


WIT = ZoneInfo("Asia/Jayapura")


def due(days: float) -> str:
    return (NOW + timedelta(days=days)).astimezone(WIT).isoformat()


def test_working_days_left_skip_the_weekend_and_go_negative_once_past() -> None:
    assert present.working_days_left(due(1), NOW, CALENDAR) == 1  # Friday
    assert present.working_days_left(due(4), NOW, CALENDAR) == 2  # Monday: Fri, Mon
    assert present.working_days_left(due(-1), NOW, CALENDAR) < 0


def test_reports_fall_into_the_consoles_queues() -> None:
    report = {"status": "forwarded_to_agency", "deadline": {"due_at": due(10)}}
    assert present.queue_of(report, NOW, CALENDAR) == "new"
    assert present.queue_of({**report, "status": "in_follow_up"}, NOW, CALENDAR) == "in_follow_up"
    assert present.queue_of({**report, "deadline": {"due_at": due(1)}}, NOW, CALENDAR) == "due_soon"
    assert (
        present.queue_of({**report, "deadline": {"due_at": due(-3)}}, NOW, CALENDAR) == "breached"
    )
    answered = {"status": "answered", "deadline": {"due_at": due(-3)}}
    assert present.queue_of(answered, NOW, CALENDAR) == "done"


def offered(role: Role, status: str) -> set[str]:
    return {a["action"] for a in present.actions_for(role.value, status)}


def test_the_console_offers_only_what_the_lifecycle_allows_the_role() -> None:
    assert offered(Role.AGENCY_ADMIN, "forwarded_to_agency") == {
        "follow_up",
        "answer",
        "forward_to_unit",
        "bounce",
    }
    assert "bounce" not in offered(Role.UNIT_OFFICER, "forwarded_to_unit")
    assert {"reroute", "escalate", "close"} <= offered(Role.NATIONAL_ADMIN, "bounced")
    assert offered(Role.NATIONAL_ADMIN, "submitted") >= {"forward", "defer", "reject"}
    assert offered(Role.AUDITOR, "forwarded_to_agency") == set()
    assert offered(Role.CITIZEN, "answered") == set()
    assert present.actions_for(None, "submitted") == []


def test_a_filing_form_becomes_the_apis_submission() -> None:
    body = present.report_body(
        {
            "title": "Jalan rusak",
            "body": "Lubang besar di jalan",
            "category": "infrastruktur.jalan",
            "report_type": "pengaduan",
            "region_code": " 81.71 ",
            "anonymous": "on",
            "email": "siti@example.id",
            "name": "  ",
            "lat": "-3.69",
            "long": "east",
        },
    )
    assert body["anonymous"] is True and body["confidential"] is False
    assert body["reporter"] == {"email": "siti@example.id"}
    assert body["region_code"] == "81.71"
    # What the portal cannot read goes on as typed, for the API to name the field.
    assert body["location"] == {"lat": -3.69, "long": "east"}


def test_attachment_rows_become_the_apis_descriptions_and_empty_rows_are_left_out() -> None:
    body = present.report_body(
        {
            "attachment_1_url": "https://files.example.go.id/lubang.jpg",
            "attachment_1_filename": "lubang.jpg",
            "attachment_1_content_type": "image/jpeg",
            "attachment_1_size_kb": "250",
            "attachment_2_url": "",
            "attachment_2_filename": "forgotten.pdf",
        },
    )
    assert body["attachments"] == [
        {
            "filename": "lubang.jpg",
            "content_type": "image/jpeg",
            "size_bytes": 256_000,
            "url": "https://files.example.go.id/lubang.jpg",
        }
    ]
    assert "attachments" not in present.report_body({})


def test_times_read_in_the_places_own_zone() -> None:
    assert present.when("2026-12-03T01:00:00+00:00", "Asia/Jayapura") == "03-12-2026 10:00 WIT"
    assert present.when("2026-12-03T01:00:00+00:00", "Asia/Makassar") == "03-12-2026 09:00 WITA"
    assert present.zone_of({"region_code": "31.71"}) == "Asia/Jakarta"


def request_with(cookie: str | None) -> Request:
    headers = [(b"cookie", f"{COOKIE}={cookie}".encode())] if cookie else []
    return Request({"type": "http", "headers": headers, "method": "GET", "path": "/"})


def written(cookies: SessionCookies, session: Session) -> str:
    response = Response()
    cookies.write(response, session)
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=lax" in header and "Secure" in header
    return header.split(";", 1)[0].split("=", 1)[1]


def test_the_session_cookie_comes_back_as_written_and_a_forged_one_is_a_new_session() -> None:
    cookies = SessionCookies(key="k" * 32, secure=True, lifetime=timedelta(hours=1))
    actor = Actor(role=Role.AGENCY_ADMIN, subject="budi", agency_id="dinas-pupr-kota-ambon")
    session = Session(csrf="before").signing_in(actor=actor, name="Budi", token="jwt")
    assert session.csrf != "before"  # a token seen before sign-in is worth nothing after
    raw = written(cookies, session)
    read, new = cookies.read(request_with(raw))
    assert (read, new) == (session, False)
    assert read.actor == actor
    forged = SessionCookies(key="x" * 32, secure=True, lifetime=timedelta(hours=1))
    other, new = forged.read(request_with(raw))
    assert new and not other.signed_in


def test_a_form_is_accepted_only_with_the_sessions_own_csrf_token() -> None:
    session = Session(csrf="abc123")
    assert session.accepts("abc123")
    assert not session.accepts("abc124")
    assert not session.accepts(None)


def test_every_text_and_status_reads_in_both_languages() -> None:
    assert TEXTS["id"].keys() == TEXTS["en"].keys()
    # The SIPP editor labels each column of the import file.
    assert set(COLUMNS) <= TEXTS["id"].keys()
    assert {f"role_{role.value}" for role in Role if role is not Role.SYSTEM} <= TEXTS["id"].keys()
    assert STATUS["id"].keys() == STATUS["en"].keys()


def test_production_refuses_the_development_sign_in_and_a_borrowed_session_key() -> None:
    production: dict[str, Any] = {
        "environment": "production",
        "auth_jwt_public_key": "-----BEGIN PUBLIC KEY-----x",
        "pii_keys": ["a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="],
        "portal_session_secret": "s" * 32,
    }
    with pytest.raises(ValueError, match="development sign-in"):
        Settings(**production)
    with pytest.raises(ValueError, match="PORTAL_SESSION_SECRET"):
        Settings(**production | {"portal_dev_sign_in": False, "portal_session_secret": ""})
    assert not Settings(**production | {"portal_dev_sign_in": False}).portal_dev_sign_in
