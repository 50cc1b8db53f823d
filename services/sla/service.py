"""SLA use cases: clocks follow the lifecycle; the sweep fires the ones whose moment came."""

import math
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from kernel.logging import get_logger
from kernel.metrics import SLA_DEADLINES_SET, SLA_FIRINGS, STANDARD_VIOLATIONS
from kernel.mongo import Session
from kernel.unit_of_work import UnitOfWork
from schemas.complaint import LifecycleAction as A
from schemas.envelope import Event, EventPayload, new_event
from schemas.events import (
    AgencyPublished,
    ComplaintStatusChanged,
    ComplaintSubmission,
    SlaBreached,
    SlaDeadlineSet,
    SlaEscalated,
    SlaStage,
    SlaWarningIssued,
    SlaWindowExpired,
    StandardChecked,
    StandardPublished,
)
from schemas.regions import time_zone_of
from services.sla.calendar_book import CalendarBook
from services.sla.config import SlaSettings
from services.sla.limits import (
    ENDED,
    MEETS_COMPLETION,
    MEETS_FIRST_FOLLOW_UP,
    RESUMES_COMPLETION,
    STARTS_CLOCKS,
    clocks_on_forward,
    ended_state,
)
from services.sla.standard_check import violations
from services.sla.store import ClockChange, ClockStore, NewClock
from services.sla.timers import ClockState, Firing, Outcome, Phase, fire, warning_time

SOURCE = "/lapor/sla"
FIRINGS = uuid.UUID("3b8f0c6e-2d4a-4e9b-a7c1-5f6e8d9a0b21")
# How old the memory of agencies' zones may grow before it is read again.
ZONES_REFRESH_SECONDS = 60.0
# An agency not in memory is read again at most this often (one the directory lacks would
# otherwise cost a read per event).
ZONES_MISS_RETRY_SECONDS = 1.0
FALLBACK_ZONE = "Asia/Jakarta"

log = get_logger(__name__)


