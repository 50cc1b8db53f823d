"""One MongoDB transaction holding a state change, the events it causes, and (for consumers) the
ID of the event that caused it, so that a redelivered event has no second effect."""

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from kernel.mongo import Document, Session, in_transaction
from kernel.outbox import Outbox, OutboxRelay
from schemas.envelope import Event

PROCESSED_COLLECTION = "processed_events"
# Longer than any topic's retention: a redelivery can only come from within that window.
PROCESSED_TTL_SECONDS = 120 * 24 * 3600

T = TypeVar("T")
Effect = Callable[[Session], Awaitable[tuple[T, Sequence[Event]]]]


class UnitOfWork:
    """Runs effects transactionally and wakes the outbox relay after each commit."""

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
        """Expire dedup records once no redelivery can reach them."""
        await self._processed.create_index("processed_at", expireAfterSeconds=PROCESSED_TTL_SECONDS)

    async def run(self, effect: Effect[T]) -> T:
        """Apply ``effect`` and store the events it returns, all or nothing."""

        async def work(session: Session) -> tuple[T, int]:
            result, events = await effect(session)
            await self._outbox.add(events, session=session)
            return result, len(events)

        result, queued = await in_transaction(self._client, work)
        if queued and self._relay is not None:
            self._relay.wake()
        return result

    async def run_once(self, event: Event, effect: Effect[None]) -> bool:
        """Apply ``effect`` for ``event`` unless it was applied before; False for a repeat."""

        async def guarded(session: Session) -> tuple[bool, Sequence[Event]]:
            # The mark first, with no read before it (one round trip less per event): a repeat
            # fails on the unique _id and aborts the transaction, so its effect never lands; a
            # concurrent twin (during a rebalance) surfaces as a write conflict, is retried, and
            # then fails the same way.
            try:
                await self._processed.insert_one(
                    {"_id": event.id, "type": event.type, "processed_at": datetime.now(UTC)},
                    session=session,
                )
            except DuplicateKeyError:
                raise _AlreadyProcessed from None
            _, events = await effect(session)
            return True, events

        try:
            return await self.run(guarded)
        except _AlreadyProcessed:
            return False


class _AlreadyProcessed(Exception):
    """The event's processed mark exists: the transaction is abandoned, nothing lands."""
