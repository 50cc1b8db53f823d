"""SLA on the real broker and database: clocks start on forwarding, by type and class, in the
agency's zone; a follow-up meets the first one; closing stops them."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from schemas.complaint import (
    ComplaintStatus,
    LifecycleAction,
    ReportType,
    Role,
    ServiceExperience,
)
from schemas.events import SlaDeadlineSet, StandardChecked, StandardPublished
from schemas.topics import COMPLAINT_EVENTS, STANDARD_EVENTS
from services.sla.app import create_app
from services.sla.config import SlaSettings
from services.sla.store import STANDARDS
from tests import factories
from tests.conftest import service_env
from tests.support import (
    Seen,
    announce_agencies,
    as_event,
    bearer,
    eventually,
    key_on_same_partition,
    publish,
    read_topic,
    running,
)

WIT_END_OF_DAY = (14, 59, 59)  # 23:59:59 WIT in UTC
ADMIN = bearer(Role.NATIONAL_ADMIN, "admin")


@pytest.fixture(scope="module")
async def client(
    bootstrap: str, mongo_url: str, db_suffix: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = SlaSettings(
        **service_env(bootstrap, mongo_url, f"it_sla_{db_suffix}"),  # type: ignore[arg-type]
        sla_extra_holidays=["2026-11-26"],
        outbox_poll_seconds=0.2,
        sla_compliance_refresh_seconds=0.5,
    )
    async with running(create_app(settings)) as client:
        yield client


def deadlines(cid: str, records: list[Seen]) -> dict[str, SlaDeadlineSet]:
    found = {}
    for r in records:
        if r.key == cid.encode() and r.type == SlaDeadlineSet.event_type():
            deadline = SlaDeadlineSet.model_validate_json(r.value or b"")
            found[deadline.stage.value] = deadline
    return found


@pytest.fixture
async def directory(
    client: httpx.AsyncClient, bootstrap: str, mongo_url: str, db_suffix: str
) -> None:
    """Routing's directory has been announced (the Ambon city health office is in WIT)."""
    await announce_agencies(bootstrap, mongo_url, f"it_sla_{db_suffix}")


async def forwarded(
    bootstrap: str, cid: str, *, region_code: str = "81.71", **changes: Any
) -> dict[str, SlaDeadlineSet]:
    events = [as_event(factories.submitted(cid, region_code=region_code))]
    forward = as_event(factories.status_changed(cid, **changes))
    # A redelivery starts nothing twice: once a later complaint on the same partition has its
    # clocks, both copies were handled.
    marker = key_on_same_partition(cid, COMPLAINT_EVENTS.partitions)
    events += [forward, forward, as_event(factories.status_changed(marker))]
    await publish(bootstrap, COMPLAINT_EVENTS.name, events)
    seen = await read_topic(
        bootstrap, COMPLAINT_EVENTS.name, until=lambda rs: len(deadlines(marker, rs)) >= 2
    )
    copies = [
        SlaDeadlineSet.model_validate_json(r.value or b"")
        for r in seen
        if r.key == cid.encode() and r.type == SlaDeadlineSet.event_type()
    ]
    # Verification and ceiling from submission, then one of each agency clock (not two).
    assert sorted(c.stage.value for c in copies) == [
        "ceiling",
        "completion",
        "first_follow_up",
        "verification",
    ]
    return deadlines(cid, seen)


async def test_forwarding_starts_first_follow_up_and_completion_in_the_agency_zone(
    client: httpx.AsyncClient, bootstrap: str, directory: None
) -> None:
    cid = factories.new_tracking_id()
    # Filed in Jakarta (WIB), forwarded on Tuesday 24 Nov to an Ambon office, whose working
    # days end in WIT as routing's directory says; 26 Nov is a configured holiday.
    found = await forwarded(bootstrap, cid, region_code="31.71")
    first, completion = found["first_follow_up"], found["completion"]
    assert first.due_at == datetime(2026, 12, 2, *WIT_END_OF_DAY, tzinfo=UTC)
    assert (completion.working_days, completion.due_at) == (
        14,
        datetime(2026, 12, 15, *WIT_END_OF_DAY, tzinfo=UTC),
    )
    assert {first.time_zone, completion.time_zone} == {"Asia/Jayapura"}
    # The national desk's clocks run where the complaint was filed.
    assert {found["verification"].time_zone, found["ceiling"].time_zone} == {"Asia/Jakarta"}

    assert (await client.get(f"/v1/clocks/{cid}")).status_code == 401
    citizen = bearer(Role.CITIZEN, "c")
    assert (await client.get(f"/v1/clocks/{cid}", headers=citizen)).status_code == 403
    other_agency = bearer(Role.AGENCY_ADMIN, "x", agency="pemkot-padang")
    assert (await client.get(f"/v1/clocks/{cid}", headers=other_agency)).status_code == 404
    own_agency = bearer(Role.AGENCY_ADMIN, "y", agency="dinkes-kota-ambon")
    clocks = (await client.get(f"/v1/clocks/{cid}", headers=own_agency)).json()
    assert {(c["stage"], c["state"]) for c in clocks} == {
        ("first_follow_up", "running"),
        ("completion", "running"),
    }
    every = (await client.get(f"/v1/clocks/{cid}", headers=ADMIN)).json()
    assert ("verification", "met") in {(c["stage"], c["state"]) for c in every}