class SlaService:
    """Computes deadlines from the working-day calendar and the configured limits."""

    def __init__(
        self,
        *,
        store: ClockStore,
        uow: UnitOfWork,
        calendars: CalendarBook,
        settings: SlaSettings,
        publish: Callable[[Sequence[Event]], Awaitable[None]],
    ) -> None:
        self._publish = publish
        self._store = store
        self._uow = uow
        self._calendars = calendars
        self._settings = settings
        self._limits = settings.limits()
        self._policy = settings.policy()
        self._zones: dict[str, str] = {}
        self._zones_read_at = -math.inf

    def use_calendars(self, calendars: CalendarBook) -> None:
        """Deadlines computed from now on use these calendars (admins declared days)."""
        self._calendars = calendars

    async def on_submitted(self, event: Event[ComplaintSubmission]) -> None:
        """Remember region and type; the verification clock starts."""
        submitted = event.data
        zone = time_zone_of(submitted.region_code) or FALLBACK_ZONE

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            await self._store.remember_complaint(
                submitted.complaint_id,
                region_code=submitted.region_code,
                report_type=submitted.report_type.value,
                caused_by=event.id,
                session=session,
            )
            events = await self._check_standard(submitted, event, session=session)
            clocks = self._file_clocks(
                submitted.complaint_id,
                self._limits.verification,
                zone=zone,
                at=submitted.submitted_at,
                region=submitted.region_code,
            )
            return None, [*events, *await self._start(clocks, event, session=session)]

        await self._run(event, effect, [SlaStage.VERIFICATION, SlaStage.CEILING])

    async def on_standard_published(self, event: Event[StandardPublished]) -> None:
        """Keep the promises of each published standard (completion time, fee)."""
        published = event.data

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            await self._store.keep_standard(
                {
                    "_id": published.standard_id,
                    "version": published.version,
                    "completion_time_days": published.completion_time_days,
                    "fee_idr": published.fee_idr,
                    "publication": published.publication(),
                },
                session=session,
            )
            return None, ()

        await self._uow.run(effect)  # an earlier publication arriving again changes nothing

    async def _check_standard(
        self, submitted: ComplaintSubmission, cause: Event, *, session: Session
    ) -> list[Event]:
        if submitted.service_standard_id is None:
            return []
        standard = await self._store.standard(submitted.service_standard_id, session=session)
        if standard is None:
            log.warning("standard_unknown", standard_id=submitted.service_standard_id)
            return []
        experience = submitted.experience
        checked = StandardChecked(
            complaint_id=submitted.complaint_id,
            standard_id=standard["_id"],
            standard_version=standard["version"],
            promised_days=standard.get("completion_time_days"),
            promised_fee_idr=standard.get("fee_idr"),
            waited_days=experience.waited_days if experience else None,
            paid_idr=experience.paid_idr if experience else None,
            violations=violations(standard, experience),
            checked_at=submitted.submitted_at,
        )
        for kind in checked.violations:
            STANDARD_VIOLATIONS.labels(kind).inc()
        return [new_event(checked, source=SOURCE, correlation_id=cause.correlation_id)]

    async def on_agency_published(self, event: Event[AgencyPublished]) -> None:
        """Keep each agency's time zone as routing's directory describes it: where a clock of a
        complaint forwarded to it counts its working days."""
        agency = event.data
        await self._store.keep_agency(
            agency.agency_id,
            time_zone=agency.time_zone,
            directory_version=agency.directory_version,
        )
        self._zones[agency.agency_id] = agency.time_zone

    async def _agency_zone(self, agency_id: str | None) -> str | None:
        """The directory's zone of an agency, from memory; read again from the store when one
        is missing or the memory is older than ``ZONES_REFRESH_SECONDS`` (another replica may
        have taken an agency's change)."""
        if agency_id is None:
            return None
        age = time.monotonic() - self._zones_read_at
        missing = agency_id not in self._zones
        if age > ZONES_REFRESH_SECONDS or (missing and age > ZONES_MISS_RETRY_SECONDS):
            self._zones = await self._store.agency_zones()
            self._zones_read_at = time.monotonic()
        return self._zones.get(agency_id)

    async def on_status_changed(self, event: Event[ComplaintStatusChanged]) -> None:
        """Clocks start, pause, resume, are met and stop with the lifecycle."""
        changed = event.data
        started: list[SlaStage] = []

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            started.clear()
            known = await self._store.take_in(changed.complaint_id, event.id, session=session)
            events = await self._follow(changed, event, started, known, session=session)
            return None, events

        await self._run(event, effect, started)

    async def _run(self, event: Event, effect: Any, started: list[SlaStage]) -> None:
        # No processed mark: the complaint's record remembers the events it took in, and the
        # first write of each effect collides on a repeat (``SlaStore.take_in``).
        if await self._uow.run_unless_stored(effect):
            for stage in started:
                SLA_DEADLINES_SET.labels(stage.value).inc()

    async def _follow(
        self,
        changed: ComplaintStatusChanged,
        cause: Event,
        started: list[SlaStage],
        known: dict[str, Any],
        *,
        session: Session,
    ) -> list[Event]:
        """``known``: what the SLA knows of the complaint (region, agencies' zones)."""
        cid, at, action = changed.complaint_id, changed.changed_at, changed.action
        store = self._store
        if changed.to_status in ENDED:
            await store.end_clocks(
                cid, state=ended_state(changed.to_status), at=at, session=session
            )
            return []
        if action is A.DEFER:
            clock = await store.running_clock(cid, SlaStage.VERIFICATION.value, session=session)
            if clock is not None:
                remaining = self._days_left(clock, at)
                await store.pause(
                    cid, SlaStage.VERIFICATION.value, remaining=remaining, at=at, session=session
                )
            # The ceiling counts from a complete file: it starts again on completion.
            await store.end_clocks(
                cid, state="stopped", at=at, stages=[SlaStage.CEILING.value], session=session
            )
            return []
        if action is A.COMPLETE:
            paused = await store.paused_clock(cid, SlaStage.VERIFICATION.value, session=session)
            if paused is None:
                return []
            started += [SlaStage.VERIFICATION, SlaStage.CEILING]
            clocks = self._file_clocks(
                cid,
                paused["remaining_working_days"],
                zone=paused["time_zone"],
                at=at,
                region=known.get("region_code"),
            )
            return await self._start(clocks, cause, session=session)
        if action is A.FORWARD_TO_UNIT:
            await store.set_holder(cid, "unit", changed.unit_id, session=session)
            return []
        if action in MEETS_FIRST_FOLLOW_UP:
            met = store.ending(cid, state="met", at=at, stages=[SlaStage.FIRST_FOLLOW_UP.value])
            if action not in MEETS_COMPLETION:
                await store.start_clocks([], after=[met], session=session)
                return []
            completion = await self._meet_completion(cid, at, session=session)
            started.append(SlaStage.REPLY_WINDOW)
            window = self._clock(
                cid,
                SlaStage.REPLY_WINDOW,
                self._limits.auto_close,
                zone=_zone(known, changed.agency_id, await self._agency_zone(changed.agency_id)),
                agency_id=changed.agency_id,
                holder="complainant",
                at=at,
                region=known.get("region_code"),
            )
            return await self._start([window], cause, after=[met, *completion], session=session)
        if action in RESUMES_COMPLETION:
            window_met = store.ending(cid, state="met", at=at, stages=[SlaStage.REPLY_WINDOW.value])
            resumed = await self._resume_completion(cid, at, session=session)
            started += [clock.deadline.stage for clock in resumed]
            return await self._start(resumed, cause, after=[window_met], session=session)
        if action not in STARTS_CLOCKS or changed.agency_id is None:
            return []
        verified = store.ending(cid, state="met", at=at, stages=[SlaStage.VERIFICATION.value])
        clocks = [
            self._clock(
                cid,
                stage,
                days,
                zone=_zone(known, changed.agency_id, await self._agency_zone(changed.agency_id)),
                agency_id=changed.agency_id,
                holder="unit" if changed.unit_id else "agency",
                at=at,
                region=known.get("region_code"),
                unit_id=changed.unit_id,
            )
            for stage, days in clocks_on_forward(
                self._limits, changed.report_type, changed.needs_examination
            )
        ]
        started += [clock.deadline.stage for clock in clocks]
        return await self._start(clocks, cause, after=[verified], session=session)

    def _days_left(self, clock: dict[str, Any], at: datetime) -> int:
        """Working days a clock has left at ``at``, counted in its region's calendar and zone."""
        zone = clock["time_zone"]
        calendar = self._calendars.for_region(clock.get("region_code"))
        return calendar.working_days_between(
            _local_day(at, zone), _local_day(clock["due_at"], zone)
        )

    async def _meet_completion(
        self, cid: str, at: datetime, *, session: Session
    ) -> list[ClockChange]:
        """The answer meets the completion clock; it keeps the working days it had left, so a
        re-opened report gives the agency back only what it had not used. The change, to be
        written with the reply window that starts (none: no running completion clock)."""
        stage = SlaStage.COMPLETION.value
        clock = await self._store.running_clock(cid, stage, session=session)
        if clock is None:
            return []
        remaining = self._days_left(clock, at) if at <= clock["due_at"] else None
        return [self._store.meeting(cid, stage, remaining=remaining, at=at)]

    async def _resume_completion(
        self, cid: str, at: datetime, *, session: Session
    ) -> list[NewClock]:
        """A re-opened report's completion clock runs again: with the working days left at the
        answer, from now; an answer that came late resumes the clock as it was, still overdue
        (its breach is not announced a second time)."""
        stage = SlaStage.COMPLETION.value
        clock = await self._store.met_clock(cid, stage, session=session)
        if clock is None:
            return []
        if clock.get("remaining_working_days") is None:
            await self._store.reopen(clock, session=session)
            return []
        return [
            self._clock(
                cid,
                SlaStage.COMPLETION,
                clock["remaining_working_days"],
                zone=clock["time_zone"],
                agency_id=clock["agency_id"],
                holder=clock["holder"],
                at=at,
                region=clock.get("region_code"),
                unit_id=clock.get("unit_id"),
            )
        ]

    def _file_clocks(
        self,
        complaint_id: str,
        verification_days: int,
        *,
        zone: str,
        at: datetime,
        region: str | None,
    ) -> list[NewClock]:
        """The clocks of a complete file at the national desk: verification and the ceiling."""
        common: dict[str, Any] = {
            "zone": zone,
            "agency_id": None,
            "holder": "verifier",
            "at": at,
            "region": region,
        }
        return [
            self._clock(complaint_id, SlaStage.VERIFICATION, verification_days, **common),
            self._clock(
                complaint_id,
                SlaStage.CEILING,
                self._limits.ceiling_days,
                calendar_days=True,
                **common,
            ),
        ]

    def _clock(
        self,
        complaint_id: str,
        stage: SlaStage,
        days: int,
        *,
        zone: str,
        agency_id: str | None,
        holder: str,
        at: datetime,
        region: str | None,
        calendar_days: bool = False,
        unit_id: str | None = None,
    ) -> NewClock:
        """The deadline and first warning of a clock starting at ``at`` (no I/O)."""
        day_end = self._settings.sla_workday_end
        calendar = self._calendars.for_region(region)
        if calendar_days:
            due_at = calendar.calendar_deadline(at, days, time_zone=zone, day_end=day_end)
        else:
            due_at = calendar.deadline(at, days, time_zone=zone, day_end=day_end)
        warn_at = warning_time(
            due_at, time_zone=zone, policy=self._policy, calendar=calendar, started_at=at
        )
        deadline = SlaDeadlineSet(
            complaint_id=complaint_id,
            stage=stage,
            agency_id=agency_id,
            started_at=at,
            due_at=due_at,
            working_days=None if calendar_days else days,
            calendar_days=days if calendar_days else None,
            time_zone=zone,
        )
        return NewClock(
            deadline, holder=holder, warn_at=warn_at, region_code=region, unit_id=unit_id
        )

    async def _start(
        self,
        clocks: Sequence[NewClock],
        cause: Event,
        *,
        after: Sequence[ClockChange] = (),
        session: Session,
    ) -> list[Event]:
        """Store the clocks in one write, after the changes that end or meet others; their
        "deadline set" events."""
        await self._store.start_clocks(clocks, after=after, session=session)
        return [
            new_event(clock.deadline, source=SOURCE, correlation_id=cause.correlation_id)
            for clock in clocks
        ]

    async def fire_due(self, now: datetime, *, batch: int = 500) -> int:
        """Fire every clock whose moment has come by ``now``; returns how many fired.

        Each batch's events are published first, then the clocks move to their next phase in
        one write, with no outbox and no transaction: a firing is then one write of the
        database, where storing its event in the outbox cost two more (the record and its
        deletion). Each event's ID is derived from the clock and the moment it fires for, so a
        batch published again (this process died before moving the clocks, or another sweeper
        fired the same clocks) is the same events again, which consumers drop by their ID.
        With the broker away, publishing fails and nothing moves: the next sweep fires the
        same clocks again.
        """
        fired = 0
        while True:
            due = await self._store.due(now, limit=batch)
            if not due:
                return fired
            plans = [(clock, self._outcome(clock, now)) for clock in due]
            moves = [
                (
                    clock,
                    outcome.phase.value if outcome else Phase.DONE.value,
                    outcome.level if outcome else clock["level"],
                    outcome.next_fire_at if outcome else None,
                )
                for clock, outcome in plans
            ]
            events = [
                new_event(
                    _payload(clock, outcome, now),
                    source=SOURCE,
                    correlation_id=f"sla-{clock['_id']}",
                    event_id=firing_event_id(clock),
                )
                for clock, outcome in plans
                if outcome is not None
            ]
            await self._publish(events)
            if not await self._store.advance_many(moves, session=None):
                # Another sweeper moved some of these first (and published the same events).
                log.info("clock_moved_by_another_sweeper", clocks=len(moves))
            for clock, outcome in plans:
                if outcome is not None:
                    agency = clock.get("agency_id") or "none"
                    SLA_FIRINGS.labels(outcome.firing.value, agency).inc()
            fired += len(events)

    def _outcome(self, clock: dict[str, Any], now: datetime) -> Outcome | None:
        state = ClockState(
            stage=SlaStage(clock["stage"]),
            holder=clock["holder"],
            due_at=clock["due_at"],
            warn_at=clock.get("warn_at"),
            phase=Phase(clock["phase"]),
            level=clock["level"],
            time_zone=clock["time_zone"],
        )
        calendar = self._calendars.for_region(clock.get("region_code"))
        return fire(state, now=now, policy=self._policy, calendar=calendar)


