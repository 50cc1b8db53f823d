"""Retention (UU 27/2022 Pasal 43-44): contact details destroyed a set time after a report ends,
rehearsed on a shifted clock against the real broker and database."""

import json
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from schemas.complaint import Role
from schemas.events import ComplaintReporterErased
from schemas.topics import COMPLAINT_EVENTS
from services.intake.app import create_app
from services.intake.config import IntakeSettings
from services.intake.reporter_keys import REPORTER_KEYS
from services.intake.store import COMPLAINTS
from tests.conftest import service_env
from tests.support import bearer, read_topic, running

DAY = 86_400
RETENTION_DAYS = 730
REPORT = {
    "title": "Pungli di loket KTP",
    "body": "Petugas meminta uang tambahan untuk mempercepat KTP.",
    "category": "kependudukan.ktp",
    "region_code": "81.71",
    "report_type": "pengaduan",
}


def settings(env: dict[str, object], *, days_ahead: int = 0) -> IntakeSettings:
    return IntakeSettings(
        **env,  # type: ignore[arg-type]
        intake_contact_retention_days=RETENTION_DAYS,
        clock_offset_seconds=days_ahead * DAY,
    )


async def test_contact_details_go_once_retention_after_the_end_is_over_and_not_before(
    bootstrap: str, mongo_url: str, db_suffix: str, mongo: AsyncMongoClient[Any]
) -> None:
    env = service_env(bootstrap, mongo_url, f"it_retention_{db_suffix}")
    db = mongo[f"it_retention_{db_suffix}"]
    today = settings(env)
    admin = bearer(Role.NATIONAL_ADMIN, "admin", settings=today)
    citizen = bearer(Role.CITIZEN, "warga-retensi", settings=today)
    contact = {"name": "Dewi Lestari", "email": "dewi.retensi@example.id"}

    async def file(client: httpx.AsyncClient) -> str:
        posted = await client.post(
            "/v1/complaints", json={**REPORT, "reporter": contact}, headers=citizen
        )
        assert posted.status_code == 201, posted.text
        assert posted.headers["link"] == '</v1/privacy-notice>; rel="privacy-policy"'
        tracking_id: str = posted.json()["tracking_id"]
        return tracking_id

    async with running(create_app(today)) as client:
        notice = await client.get("/v1/privacy-notice")  # what the reporter is told first
        assert notice.status_code == 200
        for language in ("id", "en"):
            assert f"{RETENTION_DAYS} " in notice.json()[language]["retention"]
        ended, still_open = await file(client), await file(client)
        closed = await client.post(
            f"/v1/complaints/{ended}/actions",
            json={"action": "close", "reason": "Ditangani di luar LAPOR!"},
            headers=admin,
        )
        assert closed.json()["status"] == "closed", closed.text

    async def sweep_at(days_ahead: int) -> None:
        app = create_app(settings(env, days_ahead=days_ahead))
        async with running(app):
            await app.state.retention.sweep_once()

    await sweep_at(RETENTION_DAYS - 1)  # a day short: nothing goes
    kept = await db[COMPLAINTS].find_one({"_id": ended})
    assert kept is not None and kept["reporter"] is not None
    assert await db[REPORTER_KEYS].count_documents({"_id": ended}) == 1

    await sweep_at(RETENTION_DAYS + 1)
    gone = await db[COMPLAINTS].find_one({"_id": ended})
    assert gone is not None
    assert (gone["reporter"], gone["anonymous"], gone["status"]) == (None, True, "closed")
    assert await db[REPORTER_KEYS].count_documents({"_id": ended}) == 0
    untouched = await db[COMPLAINTS].find_one({"_id": still_open})
    assert untouched is not None and untouched["reporter"] is not None  # open: still needed
    assert await db[REPORTER_KEYS].count_documents({"_id": still_open}) == 1

    def erasure(r: Any) -> bool:
        return bool(r.key == ended.encode() and r.type == ComplaintReporterErased.event_type())

    seen = await read_topic(
        bootstrap, COMPLAINT_EVENTS.name, until=lambda rs: any(erasure(r) for r in rs)
    )
    [told] = [json.loads(r.value or b"") for r in seen if erasure(r)]
    assert told["requested_by"] == "retention"
