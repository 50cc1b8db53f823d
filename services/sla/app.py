"""Composition root of the SLA service."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path

from kernel import http
from kernel.auth import TokenVerifier
from kernel.lease import Lease
from kernel.runtime import Runtime, Startable
from schemas.complaint import TRACKING_ID_PATTERN, Actor, Role
from schemas.events import (
    COMPLAINT_EVENT_TYPES,
    ComplaintRouted,
    ComplaintStatusChanged,
    ComplaintSubmitted,
)
from schemas.topics import COMPLAINT_EVENTS, SLA_GROUP
from services.sla.calendar import WorkingCalendar
from services.sla.config import SlaSettings
from services.sla.service import SlaService
from services.sla.store import ClockStore
from services.sla.sweeper import Sweeper

Settings = SlaSettings


def create_app(settings: SlaSettings) -> FastAPI:
    """The SLA consumer of routing decisions, with a read API for a complaint's clocks."""
    runtime = Runtime(settings)
    store = ClockStore(runtime.db)
    calendar = WorkingCalendar(
        extra_holidays=settings.sla_extra_holidays,
        extra_working_days=settings.sla_extra_working_days,
        collective_leave=settings.sla_collective_leave,
    )
    service = SlaService(store=store, uow=runtime.uow, calendar=calendar, settings=settings)
    consumer = runtime.consumer(
        group_id=SLA_GROUP,
        topics=[COMPLAINT_EVENTS.name],
        handlers={
            ComplaintSubmitted.event_type(): service.on_submitted,
            ComplaintRouted.event_type(): service.on_routed,
            ComplaintStatusChanged.event_type(): service.on_status_changed,
        },
        payload_types=COMPLAINT_EVENT_TYPES,
    )
    sweeper = Sweeper(
        service=service,
        lease=Lease(runtime.db, "sla-sweeper", seconds=max(10.0, 5 * settings.sla_sweep_seconds)),
        seconds=settings.sla_sweep_seconds,
    )
    app = http.create_app(
        service=settings.service_name,
        title="LAPOR SLA",
        description="Working-day deadlines in each agency's time zone.",
        components=[
            runtime,
            Startable(store.create_indexes),
            consumer,
            *([sweeper] if settings.sla_sweep_enabled else []),
        ],
        readiness=runtime.readiness_checks(),
    )
    api = APIRouter(prefix="/v1", tags=["sla"])
    caller = http.authentication(TokenVerifier(settings))

    @api.get("/clocks/{complaint_id}", summary="The clocks running on a complaint")
    async def clocks(
        complaint_id: Annotated[str, Path(pattern=TRACKING_ID_PATTERN)],
        actor: Annotated[Actor | None, Depends(caller)],
    ) -> list[dict[str, Any]]:
        viewer = http.require_role(
            actor, Role.NATIONAL_ADMIN, Role.AUDITOR, Role.AGENCY_ADMIN, Role.UNIT_OFFICER
        )
        found = await store.clocks_of(complaint_id)
        if viewer.role in (Role.AGENCY_ADMIN, Role.UNIT_OFFICER):
            found = [clock for clock in found if clock["agency_id"] == viewer.agency_id]
        if not found:
            raise http.ProblemError(404, "clocks_not_found", f"no clock runs on {complaint_id}")
        return [{k: v for k, v in clock.items() if k != "_id"} for clock in found]

    app.include_router(api)
    app.state.sla_service = service  # for operators' tools and tests driving the clock
    return app
