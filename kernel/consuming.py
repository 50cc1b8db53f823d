"""An ``EventGroup`` consumed through a FastStream batch subscriber, at least once, effects first.

FastStream runs the group's consumer (joining, fetching, graceful stop) and hands each fetched
batch to ``GroupConsumer.handle``, which adds what FastStream does not do:

- the batch is applied in chunks of ``consumer_transaction_events``, each in one database
  transaction; a chunk that holds a record to dead-letter, or in which anything fails, is applied
  again one record at a time;
- outages (database or broker unreachable) are retried without limit, so nothing is skipped; a
  handler that keeps raising for one event is dead-lettered after ``handler_max_attempts``;
- a dead letter keeps the record's bytes and headers and adds ``x-dlq-*`` provenance
  (``DeadLetters``), so ``lapor-admin replay-dlq`` can put it back;
- the offsets are committed (manual ack) only after the effects are stored; a batch that takes
  longer than half ``max_poll_interval_ms`` is cut and the rest fetched again, so a slow database
  costs time, not the group membership;
- consumer lag per partition, and its series dropped when a partition moves to another member.
"""

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.schemas import Topic
from faststream.kafka.subscriber.usecase import BatchSubscriber
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy

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
from kernel.subscriptions import EventGroup, EventHandler, Incoming, Record, RejectedEvent
from schemas.envelope import Event, EventPayload

# Opens one transaction that every effect of the events named joins (``UnitOfWork.batch``).
BatchTransaction = Callable[[Sequence[str]], contextlib.AbstractAsyncContextManager[None]]
# Writes one record to a topic and returns once the broker has it.
SendRecord = Callable[..., Awaitable[None]]
# Share of max_poll_interval_ms one batch may take before the rest is left for the next poll.
BATCH_BUDGET_SHARE = 0.5
IDLE_WAIT_MS = 10

log = get_logger(__name__)


class DeadLetters:
    """A group's dead-letter topic: the record as it came (key, value, every header) plus why,
    from where and when; written before the record's offset may be committed."""

    def __init__(self, *, service: str, group_id: str, topic: str, send: SendRecord) -> None:
        self._service = service
        self._group_id = group_id
        self.topic = topic
        self._send = send

    async def put(self, record: Record, reason: str, *, event_type: str) -> None:
        """Store the record in the dead-letter topic, retrying until the broker has it."""
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
                await self._send(self.topic, key=record.key, value=record.value, headers=headers)
                break
            except KafkaError:
                # The offset must not be committed before the record is safe in the DLQ.
                log.warning("dead_letter_publish_failed", exc_info=True)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        DEAD_LETTERS.labels(self._service, self.topic).inc()
        MESSAGES_CONSUMED.labels(self._service, record.topic, event_type, "dead_lettered").inc()


class _OnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    """A partition that moved to another member is no longer this one's lag to report, nor
    are the group's memories of it to be trusted (``EventGroup.forget_on_revoke``)."""

    def __init__(self, service: str, forget: Sequence[Callable[[], None]]) -> None:
        self._service = service
        self._forget = forget

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        for tp in revoked:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(self._service, tp.topic, str(tp.partition))
        for forget in self._forget:
            forget()

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        return None


