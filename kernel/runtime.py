"""The clients and background workers every service runs, built from settings in one place."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence

from faststream.kafka import KafkaBroker, KafkaRouter
from prometheus_client import Gauge
from pymongo.asynchronous.database import AsyncDatabase

from kernel import kafka, mongo, streams
from kernel.consuming import DeadLetters, GroupConsumer
from kernel.http import ReadinessCheck
from kernel.lease import Lease
from kernel.logging import get_logger
from kernel.mongo import Document
from kernel.outbox import OutboxRelay
from kernel.settings import ServiceSettings
from kernel.subscriptions import EventGroup
from kernel.unit_of_work import UnitOfWork
from schemas.envelope import EventPayload
from schemas.topics import PRODUCT_TOPICS, TopicSpec

log = get_logger(__name__)


class Runtime:
    """MongoDB client and database, the FastStream broker with the service's publishers and
    consumer groups, the outbox relay and the unit of work of one service."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        extra_topics: Sequence[TopicSpec] = (),
        description: str = "",
    ) -> None:
        self.settings = settings
        self._topics = (*PRODUCT_TOPICS, *extra_topics)
        self.mongo = mongo.connect(settings)
        self.db = mongo.database(self.mongo, settings)
        self.broker: KafkaBroker = streams.new_broker(settings, description=description)
        self.publishers = streams.EventPublishers(settings.service_name)
        # Dead letters and replays copy records byte for byte, headers included, which
        # FastStream's producer (text headers, its own content-type first) cannot.
        self.raw_producer = kafka.Publisher(settings)
        self.relay = OutboxRelay(
            db=self.db,
            producer=self.publishers,
            service=settings.service_name,
            poll_seconds=settings.outbox_poll_seconds,
            idle_seconds=settings.outbox_idle_seconds,
        )
        self.uow = UnitOfWork(client=self.mongo, db=self.db, relay=self.relay)
        # What each consumer group reads and how it handles it (``lapor-admin rebuild`` replays
        # them).
        self.groups: list[GroupConsumer] = []
        # What handlers read from memory that the service loads from its database at start
        # (declared holidays, ...): a rebuild loads it too before replaying.
        self.state_loaders: list[Callable[[], Awaitable[None]]] = []

    async def start(self) -> None:
        """Create topics (when allowed), connect the producers, prepare indexes, start the relay."""
        if self.settings.kafka_create_topics:
            # Before the producer starts, so that its first metadata already knows them.
            await kafka.ensure_topics(self.settings, self._topics)
        await streams.connect(self.broker, self.settings)
        await self.raw_producer.start()
        await self.uow.create_indexes()
        await self.relay.start()

    async def stop(self) -> None:
        """Flush the relay, then close the clients."""
        await self.relay.stop()
        await self.broker.stop()
        await self.raw_producer.stop()
        await self.mongo.close()

    def subscribe(self, group: EventGroup, router: KafkaRouter) -> GroupConsumer:
        """The group as a FastStream subscriber on the service's router, dead-lettering through
        this service's raw producer (its dead-letter topic is created with the others)."""
        self._topics = (*self._topics, group.dead_letter_topic)
        consumer = GroupConsumer(
            group,
            broker=router,
            settings=self.settings,
            dead_letters=DeadLetters(
                service=self.settings.service_name,
                group_id=group.group_id,
                topic=group.dead_letter_topic.name,
                send=self.raw_producer.send_and_wait,
            ),
            batch=self.uow.batch,
        )
        self.groups.append(consumer)
        return consumer

    def publish(self, payloads: Iterable[type[EventPayload]], router: KafkaRouter) -> None:
        """Publishers on the service's router for the topics these events go to."""
        self.publishers.declare(router, payloads)

    def include(self, router: KafkaRouter) -> GroupConsumer:
        """Put the service's router on its broker; its consumer group, to start and stop with
        the service (one per service)."""
        self.broker.include_router(router)
        [consumer] = self.groups
        return consumer

    def readiness_checks(self) -> list[ReadinessCheck]:
        """Checks for ``/readyz``: the database and the broker answer."""

        async def mongodb() -> None:
            await mongo.ping(self.mongo)

        async def kafka_broker() -> None:
            await self.raw_producer.check()

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

    def __init__(self, job: Callable[[], Awaitable[object]], *, seconds: float) -> None:
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

    async def _tick(self) -> None:
        await self._job()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._tick()
            except Exception:
                log.warning("periodic_job_failed", job=self._job.__name__, exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._seconds)


class DatabaseGauges(Periodic):
    """Sets gauges of figures the whole database holds (open complaints, queued messages), in
    one replica at a time: every replica reads the same database, so were each to export them,
    ``sum`` over the replicas would be N times the figure and an alert's threshold N times too
    low. The replica holding the lease exports them; the others export none of their series."""

    def __init__(
        self,
        job: Callable[[], Awaitable[None]],
        *,
        seconds: float,
        db: AsyncDatabase[Document],
        gauges: Sequence[Gauge],
    ) -> None:
        super().__init__(job, seconds=seconds)
        # Lapses after three missed periods: a dead holder's figures move to another replica.
        self.lease = Lease(db, f"gauges-{job.__name__}", seconds=max(3 * seconds, 10.0))
        self._gauges = gauges

    async def stop(self) -> None:
        await super().stop()
        await self.lease.release()

    async def _tick(self) -> None:
        if await self.lease.hold():
            await self._job()
            return
        for gauge in self._gauges:
            gauge.clear()  # another replica exports them