def firing_event_id(clock: dict[str, Any]) -> str:
    """The ID of the event a clock's firing publishes: the same for every sweep that fires the
    clock at the same point (its ID, phase, level and moment), new once it moved on or was
    restarted."""
    point = f"{clock['_id']}|{clock['phase']}|{clock['level']}|{clock['next_fire_at'].isoformat()}"
    return uuid.uuid5(FIRINGS, point).hex


def _local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def _payload(clock: dict[str, Any], outcome: Outcome, now: datetime) -> EventPayload:
    cid, stage = clock["complaint_id"], SlaStage(clock["stage"])
    match outcome.firing:
        case Firing.WARN:
            return SlaWarningIssued(
                complaint_id=cid,
                stage=stage,
                agency_id=clock["agency_id"],
                holder=clock["holder"],
                due_at=clock["due_at"],
                issued_at=now,
            )
        case Firing.BREACH:
            assert outcome.escalate_to is not None
            return SlaBreached(
                complaint_id=cid,
                stage=stage,
                agency_id=clock["agency_id"],
                holder=clock["holder"],
                due_at=clock["due_at"],
                breached_at=now,
                level=outcome.level,
                escalate_to=outcome.escalate_to,
            )
        case Firing.ESCALATE:
            assert outcome.escalate_to is not None
            return SlaEscalated(
                complaint_id=cid,
                stage=stage,
                agency_id=clock["agency_id"],
                due_at=clock["due_at"],
                escalated_at=now,
                level=outcome.level,
                escalate_to=outcome.escalate_to,
            )
    return SlaWindowExpired(complaint_id=cid, stage=stage, expired_at=now)


def _zone(known: dict[str, Any], agency_id: str | None, directory_zone: str | None) -> str:
    """The agency's time zone in routing's directory, else the complaint's province's.

    (Records from before the directory was followed kept the zone of each ``complaint.routed``
    under ``agency_zones``: still honoured.)"""
    zone = (known.get("agency_zones") or {}).get(agency_id) if agency_id else None
    zone = zone or directory_zone
    if zone is None and known.get("region_code"):
        # An agency routing did not resolve (forwarded by hand): the complaint's province.
        zone = time_zone_of(known["region_code"])
    return zone or FALLBACK_ZONE
