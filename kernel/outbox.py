"""Transactional outbox: events are stored with the state change that caused them, then relayed.

A service never publishes to Kafka directly. It writes its change and the resulting events in one
MongoDB transaction (``Outbox.add``), and ``OutboxRelay`` publishes stored events in order and
deletes them once Kafka has acknowledged them. A crash between publish and delete publishes an
event twice; consumers drop the repeat by its event ID. One relay per service holds a lease, so
several replicas do not publish the same backlog concurrently (``kernel.lease``).
"""

import asyncio
import contextlib
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from bson import Binary, ObjectId
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from kernel.lease import Lease
from kernel.logging import get_logger
from kernel.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED
from kernel.mongo import Document, Session
from schemas.envelope import Event, encode
from schemas.events import topic_for

OUTBOX_COLLECTION = "outbox"
# Prometheus scrapes every 15-30 s: a fresher gauge is read by nobody, and the two reads it
# takes were a tenth of the embedded database's operations with five relays.
BACKLOG_OBSERVE_SECONDS = 15.0

log = get_logger(__name__)


class RecordSender(Protocol):
    """Queues a record on its topic; the future resolves when the broker has it."""

    async def send(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
    ) -> "asyncio.Future[Any]": ...


class Outbox:
    """Write side: queue events inside the caller's transaction."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._collection = db[OUTBOX_COLLECTION]

    async def add(self, events: Sequence[Event[Any]], *, session: Session) -> None:
        """Store events; they are published, each to its topic, only if the transaction commits."""
        if not events:
            return
        now = datetime.now(UTC)
        docs = []
        for event in events:
            record = encode(event)
            docs.append(
                {
                    "_id": ObjectId(),
                    "topic": topic_for(event.data).name,
                    "key": Binary(record.key),
                    "value": Binary(record.value),
                    "headers": [[name, Binary(value)] for name, value in record.headers],
                    "event_id": event.id,
                    "created_at": now,
                }
            )
        await self._collection.insert_many(docs, session=session, ordered=True)


class OutboxRelay:
    """Read side: publish the outbox to Kafka, oldest first, then delete what was acknowledged."""

    def __init__(
        self,
        *,
        db: AsyncDatabase[Document],
        producer: RecordSender,
        service: str,
        poll_seconds: float,
        batch_size: int = 500,
        lease_seconds: float = 10.0,
        idle_seconds: float | None = None,
    ) -> None:
        self._idle_seconds = max(idle_seconds or poll_seconds, poll_seconds)
        self._collection = db[OUTBOX_COLLECTION]
        self._producer = producer
        self._service = service
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._lease = Lease(db, "outbox-relay", seconds=lease_seconds)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._observed_at = 0.0

    def wake(self) -> None:
        """Publish now rather than at the next poll: called after a commit that queued events."""
        self._wake.set()

    async def start(self) -> None:
        """Create the outbox index and start relaying in the background."""
        await self._collection.create_index([("created_at", ASCENDING)])
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self._service}")

    async def stop(self) -> None:
        """Finish the batch in flight, publish what is left if the broker answers, and stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=10)
        await self._lease.release()

    async def publish_pending(self) -> int:
        """Publish every stored event once (when this relay holds the lease); returns the count."""
        if not await self._lease.hold():
            return 0
        published = 0
        while True:
            batch = await self._collection.find({}).sort("_id", ASCENDING).to_list(self._batch_size)
            if not batch:
                break
            sends = [
                await self._producer.send(
                    doc["topic"],
                    key=bytes(doc["key"]),
                    value=bytes(doc["value"]),
                    headers=[(name, bytes(value)) for name, value in doc["headers"]],
                )
                for doc in batch
            ]
            await asyncio.gather(*sends)
            await self._collection.delete_many({"_id": {"$in": [doc["_id"] for doc in batch]}})
            for doc in batch:
                OUTBOX_PUBLISHED.labels(self._service, doc["topic"]).inc()
            published += len(batch)
            if len(batch) < self._batch_size:
                break
        await self._observe_backlog()
        return published

    async def _run(self) -> None:
        # Commits of this process wake the relay; the poll is for what others left behind
        # (a replica without the lease, one that died). Idle, it slows down to idle_seconds:
        # five relays polling five times a second were a fifth of the embedded database's load.
        backoff = self._poll_seconds
        while not self._stopping:
            try:
                self._wake.clear()
                published = await self.publish_pending()
                backoff = self._poll_seconds if published else min(backoff * 2, self._idle_seconds)
            except Exception:
                # Broker or database unreachable: the events stay stored; try again later.
                log.warning("outbox_relay_failed", exc_info=True, retry_in_seconds=backoff)
                backoff = min(backoff * 2, 10.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.publish_pending(), timeout=5)

    async def _observe_backlog(self) -> None:
        # Two reads: at most every BACKLOG_OBSERVE_SECONDS, not after every commit.
        if time.monotonic() - self._observed_at < BACKLOG_OBSERVE_SECONDS:
            return
        self._observed_at = time.monotonic()
        backlog = await self._collection.estimated_document_count()
        OUTBOX_BACKLOG.labels(self._service).set(backlog)
        oldest = await self._collection.find_one({}, sort=[("_id", ASCENDING)])
        age = (datetime.now(UTC) - oldest["created_at"]).total_seconds() if oldest else 0.0
        OUTBOX_OLDEST_AGE.labels(self._service).set(max(age, 0.0))
