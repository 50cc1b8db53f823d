"""At-least-once event consumption with idempotent effects and a dead-letter topic.

For each batch: decode every record, hand the event to the service's handler, and commit the
offsets only after every effect is stored. A record that is not a valid event, or that the
handler rejects as the sender's fault, goes to the group's dead-letter topic with the reason and
its original headers, and the consumer moves on. Outages (database or broker unreachable) are
retried without limit so nothing is skipped; a handler that keeps raising for one event is
dead-lettered after ``handler_max_attempts`` so a bug cannot stall a partition forever.

Given a ``batch`` (the service's ``UnitOfWork.batch``), the records are applied in chunks of
``consumer_transaction_events``, each chunk in one database transaction; a chunk that holds a
record to dead-letter, or in which anything fails, is applied again one record at a time, with
the retries and dead letters above.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from kernel import kafka
from kernel.logging import bound_context, get_logger
from kernel.metrics import (
    CONSUMER_LAG,
    DEAD_LETTERS,
    HANDLER_FAILURES,
    MESSAGE_HANDLING,
    MESSAGES_CONSUMED,
)
from kernel.mongo import is_unavailable
from kernel.settings import ServiceSettings
from schemas.envelope import Event, EventPayload, InvalidEvent, decode, event_type_of, header_map
from schemas.topics import dead_letter_topic

EventHandler = Callable[[Event], Awaitable[None]]
# Applies consecutive events together (in one batch, so in one transaction): one write for all
# of them instead of one each. Registered for one or more types; it must have the effect of
# their single handlers applied in turn, which is what a failed batch falls back to.
RunHandler = Callable[[Sequence[Event]], Awaitable[None]]
# Opens one transaction that every effect of the events named joins (``UnitOfWork.batch``).
BatchTransaction = Callable[[Sequence[str]], contextlib.AbstractAsyncContextManager[None]]
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
# Share of max_poll_interval_ms one batch may take before the rest is left for the next poll.
BATCH_BUDGET_SHARE = 0.5

log = get_logger(__name__)


class RejectedEvent(ValueError):
    """A well-formed event the service cannot accept (the sender's fault): dead-letter it."""


class EventConsumer:
    """One consumer group: subscribes, dispatches by CloudEvents type, commits after effects."""

    def __init__(
        self,
        *,
        settings: ServiceSettings,
        group_id: str,
        topics: list[str],
        handlers: Mapping[str, EventHandler],
        payload_types: Mapping[str, type[EventPayload]],
        producer: kafka.Publisher,
        batch: BatchTransaction | None = None,
        run_handlers: Mapping[str, RunHandler] | None = None,
    ) -> None:
        self._settings = settings
        self._batch = batch
        self._run_handlers = dict(run_handlers or {})
        self._group_id = group_id
        self._topics = topics
        self._handlers = dict(handlers)
        self._payload_types = payload_types
        self._producer = producer
        self._dlq = dead_letter_topic(group_id)
        self._service = settings.service_name
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def dead_letter_topic(self) -> str:
        """Where this group's rejected records go."""
        return self._dlq.name

    @property
    def assigned(self) -> bool:
        """True once the group coordinator has given this instance its partitions."""
        return self._consumer is not None and bool(self._consumer.assignment())

    @property
    def partitions(self) -> frozenset[int]:
        """The partitions this instance holds now (the group shares them among instances)."""
        if self._consumer is None:
            return frozenset()
        return frozenset(tp.partition for tp in self._consumer.assignment())

    async def start(self) -> None:
        """Join the group and consume in the background."""
        if self._settings.kafka_create_topics:
            await kafka.ensure_topics(self._settings, [self._dlq])
        self._consumer = kafka.consumer(
            self._settings, group_id=self._group_id, topics=self._topics
        )
        await kafka.connect(self._consumer, self._settings)
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self._group_id}")

    async def stop(self) -> None:
        """Finish the batch in hand, commit it, and leave the group."""
        self._stopping = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=15)
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        while not self._stopping:
            try:
                batches = await self._consumer.getmany(timeout_ms=200)
            except KafkaError:
                log.warning("kafka_fetch_failed", exc_info=True)
                await asyncio.sleep(1)
                continue
            if not batches:
                continue
            await self._handle_batch(batches)
            await self._commit()
            await self._observe_lag(batches.keys())

    async def _handle_batch(self, batches: Mapping[TopicPartition, list[Record]]) -> None:
        """Handle the batch, or as much of it as fits in the time budget; what does not fit is
        fetched again (the positions are set back to it) and so not committed.

        Past ``max_poll_interval_ms`` without a poll, the group gives the partitions to another
        member: a slow database must cost time, not the membership.
        """
        assert self._consumer is not None
        budget = self._settings.kafka_max_poll_interval_ms / 1000 * BATCH_BUDGET_SHARE
        started = time.monotonic()
        # Partition after partition, each in offset order: per-complaint order is kept.
        ordered = [(tp, record) for tp, records in batches.items() for record in records]
        size = self._settings.consumer_transaction_events
        for start in range(0, len(ordered), size):
            if time.monotonic() - started > budget:
                self._come_again(ordered[start:], seconds=time.monotonic() - started)
                return
            chunk = ordered[start : start + size]
            if len(chunk) > 1 and await self._apply_together([record for _, record in chunk]):
                continue
            for at, (_, record) in enumerate(chunk):
                if at and time.monotonic() - started > budget:
                    self._come_again(ordered[start + at :], seconds=time.monotonic() - started)
                    return
                await self._handle(record)

    def _come_again(self, rest: list[tuple[TopicPartition, Record]], *, seconds: float) -> None:
        """Set each partition back to its first record not handled: the next poll fetches it."""
        assert self._consumer is not None
        log.warning("consumer_batch_cut_short", seconds=round(seconds, 1), left=len(rest))
        first: dict[TopicPartition, int] = {}
        for tp, record in rest:
            first.setdefault(tp, record.offset)
        for tp, offset in first.items():
            self._consumer.seek(tp, offset)

    async def _apply_together(self, records: list[Record]) -> bool:
        """Apply the records in one transaction; False (nothing stored) when any of them needs
        more care than that: one to dead-letter, or a failure of any kind."""
        if self._batch is None:
            return False
        work: list[tuple[Record, Event]] = []
        ignored: list[tuple[Record, str]] = []
        for record in records:
            event_type, event, _, problem = self._decoded(record)
            if problem is not None:
                return False  # to be dead-lettered, one by one
            if event is None:
                ignored.append((record, event_type))
            else:
                work.append((record, event))
        if not work:
            return False
        timings: list[float] = []
        try:
            async with self._batch([event.id for _, event in work]):
                for run in _runs([event for _, event in work], self._run_handlers):
                    timings += await self._apply_run(run)
        except Exception as exc:
            # Nothing of the batch is stored: apply each on its own, with retries and dead letters.
            log.info("consumer_batch_applied_one_by_one", events=len(work), error=repr(exc))
            return False
        for (record, event), elapsed in zip(work, timings, strict=True):
            MESSAGE_HANDLING.labels(self._service, event.type).observe(elapsed)
            MESSAGES_CONSUMED.labels(self._service, record.topic, event.type, "processed").inc()
            with _about(event):
                # Each event's line, as one by one: what an operator follows a complaint by.
                log.info("event_applied", seconds=round(elapsed, 4), batch=len(work))
        for record, event_type in ignored:
            MESSAGES_CONSUMED.labels(self._service, record.topic, event_type, "ignored").inc()
        log.info("event_batch_applied", events=len(work))
        return True

    async def _apply_run(self, run: list[Event]) -> list[float]:
        """Apply consecutive events (several only when they share a run handler); the seconds
        each took, a run's time shared equally among its events."""
        started = time.perf_counter()
        if len(run) == 1:
            with _about(run[0]):
                await self._handlers[run[0].type](run[0])
        else:
            await self._run_handlers[run[0].type](run)
        return [(time.perf_counter() - started) / len(run)] * len(run)

    def _decoded(self, record: Record) -> tuple[str, Event | None, EventHandler | None, str | None]:
        """``(event type, event, handler, reason to dead-letter)``; no event and no reason for a
        type this group does not handle."""
        try:
            headers = header_map(record.headers)
        except InvalidEvent as exc:
            return "unknown", None, None, str(exc)
        event_type = event_type_of(headers)
        if event_type is None:
            return "unknown", None, None, "missing ce_type header"
        handler = self._handlers.get(event_type)
        if handler is None:
            return event_type, None, None, None
        try:
            event = decode(headers, record.value or b"", self._payload_types)
        except InvalidEvent as exc:
            return event_type, None, handler, str(exc)
        return event_type, event, handler, None

    async def _commit(self) -> None:
        assert self._consumer is not None
        delay = 0.2
        while True:
            try:
                await self._consumer.commit()
                return
            except CommitFailedError:
                # The group gave the partitions to another member (this one was too slow or
                # cut off): retrying cannot succeed, and only the next poll rejoins the group.
                # The effects are stored, so whoever gets the records again skips them.
                log.warning("kafka_commit_abandoned_after_rebalance")
                return
            except KafkaError:
                # A rebalance or a broker outage: the effects are stored, so redelivery is safe.
                log.warning("kafka_commit_failed", exc_info=True)
                if self._stopping or not self._consumer.assignment():
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _observe_lag(self, partitions: Iterable[TopicPartition]) -> None:
        assert self._consumer is not None
        for tp in partitions:
            end = self._consumer.highwater(tp)
            if end is None:
                continue
            with contextlib.suppress(KafkaError, AssertionError):
                position = await self._consumer.position(tp)
                CONSUMER_LAG.labels(self._service, tp.topic, str(tp.partition)).set(
                    max(end - position, 0)
                )

    async def _handle(self, record: Record) -> None:
        event_type, event, handler, problem = self._decoded(record)
        if problem is not None:
            await self._dead_letter(record, problem, event_type=event_type)
        elif event is None or handler is None:
            MESSAGES_CONSUMED.labels(self._service, record.topic, event_type, "ignored").inc()
        else:
            with _about(event):
                await self._apply(record, event, handler)

    async def _apply(self, record: Record, event: Event, handler: EventHandler) -> None:
        attempt = 0
        delay = 0.1
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                await handler(event)
            except RejectedEvent as exc:
                await self._dead_letter(record, f"rejected: {exc}", event_type=event.type)
                return
            except Exception as exc:
                outage = is_unavailable(exc) or isinstance(exc, KafkaError)
                HANDLER_FAILURES.labels(
                    self._service, event.type, "outage" if outage else "error"
                ).inc()
                if not outage and attempt >= self._settings.handler_max_attempts:
                    log.error("event_handler_gave_up", exc_info=True, attempts=attempt)
                    await self._dead_letter(
                        record, f"handler failed {attempt} times: {exc!r}", event_type=event.type
                    )
                    return
                log.warning("event_handler_failed", exc_info=True, attempt=attempt, outage=outage)
                if self._stopping and outage:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            elapsed = time.perf_counter() - started
            MESSAGE_HANDLING.labels(self._service, event.type).observe(elapsed)
            log.info("event_applied", seconds=round(elapsed, 4))
            MESSAGES_CONSUMED.labels(self._service, record.topic, event.type, "processed").inc()
            return

    async def _dead_letter(self, record: Record, reason: str, *, event_type: str) -> None:
        log.warning(
            "event_dead_lettered",
            reason=reason,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        headers = [
            *list(record.headers),
            ("x-dlq-reason", reason.encode()),
            ("x-dlq-consumer-group", self._group_id.encode()),
            ("x-dlq-original-topic", record.topic.encode()),
            ("x-dlq-original-partition", str(record.partition).encode()),
            ("x-dlq-original-offset", str(record.offset).encode()),
            ("x-dlq-failed-at", datetime.now(UTC).isoformat().encode()),
        ]
        delay = 0.2
        while True:
            try:
                await self._producer.send_and_wait(
                    self._dlq.name, key=record.key, value=record.value, headers=headers
                )
                break
            except KafkaError:
                # The offset must not be committed before the record is safe in the DLQ.
                log.warning("dead_letter_publish_failed", exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        DEAD_LETTERS.labels(self._service, self._dlq.name).inc()
        MESSAGES_CONSUMED.labels(self._service, record.topic, event_type, "dead_lettered").inc()


def _about(event: Event) -> contextlib.AbstractContextManager[None]:
    """Log lines within name the event, its complaint and its correlation ID."""
    return bound_context(
        event_id=event.id,
        event_type=event.type,
        complaint_id=event.subject,
        correlation_id=event.correlation_id,
    )


def _runs(events: Sequence[Event], run_handlers: Mapping[str, RunHandler]) -> list[list[Event]]:
    """The events in order, consecutive ones with the same run handler grouped together."""
    runs: list[list[Event]] = []
    for event in events:
        handler = run_handlers.get(event.type)
        last = runs[-1] if runs else None
        # ==, not is: a bound method is a new object at every attribute lookup.
        if last is not None and handler is not None and handler == run_handlers.get(last[0].type):
            last.append(event)
        else:
            runs.append([event])
    return runs
