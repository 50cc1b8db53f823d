"""The timer sweep on the real broker and database, with a controllable clock: warnings,
breaches, escalation, auto-close, and no lost or doubled firing across sweepers and restarts."""

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from kernel.lease import Lease
from schemas.complaint import ComplaintStatus, LifecycleAction, ReportType, Role
from schemas.events import (
    SlaBreached,
    SlaDeadlineSet,
    SlaEscalated,
    SlaWarningIssued,
    SlaWindowExpired,
)
from schemas.topics import COMPLAINT_EVENTS
from services.sla.app import create_app
from services.sla.config import SlaSettings
from services.sla.service import SlaService
from services.sla.store import CLOCKS
from services.sla.sweeper import Sweeper
from tests import factories
from tests.conftest import service_env
from tests.support import (
    P,
    Seen,
    as_event,
    bearer,
    eventually,
    payloads,
    publish,
    read_topic,
    running,
)

FIRST_DUE = datetime(2026, 12, 1, 14, 59, 59, tzinfo=UTC)  # 5 working days after NOW, WIT
FIRST_WARN = datetime(2026, 11, 30, 14, 59, 59, tzinfo=UTC)


@pytest.fixture(scope="module")
def settings(bootstrap: str, mongo_url: str, db_suffix: str) -> SlaSettings:
    return SlaSettings(
        **service_env(bootstrap, mongo_url, f"it_timers_{db_suffix}"),  # type: ignore[arg-type]
        sla_sweep_enabled=False,  # the tests sweep, on their own clock
        sla_escalation_chain=["agency_admin", "national_admin", "ombudsman"],
        outbox_poll_seconds=0.2,
    )


@pytest.fixture(scope="module")
async def app(settings: SlaSettings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with running(application):
        yield application


def first_follow_up(records: list[Seen], cid: str, kind: type[P]) -> list[P]:
    return [
        e for e in payloads(records, cid, kind) if getattr(e, "stage", None) == "first_follow_up"
    ]


async def forwarded(
    bootstrap: str, mongo: AsyncMongoClient[Any], settings: SlaSettings, **changes: Any
) -> str:
    cid = factories.new_tracking_id()
    await publish(
        bootstrap,
        COMPLAINT_EVENTS.name,
        [
            as_event(factories.submitted(cid)),
            as_event(factories.routed(cid, time_zone="Asia/Jayapura")),
            as_event(factories.status_changed(cid, **changes)),
        ],
    )
    clocks = mongo[settings.database_name][CLOCKS]

    async def started() -> bool:
        # first follow-up, completion and the overall ceiling
        return await clocks.count_documents({"complaint_id": cid, "state": "running"}) == 3

    await eventually(started, timeout=30)
    return cid


def sweeper(
    app: FastAPI,
    mongo: AsyncMongoClient[Any],
    settings: SlaSettings,
    now: list[datetime],
    lease: str | None = None,
) -> Sweeper:
    """A sweeper on a controllable clock; its own lease unless a shared one is named."""
    service: SlaService = app.state.sla_service
    name = lease or f"sweep-{uuid.uuid4().hex}"
    return Sweeper(
        service=service,
        lease=Lease(mongo[settings.database_name], name, seconds=30),
        seconds=60,
        clock=lambda: now[0],
    )


async def test_warning_then_breach_then_the_chain(
    app: FastAPI, bootstrap: str, mongo: AsyncMongoClient[Any], settings: SlaSettings
) -> None:
    cid = await forwarded(bootstrap, mongo, settings)
    now = [FIRST_WARN - timedelta(seconds=1)]
    sweep = sweeper(app, mongo, settings, now)
    assert await sweep.sweep_once() == 0

    now[0] = FIRST_WARN
    assert await sweep.sweep_once() >= 1
    assert await sweep.sweep_once() == 0  # the same moment fires nothing twice
    now[0] = FIRST_DUE
    await sweep.sweep_once()
    now[0] = FIRST_DUE + timedelta(days=3)  # two working days later: Thursday 3 December
    await sweep.sweep_once()
    now[0] = FIRST_DUE + timedelta(days=10)
    await sweep.sweep_once()

    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: len(payloads(rs, cid, SlaEscalated)) >= 1,
    )
    warnings = [
        w for w in payloads(seen, cid, SlaWarningIssued) if w.stage.value == "first_follow_up"
    ]
    assert [w.issued_at for w in warnings] == [FIRST_WARN]
    [breach] = first_follow_up(seen, cid, SlaBreached)
    # Held by the agency: the breach goes to the national admin, then to the Ombudsman.
    assert (breach.escalate_to, breach.level, breach.breached_at) == (
        "national_admin",
        1,
        FIRST_DUE,
    )
    escalations = [
        e for e in payloads(seen, cid, SlaEscalated) if e.stage.value == "first_follow_up"
    ]
    assert [(e.escalate_to, e.level) for e in escalations] == [("ombudsman", 2)]


