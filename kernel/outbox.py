"""Transactional outbox: events are stored with the state change that caused them, then relayed.

A service never publishes to Kafka directly. It writes its change and the resulting events in one
MongoDB transaction (``Outbox.add``), and ``OutboxRelay`` publishes stored events in order and
deletes them once Kafka has acknowledged them. A crash between publish and delete publishes an
event twice; consumers drop the repeat by its event ID. One relay per service holds a lease, so
several replicas do not publish the same backlog concurrently (``kernel.lease``).

What this process commits, the relay is handed at once and publishes from memory: reading back
what was just written cost a query per commit, and a poll that found nothing another. The
collection is read only for what memory cannot know: at start (what a killed process left),
after a failed publish, and every ``idle_seconds`` for what a replica without the lease stored.
Acknowledged records are deleted together, at most ``delete_seconds`` after their publication
(one command for many commits); a crash in between publishes them again, which consumers drop.
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
from kernel.mongo import Document, Session, drop_index_if_present
from schemas.envelope import Event, encode
from schemas.events import topic_for

OUTBOX_COLLECTION = "outbox"
UNUSED_OUTBOX_INDEX = "created_at_1"
# Prometheus scrapes every 15-30 s: a fresher gauge is read by nobody, and the two reads it
# takes were a tenth of the embedded database's operations with five relays.
BACKLOG_OBSERVE_SECONDS = 15.0
# How long published records may wait to be deleted together: what a crash publishes twice.
DELETE_SECONDS = 1.0

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

    async def create_indexes(self) -> None:
        """None: records are read oldest first by ``_id`` (an ObjectId, in creation order), and
        each is written and deleted once, so an index would be paid for twice per event in
        every service. Earlier versions made one on ``created_at``: it is dropped."""
        await drop_index_if_present(self._collection, UNUSED_OUTBOX_INDEX)

    async def add(self, events: Sequence[Event[Any]], *, session: Session) -> list[Document]:
        """Store events; they are published, each to its topic, only if the transaction commits.
        The stored records, to hand to the relay once it has."""
        if not events:
            return []
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
        return docs


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
        delete_seconds: float = DELETE_SECONDS,
    ) -> None:
        self._idle_seconds = max(idle_seconds or poll_seconds, poll_seconds)
        self._collection = db[OUTBOX_COLLECTION]
        self._producer = producer
        self._service = service
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._delete_seconds = delete_seconds
        self._lease = Lease(db, "outbox-relay", seconds=lease_seconds)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._observed_at = 0.0
        # Committed by this process and not yet published, in commit order.
        self._fresh: list[Document] = []
        # Acknowledged by the broker, still stored: deleted together.
        self._acknowledged: list[ObjectId] = []
        self._delete_by = 0.0  # monotonic time by which the acknowledged are deleted
        self._poll_due = True  # at start: whatever an earlier process left
        self._polled_at = 0.0
        self._found_by_poll = 0

    def committed(self, records: Sequence[Document]) -> None:
        """Records this process has just committed: published from memory, without reading
        them back."""
        if records:
            self._fresh.extend(records)
            self._wake.set()

    def wake(self) -> None:
        """Look at the collection now rather than at the next poll."""
        self._poll_due = True
        self._wake.set()

    async def start(self) -> None:
        """Start relaying in the background."""
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
        self._poll_due = True
        return await self._publish()

    async def _publish(self) -> int:
        """Publish what memory holds, and the collection's records when a poll is due."""
        if not await self._lease.hold():
            # The holder publishes this process's records from the collection.
            self._fresh.clear()
            self._poll_due = True
            await self._delete_acknowledged(now=True)
            return 0
        published = 0
        try:
            while True:
                if self._poll_due:
                    batch = await self._poll()
                else:
                    batch = self._fresh[: self._batch_size]
                    del self._fresh[: len(batch)]
                if not batch:
                    break
                await self._send(batch)
                published += len(batch)
        except BaseException:
            # Whatever memory held is stored: the collection says what is left.
            self._fresh.clear()
            self._poll_due = True
            raise
        await self._delete_acknowledged(now=False)
        await self._observe_backlog()
        return published

    async def _poll(self) -> list[Document]:
        """The oldest stored records not yet published; the poll is over when fewer than a
        batch are left."""
        await self._delete_acknowledged(now=True)  # or they would be read again
        self._polled_at = time.monotonic()
        batch: list[Document] = (
            await self._collection.find({}).sort("_id", ASCENDING).to_list(self._batch_size)
        )
        self._poll_due = len(batch) == self._batch_size
        # Committed, so perhaps also handed over meanwhile: once is enough.
        read = {doc["_id"] for doc in batch}
        handed = len(self._fresh)
        self._fresh = [doc for doc in self._fresh if doc["_id"] not in read]
        # Records no commit of this process handed over: another replica's, or a dead one's.
        self._found_by_poll = len(batch) - (handed - len(self._fresh))
        return batch

    async def _send(self, batch: list[Document]) -> None:
        # ObjectIds of one process grow: commits that finished out of order go out in order.
        batch.sort(key=lambda doc: doc["_id"])
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
        if not self._acknowledged:
            self._delete_by = time.monotonic() + self._delete_seconds
        self._acknowledged += [doc["_id"] for doc in batch]
        for doc in batch:
            OUTBOX_PUBLISHED.labels(self._service, doc["topic"]).inc()

    async def _delete_acknowledged(self, *, now: bool) -> None:
        """Delete what the broker acknowledged: ``now``, or once the oldest has waited
        ``delete_seconds`` or a batch has gathered."""
        if not self._acknowledged:
            return
        due = time.monotonic() >= self._delete_by or len(self._acknowledged) >= self._batch_size
        if not (now or due):
            return
        ids, self._acknowledged = self._acknowledged, []
        try:
            await self._collection.delete_many({"_id": {"$in": ids}})
        except BaseException:
            self._acknowledged = ids + self._acknowledged
            raise

    async def _run(self) -> None:
        # Commits of this process hand their records over and wake the relay; the poll is for
        # what others left behind (a replica without the lease, one that died): every
        # poll_seconds while it finds some, less often the longer it finds none, up to
        # idle_seconds (five relays polling five times a second were a fifth of the embedded
        # database's load).
        poll_every = self._poll_seconds
        failing = 0.0
        while not self._stopping:
            self._wake.clear()
            polled_before = self._polled_at
            try:
                await self._publish()
                failing = 0.0
            except Exception:
                # Broker or database unreachable: the events stay stored; try again later.
                failing = min(max(failing * 2, self._poll_seconds), 10.0)
                self._poll_due = True
                log.warning("outbox_relay_failed", exc_info=True, retry_in_seconds=failing)
            if self._polled_at != polled_before:
                found = self._found_by_poll
                poll_every = (
                    self._poll_seconds if found else min(poll_every * 2, self._idle_seconds)
                )
            next_poll = self._polled_at + poll_every
            wait = failing or next_poll - time.monotonic()
            if self._acknowledged:
                wait = min(wait, self._delete_by - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.0))
            if time.monotonic() >= next_poll:
                self._poll_due = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.publish_pending(), timeout=5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._delete_acknowledged(now=True), timeout=5)

    async def _observe_backlog(self) -> None:
        # Two reads: at most every BACKLOG_OBSERVE_SECONDS, not after every commit.
        if time.monotonic() - self._observed_at < BACKLOG_OBSERVE_SECONDS:
            return
        self._observed_at = time.monotonic()
        stored = await self._collection.estimated_document_count()
        OUTBOX_BACKLOG.labels(self._service).set(max(stored - len(self._acknowledged), 0))
        oldest = await self._collection.find_one(
            {"_id": {"$nin": self._acknowledged}}, sort=[("_id", ASCENDING)]
        )
        age = (datetime.now(UTC) - oldest["created_at"]).total_seconds() if oldest else 0.0
        OUTBOX_OLDEST_AGE.labels(self._service).set(max(age, 0.0))