@pytest.mark.parametrize(
    ("report_type", "needs_examination", "days"),
    [
        (ReportType.ASPIRASI, None, 5),
        (ReportType.PERMINTAAN_INFORMASI, None, 5),
        (ReportType.PENGADUAN, False, 14),
        (ReportType.PENGADUAN, True, 60),
    ],
)
async def test_completion_limit_follows_type_and_examination_class(
    client: httpx.AsyncClient,
    bootstrap: str,
    report_type: ReportType,
    needs_examination: bool | None,
    days: int,
) -> None:
    cid = factories.new_tracking_id()
    found = await forwarded(
        bootstrap,
        cid,
        # An agency the directory does not describe: the complaint's province decides the zone.
        agency_id="dinas-tanpa-direktori",
        actor_role="national_admin",
        report_type=report_type,
        needs_examination=needs_examination,
    )
    assert found["completion"].working_days == days
    assert found["completion"].time_zone == "Asia/Jayapura"


async def test_a_follow_up_meets_the_first_clock_and_closing_stops_the_rest(
    client: httpx.AsyncClient, bootstrap: str, directory: None
) -> None:
    cid = factories.new_tracking_id()
    await forwarded(bootstrap, cid)
    to_unit = factories.status_changed(
        cid,
        action=LifecycleAction.FORWARD_TO_UNIT,
        from_status=ComplaintStatus.FORWARDED_TO_AGENCY,
        to_status=ComplaintStatus.FORWARDED_TO_UNIT,
        actor_role="agency_admin",
        unit_id="puskesmas-nusaniwe",
    )
    await publish(bootstrap, COMPLAINT_EVENTS.name, [as_event(to_unit)])
    follow_up = factories.status_changed(
        cid,
        action=LifecycleAction.FOLLOW_UP,
        from_status=ComplaintStatus.FORWARDED_TO_AGENCY,
        to_status=ComplaintStatus.IN_FOLLOW_UP,
        actor_role="agency_admin",
        text="Dicek",
    )
    await publish(bootstrap, COMPLAINT_EVENTS.name, [as_event(follow_up)])

    async def states_once(stage: str, state: str) -> dict[str, str]:
        async def reached() -> dict[str, str] | None:
            clocks = (await client.get(f"/v1/clocks/{cid}", headers=ADMIN)).json()
            found = {c["stage"]: c["state"] for c in clocks}
            return found if found.get(stage) == state else None

        result: dict[str, str] = await eventually(reached)
        return result

    assert await states_once("first_follow_up", "met") == {
        "verification": "met",
        "first_follow_up": "met",
        "completion": "running",
        "ceiling": "running",
    }

    closed = factories.status_changed(
        cid,
        action=LifecycleAction.CLOSE,
        from_status=ComplaintStatus.ANSWERED,
        to_status=ComplaintStatus.CLOSED,
        actor_role="agency_admin",
        reason="Selesai",
    )
    await publish(bootstrap, COMPLAINT_EVENTS.name, [as_event(closed)])

    assert await states_once("completion", "stopped") == {
        "verification": "met",
        "first_follow_up": "met",
        "completion": "stopped",
        "ceiling": "stopped",
    }
    own = bearer(Role.AGENCY_ADMIN, "y", agency="dinkes-kota-ambon")
    [figures] = (await client.get("/v1/compliance", headers=own)).json()
    assert figures["agency_id"] == "dinkes-kota-ambon"
    assert figures["closed"] >= 1
    assert figures["median_first_follow_up_hours"] is not None
    assert (
        await client.get("/v1/compliance", headers=bearer(Role.CITIZEN, "c"))
    ).status_code == 403

    async def exported() -> bool:
        # By the replica holding the figures' lease, at its next refresh.
        metrics = (await client.get("/metrics")).text
        return 'lapor_sla_open_overdue_complaints{agency="dinkes-kota-ambon"}' in metrics

    await eventually(exported, timeout=10)


async def test_days_an_admin_declares_move_the_deadlines_of_that_region(
    client: httpx.AsyncClient, bootstrap: str, directory: None
) -> None:
    day = {"date": "2026-11-25", "kind": "holiday", "region_prefix": "81.71", "name": "HUT Kota"}
    assert (
        await client.put("/v1/calendar/days", json=day, headers=bearer(Role.CITIZEN, "c"))
    ).status_code == 403
    bad = await client.put(
        "/v1/calendar/days", json={**day, "region_prefix": "81-71"}, headers=ADMIN
    )
    assert bad.status_code == 422
    assert (await client.put("/v1/calendar/days", json=day, headers=ADMIN)).status_code == 200
    try:
        assert day in (await client.get("/v1/calendar/days")).json()
        found = await forwarded(bootstrap, factories.new_tracking_id())
        # 25 Nov (Ambon's holiday) and 26 Nov (configured) are off: five working days end 3 Dec.
        assert found["first_follow_up"].due_at == datetime(2026, 12, 3, *WIT_END_OF_DAY, tzinfo=UTC)
    finally:
        withdrawn = await client.delete(
            "/v1/calendar/days/2026-11-25", params={"region_prefix": "81.71"}, headers=ADMIN
        )
        assert withdrawn.status_code == 200
    again = await client.delete(
        "/v1/calendar/days/2026-11-25", params={"region_prefix": "81.71"}, headers=ADMIN
    )
    assert (again.status_code, again.json()["code"]) == (404, "day_not_declared")


