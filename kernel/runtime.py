"""The clients and background workers every service runs, built from settings in one place."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence

from kernel import kafka, mongo
from kernel.consumer import EventConsumer, EventHandler, RunHandler
from kernel.http import ReadinessCheck
from kernel.logging import get_logger
from kernel.outbox import OutboxRelay
from kernel.rebuild import ConsumerSpec
from kernel.settings import ServiceSettings
from kernel.unit_of_work import UnitOfWork
from schemas.envelope import EventPayload
from schemas.topics import PRODUCT_TOPICS, TopicSpec, dead_letter_topic

log = get_logger(__name__)


class Runtime:
    """MongoDB client and database, Kafka producer, outbox relay and unit of work of one service."""

    def __init__(
        self, settings: ServiceSettings, *, extra_topics: Sequence[TopicSpec] = ()
    ) -> None:
        self.settings = settings
        self._topics = (*PRODUCT_TOPICS, *extra_topics)
        self.mongo = mongo.connect(settings)
        self.db = mongo.database(self.mongo, settings)
        self.producer = kafka.Publisher(settings)
        self.relay = OutboxRelay(
            db=self.db,
            producer=self.producer,
            service=settings.service_name,
            poll_seconds=settings.outbox_poll_seconds,
            idle_seconds=settings.outbox_idle_seconds,
        )
        self.uow = UnitOfWork(client=self.mongo, db=self.db, relay=self.relay)
        # What each consumer reads and how it handles it (``lapor-admin rebuild`` replays them).
        self.consumer_specs: list[ConsumerSpec] = []
        # What handlers read from memory that the service loads from its database at start
        # (declared holidays, ...): a rebuild loads it too before replaying.
        self.state_loaders: list[Callable[[], Awaitable[None]]] = []

    async def start(self) -> None:
        """Create topics (when allowed), connect the producer, prepare indexes, start the relay."""
        if self.settings.kafka_create_topics:
            # Before the producer starts, so that its first metadata already knows them.
            await kafka.ensure_topics(self.settings, self._topics)
        await self.producer.start()
        await self.uow.create_indexes()
        await self.relay.start()

    async def stop(self) -> None:
        """Flush the relay, then close the clients."""
        await self.relay.stop()
        await self.producer.stop()
        await self.mongo.close()

    def consumer(
        self,
        *,
        group_id: str,
        topics: Sequence[str],
        handlers: Mapping[str, EventHandler],
        payload_types: Mapping[str, type[EventPayload]],
        run_handlers: Mapping[str, RunHandler] | None = None,
    ) -> EventConsumer:
        """A consumer group of this service that dead-letters through this service's producer
        (its dead-letter topic is created with the others, before the producer starts)."""
        self._topics = (*self._topics, dead_letter_topic(group_id))
        self.consumer_specs.append(ConsumerSpec(group_id, topics, handlers, payload_types))
        return EventConsumer(
            settings=self.settings,
            group_id=group_id,
            topics=list(topics),
            handlers=handlers,
            payload_types=payload_types,
            producer=self.producer,
            batch=self.uow.batch,
            run_handlers=run_handlers,
        )

    def readiness_checks(self) -> list[ReadinessCheck]:
        """Checks for ``/readyz``: the database and the broker answer."""

        async def mongodb() -> None:
            await mongo.ping(self.mongo)

        async def kafka_broker() -> None:
            await self.producer.check()

        return [mongodb, kafka_broker]


class Startable:
    """Adapts a pair of coroutines (e.g. a store's index creation) to the Component protocol."""

    def __init__(
        self,
        start: Callable[[], Awaitable[None]],
        stop: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._start = start
        self._stop = stop

    async def start(self) -> None:
        await self._start()

    async def stop(self) -> None:
        if self._stop is not None:
            await self._stop()


class Periodic:
    """Runs a coroutine every ``seconds`` (first right after start) until stopped; a failing
    run is logged and retried at the next period."""

    def __init__(self, job: Callable[[], Awaitable[None]], *, seconds: float) -> None:
        self._job = job
        self._seconds = seconds
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"periodic-{self._job.__name__}")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=15)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._job()
            except Exception:
                log.warning("periodic_job_failed", job=self._job.__name__, exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._seconds)
