"""Test helpers that talk to the real broker with plain aiokafka, as an outside subscriber would."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import murmur2
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from devstack.infra import EMBEDDED_BROKER_ENV
from devstack.platform import Platform
from kernel.auth import issue_token
from kernel.consuming import BatchTransaction, DeadLetters, GroupConsumer
from kernel.kafka import Publisher, ensure_topics
from kernel.settings import ServiceSettings
from kernel.streams import connect as connect_broker
from kernel.streams import new_broker
from kernel.subscriptions import EventGroup
from schemas.complaint import Role
from schemas.envelope import Event, EventPayload, encode, new_event
from schemas.topics import AGENCY_DIRECTORY, PRODUCT_TOPICS
from services.intake.config import IntakeSettings
from services.intake.directory import AGENCIES
from services.intake.domain import new_tracking_id
from services.routing.domain import agency_changes
from services.routing.service import load_directory


@dataclass(frozen=True)
class Seen:
    """A record read back from a topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]

    @property
    def type(self) -> str:
        return self.headers.get("ce_type", "")


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[Seen]], bool],
    timeout: float = 30,
) -> list[Seen]:
    """Read a topic from the beginning (no consumer group) until ``until`` holds or time is up."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    seen: list[Seen] = []
    try:
        partitions = None
        deadline = asyncio.get_running_loop().time() + timeout
        while partitions is None:
            found = consumer.partitions_for_topic(topic)
            if found:
                partitions = [TopicPartition(topic, p) for p in sorted(found)]
                break
            await consumer._client.force_metadata_update()
            if asyncio.get_running_loop().time() > deadline:
                return seen
            await asyncio.sleep(0.2)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while not until(seen) and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for r in records:
                    headers = {k: v.decode() for k, v in r.headers}
                    seen.append(Seen(r.topic, r.partition, r.offset, r.key, r.value, headers))
        return seen
    finally:
        await consumer.stop()


async def read_every_topic(bootstrap: str, topics: Sequence[str], *, timeout: float = 30) -> bytes:
    """Every record of these topics, from the beginning to their current end, as raw bytes
    (keys, values and headers, as a plain Kafka client reads them); fails when the end is not
    reached in time."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    chunks: list[bytes] = []
    try:
        await consumer._client.force_metadata_update()
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        assert partitions, f"none of {topics} exists"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = asyncio.get_running_loop().time() + timeout

        async def behind() -> bool:
            return any([await consumer.position(tp) < end for tp, end in ends.items()])

        while await behind():
            assert asyncio.get_running_loop().time() < deadline, "the topics' end not reached"
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for r in records:
                    chunks += [r.key or b"", r.value or b""]
                    chunks += [v for _, v in r.headers]
        return b"\n".join(chunks)
    finally:
        await consumer.stop()


