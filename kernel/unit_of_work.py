"""One MongoDB transaction holding a state change, the events it causes, and (for consumers) the
ID of the event that caused it, so that a redelivered event has no second effect.

A consumer may also apply a whole batch of events in one transaction (``UnitOfWork.batch``):
every ``run`` and ``run_once`` inside it joins that transaction, and the processed marks and the
events of all of them are written together at its end. On the embedded database a transaction's
start and commit cost as much as two or three writes, so a batch of a hundred costs a fraction of
a hundred transactions; if anything in it fails, nothing of it lands and the consumer applies the
events one by one instead.
"""

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from kernel.mongo import Document, Session, in_transaction, is_duplicate_key, transaction
from kernel.outbox import Outbox, OutboxRelay
from schemas.envelope import Event

PROCESSED_COLLECTION = "processed_events"
# Longer than any topic's retention: a redelivery can only come from within that window.
PROCESSED_TTL_SECONDS = 120 * 24 * 3600

T = TypeVar("T")
Effect = Callable[[Session], Awaitable[tuple[T, Sequence[Event]]]]
# Applied to several events at once; returns the events it causes.
RunEffect = Callable[[Session, Sequence[Event]], Awaitable[Sequence[Event]]]


@dataclass
class _Batch:
    """The transaction a consumer's batch shares, and what its effects have queued so far."""

    session: Session
    # IDs of the batch's events that an earlier commit marked: read at the first ``run_once``,
    # so that a batch whose effects carry their own keys (``run_unless_stored``) reads nothing.
    processed_before: Callable[[], Awaitable[set[str]]]
    marks: dict[str, Document] = field(default_factory=dict)  # by event ID
    events: list[Event] = field(default_factory=list)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    _marked_before: set[str] | None = None

    async def applied(self, event_id: str) -> bool:
        """Whether an earlier commit or this batch already applied the event."""
        if self._marked_before is None:
            self._marked_before = await self.processed_before()
        return event_id in self._marked_before or event_id in self.marks


# Per task: only the consumer that opened the batch joins it, never a concurrent HTTP request.
_BATCH: ContextVar[_Batch | None] = ContextVar("lapor_unit_of_work_batch", default=None)