async def test_two_sweepers_at_once_fire_each_clock_once_under_one_event_id(
    app: FastAPI, bootstrap: str, mongo: AsyncMongoClient[Any], settings: SlaSettings
) -> None:
    cids = [await forwarded(bootstrap, mongo, settings) for _ in range(3)]
    # Bypass the lease on purpose: two replicas sweeping the same moment at the same time.
    first: SlaService = app.state.sla_service
    replica = create_app(settings)
    async with running(replica):
        second: SlaService = replica.state.sla_service
        results = await asyncio.gather(first.fire_due(FIRST_WARN), second.fire_due(FIRST_WARN))
    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: all(payloads(rs, cid, SlaWarningIssued) for cid in cids),
    )
    warning = SlaWarningIssued.event_type()
    for cid in cids:
        # Both may publish it (each publishes before it moves the clock), but as one event:
        # consumers drop the second copy by its ID.
        ids = {r.headers["ce_id"] for r in seen if r.key == cid.encode() and r.type == warning}
        assert len(ids) == 1, cid
    assert sum(results) >= 3
    # The clocks moved on once: a third sweep of the same moment fires nothing.
    assert await first.fire_due(FIRST_WARN) == 0


async def test_a_sweep_that_dies_between_publishing_and_moving_publishes_the_same_events(
    app: FastAPI, bootstrap: str, mongo: AsyncMongoClient[Any], settings: SlaSettings
) -> None:
    cid = await forwarded(bootstrap, mongo, settings)
    service: SlaService = app.state.sla_service
    store = service._store
    moving = store.advance_many

    async def dies(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("killed before the clocks moved")

    store.advance_many = dies  # type: ignore[method-assign]
    try:
        with pytest.raises(RuntimeError):
            await service.fire_due(FIRST_WARN)
    finally:
        store.advance_many = moving  # type: ignore[method-assign]
    assert await service.fire_due(FIRST_WARN) >= 1  # the next sweep fires them again
    warning = SlaWarningIssued.event_type()

    def copies(rs: list[Seen]) -> Counter[str]:
        return Counter(
            r.headers["ce_id"] for r in rs if r.key == cid.encode() and r.type == warning
        )

    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: bool(copies(rs)) and all(n >= 2 for n in copies(rs).values()),
    )
    # Each warning was published twice, under one ID both times.
    counted = copies(seen)
    assert counted and set(counted.values()) == {2}


async def test_a_restarted_service_carries_on_where_the_first_stopped(
    bootstrap: str, mongo: AsyncMongoClient[Any], settings: SlaSettings, app: FastAPI
) -> None:
    cid = await forwarded(bootstrap, mongo, settings)
    first = sweeper(app, mongo, settings, [FIRST_WARN], lease="handover")
    assert await first.sweep_once() >= 1
    # While the first holds the lease, a second instance stays idle ...
    replacement = create_app(settings)
    async with running(replacement):
        handover = sweeper(replacement, mongo, settings, [FIRST_DUE], lease="handover")
        assert await handover.sweep_once() == 0
        # ... and takes over where it left off once the first stops.
        await first.stop()
        assert await handover.sweep_once() >= 1
    seen = await read_topic(
        bootstrap, COMPLAINT_EVENTS.name, until=lambda rs: bool(payloads(rs, cid, SlaBreached))
    )
    assert len(first_follow_up(seen, cid, SlaWarningIssued)) == 1
    assert len(first_follow_up(seen, cid, SlaBreached)) == 1


async def test_an_unanswered_reply_window_expires(
    app: FastAPI, bootstrap: str, mongo: AsyncMongoClient[Any], settings: SlaSettings
) -> None:
    cid = await forwarded(bootstrap, mongo, settings)
    answered_at = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    answer = factories.status_changed(
        cid,
        action=LifecycleAction.ANSWER,
        from_status=ComplaintStatus.FORWARDED_TO_AGENCY,
        to_status=ComplaintStatus.ANSWERED,
        actor_role="agency_admin",
        text="Sudah diperbaiki",
        changed_at=answered_at,
    )
    await publish(bootstrap, COMPLAINT_EVENTS.name, [as_event(answer)])
    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: any(
            d.stage.value == "reply_window" for d in payloads(rs, cid, SlaDeadlineSet)
        ),
    )
    [window] = [d for d in payloads(seen, cid, SlaDeadlineSet) if d.stage.value == "reply_window"]
    assert window.working_days == 10
    await sweeper(app, mongo, settings, [window.due_at]).sweep_once()
    seen = await read_topic(
        bootstrap, COMPLAINT_EVENTS.name, until=lambda rs: bool(payloads(rs, cid, SlaWindowExpired))
    )
    assert [e.stage.value for e in payloads(seen, cid, SlaWindowExpired)] == ["reply_window"]
    # The first follow-up was met by the answer: it never breaches.
    await sweeper(app, mongo, settings, [FIRST_DUE + timedelta(days=1)]).sweep_once()
    await asyncio.sleep(1)
    later = await read_topic(bootstrap, COMPLAINT_EVENTS.name, until=lambda rs: False, timeout=2)
    assert not first_follow_up(later, cid, SlaBreached)