class GroupConsumer:
    """The FastStream batch subscriber of one ``EventGroup`` on a service's broker."""

    def __init__(
        self,
        group: EventGroup,
        *,
        broker: KafkaBroker | KafkaRouter,
        settings: ServiceSettings,
        dead_letters: DeadLetters,
        batch: BatchTransaction | None = None,
    ) -> None:
        self.group = group
        self._settings = settings
        self._service = settings.service_name
        self._batch = batch
        self.dead_letters = dead_letters
        # How AsyncAPI names the subscriber (FastStream adds ":topic" per channel).
        self.title = f"{self._service}.{group.group_id}"
        self.subscriber: BatchSubscriber = broker.subscriber(
            *(Topic(topic.name, declare=False) for topic in group.topics),
            group_id=group.group_id,
            batch=True,
            max_records=settings.kafka_max_batch,
            # FastStream sleeps this long again after an empty fetch: short, so an event that
            # arrives while the group is idle waits at most this much more.
            batch_timeout_ms=IDLE_WAIT_MS,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            session_timeout_ms=settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=settings.kafka_heartbeat_interval_ms,
            max_poll_interval_ms=settings.kafka_max_poll_interval_ms,
            ack_policy=AckPolicy.MANUAL,
            decoder=self._decode,
            listener=_OnRevoke(self._service, group.on_revoked),
            title=self.title,
            description=group.description,
        )
        self.subscriber(self.handle)

    async def start(self) -> None:
        """Join the group and consume in the background (the broker is connected)."""
        await self.subscriber.start()

    async def stop(self) -> None:
        """Finish the batch in hand, commit it, and leave the group."""
        await self.subscriber.stop()

    @property
    def assigned(self) -> bool:
        """True once the group coordinator has given this instance its partitions."""
        consumer = self.subscriber.consumer
        return consumer is not None and bool(consumer.assignment())

    @property
    def partitions(self) -> frozenset[int]:
        """The partitions this instance holds now (the group shares them among instances)."""
        consumer = self.subscriber.consumer
        return frozenset(tp.partition for tp in consumer.assignment()) if consumer else frozenset()

    async def _decode(self, message: StreamMessage[Any]) -> list[Incoming]:
        """Every record of the batch, read; a record that cannot be read is kept with the reason
        (to be dead-lettered by ``handle``) instead of failing the batch."""
        return [self.group.read(record) for record in message.raw_message]

    async def handle(self, body: Any, message: KafkaMessage) -> None:
        """Apply the batch (or as much as fits in the time budget), then commit."""
        incoming: list[Incoming] = body
        try:
            await self._apply_batch(incoming, message)
        except Exception:
            # Nothing unexpected may advance the offsets past what was not applied: fetch the
            # batch again (its applied effects are idempotent).
            log.exception("consumer_batch_failed", records=len(incoming))
            await message.nack()
            return
        await self._commit(message)
        await self._observe_lag(message, {(i.record.topic, i.record.partition) for i in incoming})

    async def _apply_batch(self, batch: list[Incoming], message: KafkaMessage) -> None:
        budget = self._settings.kafka_max_poll_interval_ms / 1000 * BATCH_BUDGET_SHARE
        started = time.monotonic()
        # Partition after partition, each in offset order: per-complaint order is kept.
        size = self._settings.consumer_transaction_events
        for start in range(0, len(batch), size):
            if time.monotonic() - started > budget:
                self._come_again(message, batch[start:], seconds=time.monotonic() - started)
                return
            chunk = batch[start : start + size]
            if len(chunk) > 1 and await self._apply_together(chunk):
                continue
            for at, item in enumerate(chunk):
                if at and time.monotonic() - started > budget:
                    left = batch[start + at :]
                    self._come_again(message, left, seconds=time.monotonic() - started)
                    return
                await self._handle_one(item)

    def _come_again(self, message: KafkaMessage, rest: list[Incoming], *, seconds: float) -> None:
        """Set each partition back to its first record not handled: the next poll fetches it."""
        log.warning("consumer_batch_cut_short", seconds=round(seconds, 1), left=len(rest))
        first: dict[TopicPartition, int] = {}
        for item in rest:
            first.setdefault(
                TopicPartition(item.record.topic, item.record.partition), item.record.offset
            )
        for tp, offset in first.items():
            message.consumer.seek(tp, offset)

    async def _apply_together(self, chunk: list[Incoming]) -> bool:
        """Apply the records in one transaction; False (nothing stored) when any of them needs
        more care than that: one to dead-letter, or a failure of any kind."""
        if self._batch is None or any(item.problem is not None for item in chunk):
            return False
        work = [item for item in chunk if item.event is not None]
        if not work:
            return False
        events: list[Event[EventPayload]] = [item.event for item in work if item.event]
        timings: list[float] = []
        try:
            async with self._batch([event.id for event in events]):
                for run in self.group.runs(events):
                    timings += await self._apply_run(run)
        except Exception as exc:
            # Nothing of the batch is stored: apply each on its own, with retries and dead letters.
            log.info("consumer_batch_applied_one_by_one", events=len(work), error=repr(exc))
            return False
        for item, event, elapsed in zip(work, events, timings, strict=True):
            MESSAGE_HANDLING.labels(self._service, event.type).observe(elapsed)
            MESSAGES_CONSUMED.labels(
                self._service, item.record.topic, event.type, "processed"
            ).inc()
            with _about(event):
                # Each event's line, as one by one: what an operator follows a complaint by.
                log.info("event_applied", seconds=round(elapsed, 4), batch=len(work))
        for item in chunk:
            if item.event is None:
                MESSAGES_CONSUMED.labels(
                    self._service, item.record.topic, item.event_type, "ignored"
                ).inc()
        log.info("event_batch_applied", events=len(work))
        return True

    async def _apply_run(self, run: list[Event[Any]]) -> list[float]:
        """Apply consecutive events (several only when they share a run handler); the seconds
        each took, a run's time shared equally among its events."""
        started = time.perf_counter()
        if len(run) == 1:
            with _about(run[0]):
                await self.group.handlers[run[0].type](run[0])
        else:
            await self.group.run_handlers[run[0].type](run)
        return [(time.perf_counter() - started) / len(run)] * len(run)

    async def _handle_one(self, item: Incoming) -> None:
        if item.problem is not None:
            await self.dead_letters.put(item.record, item.problem, event_type=item.event_type)
        elif item.event is None:
            MESSAGES_CONSUMED.labels(
                self._service, item.record.topic, item.event_type, "ignored"
            ).inc()
        else:
            with _about(item.event):
                await self._apply(item.record, item.event, self.group.handlers[item.event.type])

    async def _apply(self, record: Record, event: Event[Any], handler: EventHandler) -> None:
        attempt = 0
        delay = 0.1
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                await handler(event)
            except RejectedEvent as exc:
                await self.dead_letters.put(record, f"rejected: {exc}", event_type=event.type)
                return
            except Exception as exc:
                outage = is_unavailable(exc) or isinstance(exc, KafkaError)
                HANDLER_FAILURES.labels(
                    self._service, event.type, "outage" if outage else "error"
                ).inc()
                if not outage and attempt >= self._settings.handler_max_attempts:
                    log.error("event_handler_gave_up", exc_info=True, attempts=attempt)
                    await self.dead_letters.put(
                        record, f"handler failed {attempt} times: {exc!r}", event_type=event.type
                    )
                    return
                log.warning("event_handler_failed", exc_info=True, attempt=attempt, outage=outage)
                if outage and not self.subscriber.running:
                    raise  # stopping: leave the record uncommitted for whoever comes next
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            elapsed = time.perf_counter() - started
            MESSAGE_HANDLING.labels(self._service, event.type).observe(elapsed)
            log.info("event_applied", seconds=round(elapsed, 4))
            MESSAGES_CONSUMED.labels(self._service, record.topic, event.type, "processed").inc()
            return

    async def _commit(self, message: KafkaMessage) -> None:
        consumer = message.consumer
        delay = 0.2
        while True:
            try:
                await message.ack()
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
                assigned = not isinstance(consumer, AIOKafkaConsumer) or consumer.assignment()
                if not self.subscriber.running or not assigned:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _observe_lag(self, message: KafkaMessage, partitions: set[tuple[str, int]]) -> None:
        consumer = message.consumer
        if not isinstance(consumer, AIOKafkaConsumer):
            return  # FastStream's test broker: no broker, no lag
        for topic, partition in partitions:
            tp = TopicPartition(topic, partition)
            end = consumer.highwater(tp)
            if end is None:
                continue
            with contextlib.suppress(KafkaError, AssertionError):
                position = await consumer.position(tp)
                CONSUMER_LAG.labels(self._service, topic, str(partition)).set(
                    max(end - position, 0)
                )


def _about(event: Event[Any]) -> contextlib.AbstractContextManager[None]:
    """Log lines within name the event, its complaint and its correlation ID."""
    return bound_context(
        event_id=event.id,
        event_type=event.type,
        complaint_id=event.subject,
        correlation_id=event.correlation_id,
    )