def partition_of(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner puts a key on."""
    hashed: int = murmur2(key.encode())
    return (hashed & 0x7FFFFFFF) % partitions


def key_on_same_partition(key: str, partitions: int) -> str:
    """Another complaint ID on the same partition: once it is processed, so is everything
    published before it with ``key``."""
    while True:
        candidate = new_tracking_id()
        if candidate != key and partition_of(candidate, partitions) == partition_of(
            key, partitions
        ):
            return candidate


def key_on_partition(partition: int, partitions: int) -> str:
    """A fresh complaint ID that lands on ``partition``."""
    while True:
        candidate = new_tracking_id()
        if partition_of(candidate, partitions) == partition:
            return candidate


@asynccontextmanager
async def producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """A plain producer, like another system publishing onto our topics."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


def as_event(payload: EventPayload, *, source: str = "/tests") -> Event:
    """A payload in a fresh envelope."""
    return new_event(payload, source=source, correlation_id=uuid.uuid4().hex)


async def publish(bootstrap: str, topic: str, events: Sequence[Event]) -> None:
    """Publish events exactly as the services' relays do."""
    async with producer(bootstrap) as p:
        for event in events:
            record = encode(event)
            await p.send_and_wait(
                topic, key=record.key, value=record.value, headers=list(record.headers)
            )


async def publish_raw(
    bootstrap: str, topic: str, *, key: bytes, value: bytes, headers: list[tuple[str, bytes]]
) -> None:
    """Publish arbitrary bytes: how a broken or hostile producer looks to our consumers."""
    async with producer(bootstrap) as p:
        await p.send_and_wait(topic, key=key, value=value, headers=headers)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Start an app's components (real broker and database), serve it in-process over httpx."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


async def eventually(
    check: Callable[[], Any], *, timeout: float = 20, interval: float = 0.1
) -> Any:
    """Poll an async check until it returns something truthy; fail with its last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while asyncio.get_running_loop().time() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s; last value: {last!r}")


@contextmanager
def platform_on(
    bootstrap: str,
    mongo_url: str,
    log_dir: Path,
    *,
    env: dict[str, str] | None = None,
    front_ends: tuple[str, ...] = (),
) -> Iterator[Platform]:
    """The whole platform as processes on a test module's broker and the session's database,
    with quick group joins (and ``env``); stopped when the block ends."""
    from devstack.platform import start_platform

    running = start_platform(
        kafka_bootstrap=bootstrap,
        mongo_url=mongo_url,
        log_dir=log_dir,
        extra_env=QUICK_GROUPS | (env or {}),
        front_ends=front_ends,
    )
    try:
        yield running
    finally:
        running.stop()


@asynccontextmanager
async def serving(app: FastAPI, *, port: int | None = None) -> AsyncIterator[str]:
    """Serve an app over real TCP on ``port`` or a free one (for clients that speak HTTP
    themselves)."""
    import uvicorn

    from devstack.infra import free_port, wait_for_port

    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        await asyncio.to_thread(wait_for_port, port, timeout=5)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def bearer(
    role: Role,
    subject: str,
    *,
    agency: str | None = None,
    unit: str | None = None,
    settings: ServiceSettings | None = None,
) -> dict[str, str]:
    """An Authorization header for a development token (the services' default secret unless
    ``settings`` says otherwise)."""
    token = issue_token(
        settings or ServiceSettings(), role=role, subject=subject, agency_id=agency, unit_id=unit
    )
    return {"Authorization": f"Bearer {token}"}


P = TypeVar("P", bound=EventPayload)


def payloads(records: Sequence[Seen], subject: str, kind: type[P]) -> list[P]:
    """The events of one type about one aggregate, in topic order, as their payloads."""
    return [
        kind.model_validate_json(r.value or b"")
        for r in records
        if r.key == subject.encode() and r.type == kind.event_type()
    ]


def subjects(records: Sequence[Seen], kind: type[EventPayload]) -> set[str]:
    """The aggregates (record keys) that have an event of this type among the records."""
    return {r.key.decode() for r in records if r.key is not None and r.type == kind.event_type()}


async def announce_agencies(bootstrap: str, mongo_url: str, database: str) -> int:
    """Publish the shipped directory's agencies as routing does at start, and wait until the
    intake whose database is ``database`` knows them all; returns how many."""
    directory = load_directory("")
    payloads = agency_changes(None, directory, datetime.now(UTC))
    await publish(bootstrap, AGENCY_DIRECTORY.name, [as_event(p) for p in payloads])

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    ids = [p.agency_id for p in payloads]

    async def known() -> bool:
        return await client[database][AGENCIES].count_documents({"_id": {"$in": ids}}) == len(ids)

    try:
        await eventually(known, timeout=30)
    finally:
        await client.close()
    return len(payloads)


@asynccontextmanager
async def intake_serving(
    settings: IntakeSettings, bootstrap: str, mongo_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    """An intake app on the test broker and database that knows the shipped agencies (as when
    routing has announced its directory)."""
    from services.intake.app import create_app  # the whole service: only its tests need it

    async with running(create_app(settings)) as client:
        await announce_agencies(bootstrap, mongo_url, settings.database_name)
        yield client


# Group joins wait on the session timeout on Tansu: short ones keep the service processes of
# end-to-end tests quick to start and to hand partitions over.
QUICK_GROUPS = {
    # The tests' brokers are the embedded one.
    **EMBEDDED_BROKER_ENV,
    "KAFKA_SESSION_TIMEOUT_MS": "3000",
    "KAFKA_HEARTBEAT_INTERVAL_MS": "300",
    "HTTP_PUBLIC_RATE_PER_MINUTE": "0",  # the tests poll public endpoints in loops
}


@asynccontextmanager
async def running_group(
    settings: ServiceSettings,
    group: EventGroup,
    *,
    batch: BatchTransaction | None = None,
) -> AsyncIterator[GroupConsumer]:
    """One consumer group on its own FastStream broker, as a service runs it, until the block
    ends (then it stops as a service does: the batch in hand finished and committed)."""
    await ensure_topics(settings, [*PRODUCT_TOPICS, group.dead_letter_topic])
    broker = new_broker(settings)
    raw = Publisher(settings)
    await raw.start()
    consumer = GroupConsumer(
        group,
        broker=broker,
        settings=settings,
        dead_letters=DeadLetters(
            service=settings.service_name,
            group_id=group.group_id,
            topic=group.dead_letter_topic.name,
            send=raw.send_and_wait,
        ),
        batch=batch,
    )
    await connect_broker(broker, settings)
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()
        await broker.stop()
        await raw.stop()