def lifecycle(cid: str, action: LifecycleAction, agency: str, **fields: Any) -> Any:
    """A status change of one complaint, made by whoever may make it."""
    return as_event(factories.status_changed(cid, action=action, agency_id=agency, **fields))


async def test_an_answer_meets_the_completion_clock_and_a_reply_resumes_it(
    app: FastAPI, bootstrap: str, mongo: AsyncMongoClient[Any], settings: SlaSettings
) -> None:
    agency = f"dinas-{uuid.uuid4().hex[:8]}"  # figures of this test's reports alone
    cid = await forwarded(
        bootstrap, mongo, settings, agency_id=agency, report_type=ReportType.ASPIRASI
    )
    answered_at = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # the day it was forwarded
    await publish(
        bootstrap,
        COMPLAINT_EVENTS.name,
        [
            lifecycle(
                cid,
                LifecycleAction.ANSWER,
                agency,
                from_status=ComplaintStatus.FORWARDED_TO_AGENCY,
                to_status=ComplaintStatus.ANSWERED,
                actor_role="agency_admin",
                text="Sudah kami tindak lanjuti",
                changed_at=answered_at,
            )
        ],
    )
    clocks = mongo[settings.database_name][CLOCKS]

    async def completion() -> dict[str, Any] | None:
        found: dict[str, Any] | None = await clocks.find_one({"_id": f"{cid}:completion"})
        return found

    async def met() -> dict[str, Any] | None:
        clock = await completion()
        return clock if clock and clock["state"] == "met" else None

    answered = await eventually(met, timeout=30)
    # Answered on Tuesday 24 with all five working days (25, 26, 27, 30 Nov, 1 Dec) unused.
    assert answered["remaining_working_days"] == 5
    # Long past the aspirasi's due date nothing fires about its completion.
    late = answered["due_at"] + timedelta(days=10)
    await sweeper(app, mongo, settings, [late]).sweep_once()
    [figures] = await agency_figures(app, agency)
    assert (figures["closed"], figures["closed_on_time"], figures["on_time_rate"]) == (1, 1, 1.0)

    # The complainant replies on Wednesday 2 December: the report is open again, and the
    # agency gets back the five working days it had left, from then (3, 4, 7, 8, 9 Dec).
    replied_at = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    await publish(
        bootstrap,
        COMPLAINT_EVENTS.name,
        [
            lifecycle(
                cid,
                LifecycleAction.REPLY,
                agency,
                from_status=ComplaintStatus.ANSWERED,
                to_status=ComplaintStatus.REOPENED,
                actor_role="citizen",
                text="Belum beres",
                changed_at=replied_at,
            )
        ],
    )
    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: len(completion_deadlines(rs, cid)) >= 2,
    )
    resumed = completion_deadlines(seen, cid)[-1]
    assert (resumed.working_days, resumed.started_at) == (5, replied_at)
    assert resumed.due_at == datetime(2026, 12, 9, 14, 59, 59, tzinfo=UTC)
    running_again = await completion()
    assert running_again is not None and running_again["state"] == "running"
    await sweeper(app, mongo, settings, [resumed.due_at]).sweep_once()
    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: any(b.stage.value == "completion" for b in payloads(rs, cid, SlaBreached)),
    )
    breaches = [b for b in payloads(seen, cid, SlaBreached) if b.stage.value == "completion"]
    assert [b.due_at for b in breaches] == [resumed.due_at]


async def test_a_merged_report_leaves_the_agency_figures_alone(
    app: FastAPI, bootstrap: str, mongo: AsyncMongoClient[Any], settings: SlaSettings
) -> None:
    agency = f"dinas-{uuid.uuid4().hex[:8]}"
    cid = await forwarded(bootstrap, mongo, settings, agency_id=agency)
    await publish(
        bootstrap,
        COMPLAINT_EVENTS.name,
        [
            lifecycle(
                cid,
                LifecycleAction.MERGE,
                agency,
                from_status=ComplaintStatus.FORWARDED_TO_AGENCY,
                to_status=ComplaintStatus.MERGED,
                actor_role="national_admin",
                reason="merged into LPR-00000-00000",
            )
        ],
    )
    clocks = mongo[settings.database_name][CLOCKS]

    async def merged() -> bool:
        return await clocks.count_documents({"complaint_id": cid, "state": "merged"}) == 3

    await eventually(merged, timeout=30)
    assert await agency_figures(app, agency) == []


def completion_deadlines(records: list[Seen], cid: str) -> list[SlaDeadlineSet]:
    return [d for d in payloads(records, cid, SlaDeadlineSet) if d.stage.value == "completion"]


async def agency_figures(app: FastAPI, agency: str) -> list[dict[str, Any]]:
    """The compliance figures an agency's own admin reads."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sla"
    ) as client:
        own = bearer(Role.AGENCY_ADMIN, "kepala", agency=agency)
        figures: list[dict[str, Any]] = (await client.get("/v1/compliance", headers=own)).json()
        return figures
