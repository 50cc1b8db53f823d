"""Composition root of the SLA service."""

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from kernel import http
from kernel.auth import TokenVerifier
from kernel.lease import Lease
from kernel.metrics import SLA_MEDIAN_FIRST_FOLLOW_UP, SLA_ON_TIME_RATE, SLA_OPEN_OVERDUE
from kernel.runtime import DatabaseGauges, Periodic, Runtime, Startable
from schemas.complaint import TRACKING_ID_PATTERN, Actor, Role
from services.sla import handlers
from services.sla.calendar import WorkingCalendar
from services.sla.calendar_book import CalendarBook
from services.sla.clock_api import clock_router
from services.sla.compliance import Compliance, compliance
from services.sla.config import SlaSettings
from services.sla.service import SlaService
from services.sla.store import ClockStore
from services.sla.sweeper import Sweeper

Settings = SlaSettings


REGION_PREFIX = r"^(\*|\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?)$"


class DeclaredDay(BaseModel):
    """A day an admin declares: nationwide (``*``) or for a region and what lies inside it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    date: date
    kind: Literal["holiday", "working_day"]
    region_prefix: str = Field(default="*", pattern=REGION_PREFIX, examples=["*", "81", "81.71"])
    name: str = Field(min_length=2, max_length=200, examples=["Cuti bersama Idul Fitri"])


def observe_compliance(figure: Compliance) -> None:
    """Export one agency's figures as Prometheus gauges."""
    if figure.on_time_rate is not None:
        SLA_ON_TIME_RATE.labels(figure.agency_id).set(figure.on_time_rate)
    SLA_OPEN_OVERDUE.labels(figure.agency_id).set(figure.open_overdue)
    if figure.median_first_follow_up_hours is not None:
        SLA_MEDIAN_FIRST_FOLLOW_UP.labels(figure.agency_id).set(
            figure.median_first_follow_up_hours * 3600
        )


DESCRIPTION = "Working-day deadlines in each agency's time zone."


def create_app(settings: SlaSettings) -> FastAPI:
    """The SLA consumer of routing decisions, with a read API for a complaint's clocks."""
    runtime = Runtime(settings, description=DESCRIPTION)
    store = ClockStore(runtime.db)
    clock = settings.clock()
    calendar = WorkingCalendar(
        extra_holidays=settings.sla_extra_holidays,
        extra_working_days=settings.sla_extra_working_days,
        collective_leave=settings.sla_collective_leave,
    )
    service = SlaService(
        store=store,
        uow=runtime.uow,
        calendars=CalendarBook(calendar),
        settings=settings,
        publish=runtime.publishers.publish_now,
    )

    async def reload_calendars() -> None:
        service.use_calendars(CalendarBook(calendar, await store.declared_days()))

    runtime.state_loaders.append(reload_calendars)

    consumer = runtime.include(handlers.router(runtime, service))

    async def refresh_compliance() -> None:
        for figure in compliance(await store.agency_clocks(None), now=clock.now()):
            observe_compliance(figure)

    sweeper = Sweeper(
        service=service,
        lease=Lease(runtime.db, "sla-sweeper", seconds=max(10.0, 5 * settings.sla_sweep_seconds)),
        seconds=settings.sla_sweep_seconds,
        clock=clock.now,
    )
    app = http.create_app(
        service=settings.service_name,
        title="LAPOR SLA",
        description=DESCRIPTION,
        components=[
            runtime,
            Startable(store.create_indexes),
            # Other replicas' declarations arrive within a minute; this replica's at once.
            Periodic(reload_calendars, seconds=60),
        ],
        workers=[
            consumer,
            *([sweeper] if settings.sla_sweep_enabled else []),
            DatabaseGauges(
                refresh_compliance,
                seconds=settings.sla_compliance_refresh_seconds,
                db=runtime.db,
                gauges=[SLA_ON_TIME_RATE, SLA_OPEN_OVERDUE, SLA_MEDIAN_FIRST_FOLLOW_UP],
            ),
        ],
        roles=settings.roles,
        readiness=runtime.readiness_checks(),
        public_rate_limit=settings.public_rate_limiter(),
        db_deadline_seconds=settings.request_db_deadline_seconds,
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
        if viewer.role in http.AGENCY_ROLES:
            found = [clock for clock in found if clock["agency_id"] == viewer.agency_id]
        if not found:
            raise http.ProblemError(404, "clocks_not_found", f"no clock runs on {complaint_id}")
        return [{k: v for k, v in clock.items() if k != "_id"} for clock in found]

    @api.get("/compliance", summary="On-time rate, open overdue and follow-up speed per agency")
    async def compliance_figures(
        actor: Annotated[Actor | None, Depends(caller)],
        agency_id: Annotated[str | None, Query(pattern=r"^[a-z0-9-]{2,80}$")] = None,
        by_unit: bool = False,
    ) -> list[dict[str, Any]]:
        viewer = http.require_role(
            actor, Role.NATIONAL_ADMIN, Role.AUDITOR, Role.AGENCY_ADMIN, Role.UNIT_OFFICER
        )
        if viewer.role in http.AGENCY_ROLES:
            agency_id = viewer.agency_id  # the agency side sees its own figures only
        figures = compliance(await store.agency_clocks(agency_id), now=clock.now(), by_unit=by_unit)
        return [asdict(figure) for figure in figures]

    @api.get("/calendar/days", tags=["calendar"], summary="Days admins declared")
    async def declared_days() -> list[dict[str, Any]]:
        return await store.declared_days()

    @api.put(
        "/calendar/days",
        tags=["calendar"],
        summary="Declare a holiday (collective leave, regional) or an extra working day",
    )
    async def declare_day(
        day: DeclaredDay, actor: Annotated[Actor | None, Depends(caller)]
    ) -> dict[str, Any]:
        http.require_role(actor, Role.NATIONAL_ADMIN)
        await store.declare_day(day.model_dump(mode="json"))
        await reload_calendars()
        return day.model_dump(mode="json")

    @api.delete("/calendar/days/{day}", tags=["calendar"], summary="Withdraw a declared day")
    async def withdraw_day(
        day: date,
        actor: Annotated[Actor | None, Depends(caller)],
        region_prefix: Annotated[str, Query(pattern=REGION_PREFIX)] = "*",
    ) -> dict[str, str]:
        http.require_role(actor, Role.NATIONAL_ADMIN)
        if not await store.withdraw_day(day.isoformat(), region_prefix):
            raise http.ProblemError(404, "day_not_declared", f"{day} is not declared there")
        await reload_calendars()
        return {"withdrawn": day.isoformat(), "region_prefix": region_prefix}

    if settings.environment != "production":
        app.include_router(clock_router(clock, sweeper, caller))
    app.include_router(api)
    app.state.sla_service = service  # for operators' tools and tests driving the clock
    app.state.runtime = runtime  # for lapor-admin rebuild
    return app
