"""SLA use case: start the first follow-up clock when a complaint reaches an agency."""

from collections.abc import Sequence

from kernel.metrics import SLA_DEADLINES_SET
from kernel.mongo import Session
from kernel.unit_of_work import UnitOfWork
from schemas.envelope import Event, new_event
from schemas.events import ComplaintRouted, SlaDeadlineSet, SlaStage
from services.sla.calendar import WorkingCalendar
from services.sla.config import SlaSettings
from services.sla.store import ClockStore

SOURCE = "/lapor/sla"


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

    async def on_routed(self, event: Event) -> None:
        """The agency's first follow-up is due N working days after forwarding."""
        routed = event.data
        assert isinstance(routed, ComplaintRouted)
        days = self._settings.sla_first_follow_up_working_days
        due_at = self._calendar.deadline(
            routed.routed_at,
            days,
            time_zone=routed.time_zone,
            day_end=self._settings.sla_workday_end,
        )
        stage = SlaStage.FIRST_FOLLOW_UP
        deadline_set = new_event(
            SlaDeadlineSet(
                complaint_id=routed.complaint_id,
                stage=stage,
                agency_id=routed.agency_id,
                started_at=routed.routed_at,
                due_at=due_at,
                working_days=days,
                time_zone=routed.time_zone,
            ),
            source=SOURCE,
            correlation_id=event.correlation_id,
        )

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            await self._store.start_clock(
                complaint_id=routed.complaint_id,
                stage=stage.value,
                agency_id=routed.agency_id,
                started_at=routed.routed_at,
                due_at=due_at,
                working_days=days,
                time_zone=routed.time_zone,
                session=session,
            )
            return None, [deadline_set]

        if await self._uow.run_once(event, effect):
            SLA_DEADLINES_SET.labels(stage.value).inc()
