"""One report walked through every timed step of its life, on the five service processes, by
shifting the SLA service's clock (``PUT /v1/admin/clock``, served outside production): the
warning before the first follow-up is due, the breach that escalates it to the national admin,
the escalation a level higher, and, once the agency has answered, the auto-close when the
complainant's reply window runs out.

A platform of its own: shifting the clock fires every clock it holds."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from devstack.platform import Platform
from schemas.complaint import Role
from schemas.events import SlaBreached, SlaEscalated, SlaWarningIssued, SlaWindowExpired
from schemas.topics import COMPLAINT_EVENTS
from tests.support import P, bearer, eventually, payloads, platform_on, read_topic

ADMIN = bearer(Role.NATIONAL_ADMIN, "e2e-admin")
PUPR = bearer(Role.AGENCY_ADMIN, "e2e-pupr", agency="dinas-pupr-kota-ambon")
COMPLAINT = {
    "title": "Jalan berlubang di depan sekolah",
    "body": "Lubang besar di Jalan Diponegoro membahayakan anak-anak sekolah.",
    "category": "infrastruktur.jalan",
    "region_code": "81.71",
    "report_type": "pengaduan",
    "reporter": {"name": "Siti Rahma", "email": "siti@example.id"},
}


@pytest.fixture(scope="module")
def platform(
    bootstrap: str, mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    with platform_on(
        bootstrap,
        mongo_url,
        tmp_path_factory.mktemp("time-travel-logs"),
        env={"SLA_ESCALATION_CHAIN": '["agency_admin", "national_admin", "ombudsman"]'},
    ) as running:
        yield running


async def test_one_report_through_warning_breach_escalation_and_auto_close(
    platform: Platform, bootstrap: str
) -> None:
    async with (
        httpx.AsyncClient(base_url=platform.url("intake"), timeout=10) as intake,
        httpx.AsyncClient(base_url=platform.url("sla"), timeout=10) as sla,
    ):
        posted = await intake.post("/v1/complaints", json=COMPLAINT)
        assert posted.status_code == 201, posted.text
        cid = posted.json()["tracking_id"]

        async def clock(stage: str, field: str) -> datetime:
            """When the stage's clock next does something (its warning, its deadline, ...)."""

            async def known() -> str | None:
                response = await sla.get(f"/v1/clocks/{cid}", headers=ADMIN)
                found = {c["stage"]: c for c in response.json()} if response.is_success else {}
                moment: str | None = found.get(stage, {}).get(field)
                return moment

            return datetime.fromisoformat(await eventually(known, timeout=60))

        async def shift_to(moment: datetime) -> None:
            offset = (moment - datetime.now(UTC)).total_seconds() + 1
            shifted = await sla.put(
                "/v1/admin/clock", json={"offset_seconds": offset}, headers=ADMIN
            )
            assert shifted.status_code == 200, shifted.text

        async def published(kind: type[P], stage: str) -> list[P]:
            seen = await read_topic(
                bootstrap,
                COMPLAINT_EVENTS.name,
                until=lambda rs: any(_stage(e) == stage for e in payloads(rs, cid, kind)),
                timeout=60,
            )
            # The sweeper publishes a firing before it moves the clock, so a sweep repeated in
            # between publishes the same event (same ID) again; consumers drop the copy, and so
            # does this count. Two firings with different IDs would still count twice.
            distinct = list({r.headers.get("ce_id"): r for r in seen}.values())
            found = [e for e in payloads(distinct, cid, kind) if _stage(e) == stage]
            assert found, f"no {kind.__name__} for {stage}"
            return found

        async def status(wanted: str) -> dict[str, Any]:
            async def reached() -> dict[str, Any] | None:
                body: dict[str, Any] = (
                    await intake.get(f"/v1/complaints/{cid}", headers=ADMIN)
                ).json()
                return body if body["status"] == wanted else None

            found: dict[str, Any] = await eventually(reached, timeout=60)
            return found

        # Forwarded to Dinas PUPR Kota Ambon: the first follow-up is due in five working days.
        await shift_to(await clock("first_follow_up", "warn_at"))
        [warning] = await published(SlaWarningIssued, "first_follow_up")
        assert warning.holder == "agency"

        due = await clock("first_follow_up", "due_at")
        await shift_to(due)
        [breach] = await published(SlaBreached, "first_follow_up")
        assert (breach.escalate_to, breach.level, breach.due_at) == ("national_admin", 1, due)
        escalated = await status("escalated")
        assert escalated["history"][-1]["actor_role"] == "system"

        await shift_to(await clock("first_follow_up", "next_fire_at"))
        [climbed] = await published(SlaEscalated, "first_follow_up")
        assert (climbed.escalate_to, climbed.level) == ("ombudsman", 2)

        # The agency answers at last; the complainant does not reply within the window.
        answered = await intake.post(
            f"/v1/complaints/{cid}/actions",
            json={"action": "answer", "text": "Lubang sudah ditambal"},
            headers=PUPR,
        )
        assert answered.status_code == 200, answered.text
        await shift_to(await clock("reply_window", "due_at"))
        await published(SlaWindowExpired, "reply_window")
        closed = await status("closed")
        assert (closed["history"][-1]["action"], closed["history"][-1]["actor_role"]) == (
            "auto_close",
            "system",
        )
        clocks = {
            c["stage"]: c["state"]
            for c in (await sla.get(f"/v1/clocks/{cid}", headers=ADMIN)).json()
        }
        assert clocks["completion"] == "met"  # the answer met it; closing later changes nothing

        # The clock goes back to real time for whatever comes next.
        await shift_to(datetime.now(UTC))
        assert abs((await sla.get("/v1/admin/clock", headers=ADMIN)).json()["offset_seconds"]) < 5


def _stage(event: Any) -> str:
    value: str = event.stage.value
    return value
