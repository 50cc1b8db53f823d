"""Intake use cases: submit a complaint, look it up, reflect other services' outcomes."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from kernel.consumer import RejectedEvent
from kernel.logging import get_logger
from kernel.metrics import COMPLAINTS_RECEIVED
from kernel.mongo import Session
from kernel.unit_of_work import UnitOfWork
from schemas.envelope import Event, new_event
from services.intake.domain import (
    ComplaintCreate,
    new_record,
    new_tracking_id,
    reflect,
    submitted_event,
)
from services.intake.store import ComplaintStore

SOURCE = "/lapor/intake"

log = get_logger(__name__)


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used for a different request."""


class IntakeService:
    """Submission and reflection, each one transaction with its outbox events."""

    def __init__(self, *, store: ComplaintStore, uow: UnitOfWork) -> None:
        self._store = store
        self._uow = uow

    async def submit(
        self,
        create: ComplaintCreate,
        *,
        correlation_id: str,
        idempotency_key: str | None = None,
        now: datetime | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Store the complaint and its "submitted" event together; returns (record, created).

        A retry carrying the same Idempotency-Key gets the complaint the first request created.
        """
        if idempotency_key is not None:
            earlier = await self._earlier(idempotency_key, create)
            if earlier is not None:
                return earlier, False
        # MongoDB keeps milliseconds: truncate now so the POST answer equals every later GET.
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        submitted_at = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        for _ in range(3):
            complaint_id = new_tracking_id()
            record = new_record(complaint_id, create, submitted_at, idempotency_key)
            event = new_event(
                submitted_event(complaint_id, create, submitted_at),
                source=SOURCE,
                correlation_id=correlation_id,
                now=submitted_at,
            )

            async def store(
                session: Session, record: dict[str, Any] = record, event: Event = event
            ) -> tuple[None, Sequence[Event]]:
                await self._store.insert(record, session=session)
                return None, [event]

            try:
                await self._uow.run(store)
            except DuplicateKeyError as exc:
                if idempotency_key is not None and "idempotency" in str(exc):
                    earlier = await self._earlier(idempotency_key, create)
                    if earlier is not None:
                        return earlier, False
                continue  # tracking-ID collision: draw another
            COMPLAINTS_RECEIVED.labels(create.channel.value, create.report_type.value).inc()
            log.info("complaint_submitted", complaint_id=complaint_id, event_id=event.id)
            return record, True
        raise RuntimeError("could not draw a free tracking ID")

    async def _earlier(self, key: str, create: ComplaintCreate) -> dict[str, Any] | None:
        earlier = await self._store.by_idempotency_key(key)
        if earlier is not None and earlier["idempotency"]["fingerprint"] != create.fingerprint():
            raise IdempotencyConflict(key)
        return earlier

    async def get(self, tracking_id: str) -> dict[str, Any] | None:
        """A complaint by tracking ID."""
        return await self._store.get(tracking_id)

    async def reflect(self, event: Event) -> None:
        """Record another service's outcome on the complaint, once per event."""
        fields, history = reflect(event.data)

        async def apply(session: Session) -> tuple[None, Sequence[Event]]:
            if not await self._store.update(event.subject, fields, history, session=session):
                raise RejectedEvent(f"no complaint {event.subject!r} is stored here")
            return None, ()

        await self._uow.run_once(event, apply)