async def test_a_named_standard_is_attached_and_its_broken_promises_found(
    client: httpx.AsyncClient, bootstrap: str, mongo: AsyncMongoClient[Any], db_suffix: str
) -> None:
    standard_id = "disdukcapil-kota-ambon.penerbitan-ktp-el"
    published = StandardPublished(
        standard_id=standard_id,
        agency_id="disdukcapil-kota-ambon",
        service_name="Penerbitan KTP-el",
        version=3,
        completion_time_days=1,
        fee_idr=0,
        published_at=factories.NOW,
    )
    await publish(bootstrap, STANDARD_EVENTS.name, [as_event(published)])
    slow, fine = factories.new_tracking_id(), factories.new_tracking_id()

    async def check(cid: str, experience: ServiceExperience) -> StandardChecked:
        submitted = factories.submitted(cid, service_standard_id=standard_id, experience=experience)
        await publish(bootstrap, COMPLAINT_EVENTS.name, [as_event(submitted)])
        seen = await read_topic(
            bootstrap,
            COMPLAINT_EVENTS.name,
            until=lambda rs: any(
                r.key == cid.encode() and r.type == StandardChecked.event_type() for r in rs
            ),
        )
        [checked] = [
            StandardChecked.model_validate_json(r.value or b"")
            for r in seen
            if r.key == cid.encode() and r.type == StandardChecked.event_type()
        ]
        return checked

    # The standards topic and the complaints topic are read independently: wait for the first.
    standards = mongo[f"it_sla_{db_suffix}"][STANDARDS]

    async def known() -> bool:
        return await standards.count_documents({"_id": standard_id, "version": 3}) == 1

    await eventually(known, timeout=30)
    broken = await check(slow, ServiceExperience(waited_days=30, paid_idr=50_000))
    assert (broken.standard_version, broken.promised_days, broken.promised_fee_idr) == (3, 1, 0)
    assert broken.violations == ["completion_time", "fee"]
    kept = await check(fine, ServiceExperience(waited_days=1, paid_idr=0))
    assert kept.violations == []


async def test_deferral_pauses_verification_and_completion_resumes_it(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    cid = factories.new_tracking_id()
    deferred_at = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # Wednesday, noon WIT
    completed_at = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # Tuesday
    defer = factories.status_changed(
        cid,
        action=LifecycleAction.DEFER,
        from_status=ComplaintStatus.SUBMITTED,
        to_status=ComplaintStatus.DEFERRED,
        actor_role="national_admin",
        agency_id=None,
        reason="Lokasi kurang jelas",
        changed_at=deferred_at,
    )
    complete = factories.status_changed(
        cid,
        action=LifecycleAction.COMPLETE,
        from_status=ComplaintStatus.DEFERRED,
        to_status=ComplaintStatus.SUBMITTED,
        actor_role="citizen",
        agency_id=None,
        text="Di depan Pasar Mardika",
        changed_at=completed_at,
    )
    await publish(
        bootstrap,
        COMPLAINT_EVENTS.name,
        [as_event(factories.submitted(cid)), as_event(defer), as_event(complete)],
    )

    def stage_deadlines(records: list[Seen], stage: str) -> list[SlaDeadlineSet]:
        return [
            SlaDeadlineSet.model_validate_json(r.value or b"")
            for r in records
            if r.key == cid.encode()
            and r.type == SlaDeadlineSet.event_type()
            and f'"stage":"{stage}"'.encode() in (r.value or b"")
        ]

    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: len(stage_deadlines(rs, "verification")) >= 2,
    )
    first, resumed = stage_deadlines(seen, "verification")
    # Three working days from Tuesday 24 (26 Nov is a configured holiday): due Monday 30.
    assert first.due_at == datetime(2026, 11, 30, *WIT_END_OF_DAY, tzinfo=UTC)
    # Deferred on Wednesday 25 with two working days left (27, 30); resumed on Tuesday 1 Dec,
    # those two days run to Thursday 3 December.
    assert (resumed.working_days, resumed.due_at) == (
        2,
        datetime(2026, 12, 3, *WIT_END_OF_DAY, tzinfo=UTC),
    )
    ceilings = stage_deadlines(seen, "ceiling")
    # 60 calendar days from the complete file, and said so.
    assert ceilings[-1].due_at == datetime(2027, 1, 30, *WIT_END_OF_DAY, tzinfo=UTC)
    assert (ceilings[-1].calendar_days, ceilings[-1].working_days) == (60, None)
    assert (resumed.calendar_days, first.calendar_days) == (None, None)