class UnitOfWork:
    """Runs effects transactionally and hands the events they stored to the outbox relay after
    each commit."""

    def __init__(
        self,
        *,
        client: AsyncMongoClient[Document],
        db: AsyncDatabase[Document],
        relay: OutboxRelay | None = None,
    ) -> None:
        self._client = client
        self._processed = db[PROCESSED_COLLECTION]
        self._outbox = Outbox(db)
        self._relay = relay

    def attach_relay(self, relay: OutboxRelay) -> None:
        """Wake this relay after every commit that queued events."""
        self._relay = relay

    async def create_indexes(self) -> None:
        """Expire dedup records once no redelivery can reach them; the outbox's indexes."""
        await self._processed.create_index("processed_at", expireAfterSeconds=PROCESSED_TTL_SECONDS)
        await self._outbox.create_indexes()

    @contextlib.asynccontextmanager
    async def batch(self, event_ids: Sequence[str]) -> AsyncIterator[None]:
        """Inside, every ``run`` and ``run_once`` shares one transaction, committed on leaving.

        ``event_ids`` are the events the batch will apply: one read finds those already applied
        (so ``run_once`` skips them without a write). An exception leaves nothing stored and is
        raised; the caller then applies the events one by one.
        """
        async with transaction(self._client) as session:

            async def processed_before() -> set[str]:
                found = self._processed.find(
                    {"_id": {"$in": list(event_ids)}}, {"_id": 1}, session=session
                )
                return {doc["_id"] async for doc in found}

            batch = _Batch(session, processed_before)
            token = _BATCH.set(batch)
            try:
                yield
            finally:
                _BATCH.reset(token)
            if batch.marks:
                # A twin applied by another instance meanwhile fails here, on the unique _id.
                await self._processed.insert_many(list(batch.marks.values()), session=session)
            records = await self._outbox.add(batch.events, session=session)
        if self._relay is not None:
            self._relay.committed(records)
        for callback in batch.after_commit:
            callback()

    def session(self) -> Session | None:
        """The consumer batch's transaction when inside one (a write that needs no transaction
        of its own joins it there), else None."""
        batch = _BATCH.get()
        return batch.session if batch is not None else None

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once what was just applied is committed: at once after ``run`` or
        ``run_once``, at the end of the batch inside ``batch``."""
        batch = _BATCH.get()
        if batch is None:
            callback()
        else:
            batch.after_commit.append(callback)

    async def run(self, effect: Effect[T]) -> T:
        """Apply ``effect`` and store the events it returns, all or nothing."""
        batch = _BATCH.get()
        if batch is not None:
            result, events = await effect(batch.session)
            batch.events.extend(events)
            return result

        async def work(session: Session) -> tuple[T, list[Document]]:
            result, events = await effect(session)
            return result, await self._outbox.add(events, session=session)

        result, records = await in_transaction(self._client, work)
        if self._relay is not None:
            self._relay.committed(records)
        return result

    async def run_once(self, event: Event, effect: Effect[None]) -> bool:
        """Apply ``effect`` for ``event`` unless it was applied before; False for a repeat."""
        batch = _BATCH.get()
        if batch is not None:
            if await batch.applied(event.id):
                return False
            _, events = await effect(batch.session)
            batch.marks[event.id] = self._mark(event)
            batch.events.extend(events)
            return True

        async def guarded(session: Session) -> tuple[bool, Sequence[Event]]:
            # The mark first, with no read before it (one round trip less per event): a repeat
            # fails on the unique _id and aborts the transaction, so its effect never lands; a
            # concurrent twin (during a rebalance) surfaces as a write conflict, is retried, and
            # then fails the same way.
            try:
                await self._processed.insert_one(self._mark(event), session=session)
            except DuplicateKeyError:
                raise _AlreadyProcessed from None
            _, events = await effect(session)
            return True, events

        try:
            return await self.run(guarded)
        except _AlreadyProcessed:
            return False

    async def run_unless_stored(self, effect: Effect[None]) -> bool:
        """Apply an effect whose writes carry their own natural keys (a message per event,
        recipient and channel): its repeat collides with what the first stored, so it needs no
        processed mark. False for a repeat, and nothing of it is stored.

        Inside a batch the collision is raised: the batch's transaction is aborted with it, and
        the consumer applies its events one by one, where this answers False."""
        if _BATCH.get() is not None:
            await self.run(effect)
            return True
        try:
            await self.run(effect)
        except Exception as exc:
            if is_duplicate_key(exc):
                return False
            raise
        return True

    async def run_once_each(self, events: Sequence[Event], effect: RunEffect) -> list[Event]:
        """Apply ``effect`` to those of ``events`` not applied before (in a batch, all of them
        in one call: one write for many events); returns the events it was applied to.

        Outside a batch, each event is applied on its own as by ``run_once``."""
        batch = _BATCH.get()
        if batch is None:
            applied = []
            for event in events:

                async def alone(
                    session: Session, event: Event = event
                ) -> tuple[None, Sequence[Event]]:
                    return None, await effect(session, [event])

                if await self.run_once(event, alone):
                    applied.append(event)
            return applied
        fresh: dict[str, Event] = {}
        for event in events:
            if not await batch.applied(event.id):
                fresh.setdefault(event.id, event)  # a double publish comes twice in one run
        if fresh:
            batch.events.extend(await effect(batch.session, list(fresh.values())))
            for event in fresh.values():
                batch.marks[event.id] = self._mark(event)
        return list(fresh.values())

    @staticmethod
    def _mark(event: Event) -> Document:
        return {"_id": event.id, "type": event.type, "processed_at": datetime.now(UTC)}


class _AlreadyProcessed(Exception):
    """The event's processed mark exists: the transaction is abandoned, nothing lands."""
