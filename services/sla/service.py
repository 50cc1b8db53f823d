"""SLA use cases: start clocks when a complaint reaches an agency, end them as it progresses."""

from collections.abc import Sequence
from datetime import datetime

from kernel.metrics import SLA_DEADLINES_SET
from kernel.mongo import Session
from kernel.unit_of_work import UnitOfWork
from schemas.envelope import Event, new_event
from schemas.events import (
    ComplaintRouted,
    ComplaintStatusChanged,
    ComplaintSubmitted,
    SlaDeadlineSet,
    SlaStage,
)
from schemas.regions import time_zone_of
from services.sla.calendar import WorkingCalendar
from services.sla.config import SlaSettings
from services.sla.limits import ENDED, MEETS_FIRST_FOLLOW_UP, STARTS_CLOCKS, clocks_on_forward
from services.sla.store import ClockStore

SOURCE = "/lapor/sla"
FALLBACK_ZONE = "Asia/Jakarta"


class SlaService:
    """Computes deadlines from the working-day calendar and the configured limits."""

    def __init__(
        self,
        *,
        store: ClockStore,
        uow: UnitOfWork,
        calendar: WorkingCalendar,
        settings: SlaSettings,
    ) -> None:
        self._store = store
        self._uow = uow
        self._calendar = calendar
        self._settings = settings
        self._limits = settings.limits()

    async def on_submitted(self, event: Event) -> None:
        """Remember the region (fallback time zone) and type of a new complaint."""
        submitted = event.data
        assert isinstance(submitted, ComplaintSubmitted)

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            await self._store.remember_complaint(
                submitted.complaint_id,
                region_code=submitted.region_code,
                report_type=submitted.report_type.value,
                session=session,
            )
            return None, ()

        await self._uow.run_once(event, effect)

    async def on_routed(self, event: Event) -> None:
        """Remember the agency's time zone that routing resolved."""
        routed = event.data
        assert isinstance(routed, ComplaintRouted)

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            await self._store.remember_agency_zone(
                routed.complaint_id, routed.agency_id, routed.time_zone, session=session
            )
            return None, ()

        await self._uow.run_once(event, effect)

    async def on_status_changed(self, event: Event) -> None:
        """Forwarding starts the clocks; a follow-up meets the first one; an end stops all."""
        changed = event.data
        assert isinstance(changed, ComplaintStatusChanged)
        started: list[SlaStage] = []

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            cid = changed.complaint_id
            if changed.to_status in ENDED:
                await self._store.end_clocks(
                    cid, state="stopped", at=changed.changed_at, session=session
                )
                return None, ()
            if changed.action in MEETS_FIRST_FOLLOW_UP:
                await self._store.end_clocks(
                    cid,
                    state="met",
                    at=changed.changed_at,
                    stages=[SlaStage.FIRST_FOLLOW_UP.value],
                    session=session,
                )
                return None, ()
            if changed.action not in STARTS_CLOCKS or changed.agency_id is None:
                return None, ()
            zone = await self._zone(cid, changed.agency_id, session=session)
            events = []
            for stage, days in clocks_on_forward(
                self._limits, changed.report_type, changed.needs_examination
            ):
                events.append(
                    await self._start(changed, stage, days, zone, session=session, cause=event)
                )
                started.append(stage)
            return None, events

        if await self._uow.run_once(event, effect):
            for stage in started:
                SLA_DEADLINES_SET.labels(stage.value).inc()

    async def _zone(self, complaint_id: str, agency_id: str, *, session: Session) -> str:
        known = await self._store.complaint(complaint_id, session=session) or {}
        zone = (known.get("agency_zones") or {}).get(agency_id)
        if zone is None and known.get("region_code"):
            # An agency routing did not resolve (forwarded by hand): the complaint's province.
            zone = time_zone_of(known["region_code"])
        return zone or FALLBACK_ZONE

    async def _start(
        self,
        changed: ComplaintStatusChanged,
        stage: SlaStage,
        days: int,
        zone: str,
        *,
        session: Session,
        cause: Event,
    ) -> Event:
        started_at: datetime = changed.changed_at
        due_at = self._calendar.deadline(
            started_at, days, time_zone=zone, day_end=self._settings.sla_workday_end
        )
        assert changed.agency_id is not None
        await self._store.start_clock(
            complaint_id=changed.complaint_id,
            stage=stage.value,
            agency_id=changed.agency_id,
            started_at=started_at,
            due_at=due_at,
            working_days=days,
            time_zone=zone,
            session=session,
        )
        return new_event(
            SlaDeadlineSet(
                complaint_id=changed.complaint_id,
                stage=stage,
                agency_id=changed.agency_id,
                started_at=started_at,
                due_at=due_at,
                working_days=days,
                time_zone=zone,
            ),
            source=SOURCE,
            correlation_id=cause.correlation_id,
        )
