"""The shared consumer and outbox on the real broker and database: failure paths."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Gauge
from pymongo import AsyncMongoClient, monitoring
from pymongo.errors import AutoReconnect

from kernel.kafka import Publisher, ensure_topics
from kernel.mongo import in_transaction
from kernel.outbox import Outbox, OutboxRelay
from kernel.runtime import DatabaseGauges
from kernel.settings import ServiceSettings
from kernel.subscriptions import EventGroup
from kernel.unit_of_work import UnitOfWork
from schemas.envelope import Event
from schemas.events import ComplaintSubmitted
from schemas.topics import COMPLAINT_EVENTS, PRODUCT_TOPICS
from tests import factories
from tests.support import as_event, eventually, publish, read_topic, running_group


@pytest.fixture
def settings(bootstrap: str, mongo_url: str) -> ServiceSettings:
    return ServiceSettings(
        service_name="kerneltest",
        kafka_bootstrap_servers=bootstrap,
        mongo_url=mongo_url,
        mongo_database=f"it_kernel_{uuid.uuid4().hex[:8]}",
        handler_max_attempts=3,
    )


@pytest.fixture
async def publisher(settings: ServiceSettings) -> AsyncIterator[Publisher]:
    await ensure_topics(settings, PRODUCT_TOPICS)
    p = Publisher(settings)
    await p.start()
    yield p
    await p.stop()


def group_of(handler: Any) -> EventGroup:
    """A fresh consumer group of the complaint topic that hands submissions to ``handler``."""
    group = EventGroup(
        f"kernel-{uuid.uuid4().hex[:6]}", topics=[COMPLAINT_EVENTS], description="kernel test"
    )
    group.on(ComplaintSubmitted, handler)
    return group


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_its_attempts(
    settings: ServiceSettings, publisher: Publisher, bootstrap: str
) -> None:
    broken = as_event(factories.submitted())
    fine = as_event(factories.submitted())
    attempts: dict[str, int] = {}
    handled: list[str] = []

    async def handler(event: Event) -> None:
        attempts[event.id] = attempts.get(event.id, 0) + 1
        if event.id == broken.id:
            raise RuntimeError("bug in the handler")
        handled.append(event.id)

    group = group_of(handler)
    async with running_group(settings, group):
        await publish(bootstrap, COMPLAINT_EVENTS.name, [broken, fine])
        await eventually(lambda: asyncio.sleep(0, result=fine.id in handled), timeout=30)

    assert attempts[broken.id] == 3
    dlq = await read_topic(bootstrap, group.dead_letter_topic.name, until=lambda rs: len(rs) >= 1)
    [dead] = dlq
    assert dead.headers["ce_id"] == broken.id
    assert "handler failed 3 times" in dead.headers["x-dlq-reason"]
    assert "bug in the handler" in dead.headers["x-dlq-reason"]


async def test_an_outage_is_retried_past_the_attempt_limit_and_never_dead_lettered(
    settings: ServiceSettings, publisher: Publisher, bootstrap: str
) -> None:
    event = as_event(factories.submitted())
    calls: list[int] = []

    async def flaky(seen: Event) -> None:
        if seen.id != event.id:
            return  # earlier tests' events on the shared topic
        calls.append(1)
        if len(calls) <= 4:  # more failures than handler_max_attempts
            raise AutoReconnect("database unreachable")

    group = group_of(flaky)
    async with running_group(settings, group):
        await publish(bootstrap, COMPLAINT_EVENTS.name, [event])
        await eventually(lambda: asyncio.sleep(0, result=len(calls) >= 5), timeout=30)
    assert len(calls) == 5
    dlq = await read_topic(bootstrap, group.dead_letter_topic.name, until=bool, timeout=3)
    assert dlq == []


async def test_only_the_lease_holder_relays_and_events_go_out_in_order(
    settings: ServiceSettings,
    publisher: Publisher,
    bootstrap: str,
    mongo: AsyncMongoClient[Any],
) -> None:
    db = mongo[settings.database_name]
    cid = factories.new_tracking_id()
    events = [as_event(factories.submitted(cid, title=f"Laporan nomor {i}")) for i in range(20)]

    async def store(session: Any) -> None:
        await Outbox(db).add(events, session=session)

    await in_transaction(mongo, store)
    first = OutboxRelay(db=db, producer=publisher, service="a", poll_seconds=60)
    second = OutboxRelay(db=db, producer=publisher, service="b", poll_seconds=60)
    assert await second.publish_pending() == 20 or await first.publish_pending() == 20
    assert await first.publish_pending() == 0  # nothing left, or not the holder

    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: sum(r.key == cid.encode() for r in rs) >= 20,
    )
    ids = [r.headers["ce_id"] for r in seen if r.key == cid.encode()]
    assert ids == [e.id for e in events]


async def test_a_second_relay_is_refused_the_lease_while_the_first_holds_it(
    settings: ServiceSettings, publisher: Publisher, mongo: AsyncMongoClient[Any]
) -> None:
    db = mongo[settings.database_name]
    holder = OutboxRelay(db=db, producer=publisher, service="a", poll_seconds=60)
    other = OutboxRelay(db=db, producer=publisher, service="b", poll_seconds=60)
    await holder.publish_pending()

    async def store(session: Any) -> None:
        await Outbox(db).add([as_event(factories.submitted())], session=session)

    await in_transaction(mongo, store)
    assert await other.publish_pending() == 0
    assert await holder.publish_pending() == 1


class CountingFinds(monitoring.CommandListener):
    """Counts the reads of the outbox collection (the relay's own database traffic)."""

    def __init__(self) -> None:
        self.finds = 0
        self.deletes = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        collection = event.command.get(event.command_name)
        if collection == "outbox" and event.command_name == "find":
            self.finds += 1
        if collection == "outbox" and event.command_name == "delete":
            self.deletes += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_what_this_process_commits_is_published_from_memory_and_deleted_together(
    settings: ServiceSettings, publisher: Publisher, bootstrap: str, mongo_url: str
) -> None:
    """Committed events go out without the relay reading them back, and many commits'
    records are deleted by one command once published; an event another replica stored
    (not handed over) is still published, by the relay's poll."""
    counting = CountingFinds()
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url, event_listeners=[counting])
    db = client[settings.database_name]
    relay = OutboxRelay(db=db, producer=publisher, service="a", poll_seconds=60, delete_seconds=0.5)
    uow = UnitOfWork(client=client, db=db, relay=relay)
    cid = factories.new_tracking_id()
    events = [as_event(factories.submitted(cid, title=f"Laporan nomor {i}")) for i in range(10)]
    await relay.start()
    try:
        await eventually(lambda: asyncio.sleep(0, result=counting.finds >= 1), timeout=10)
        finds_at_start = counting.finds  # the poll for what an earlier process left
        for event in events:

            async def effect(session: Any, event: Event = event) -> tuple[None, list[Event]]:
                return None, [event]

            await uow.run(effect)
        seen = await read_topic(
            bootstrap,
            COMPLAINT_EVENTS.name,
            until=lambda rs: sum(r.key == cid.encode() for r in rs) >= 10,
        )
        assert [r.headers["ce_id"] for r in seen if r.key == cid.encode()] == [e.id for e in events]
        assert counting.finds == finds_at_start  # nothing read back
        stored = db["outbox"]

        async def emptied() -> bool:
            return await stored.count_documents({}) == 0

        await eventually(emptied, timeout=10)
        assert counting.deletes <= 3  # ten commits, deleted together

        other = as_event(factories.submitted(cid, title="Dari replika lain"))

        async def elsewhere(session: Any) -> None:
            await Outbox(db).add([other], session=session)

        await in_transaction(client, elsewhere)  # stored, but no relay was handed it
        relay.wake()  # what the poll timer does every poll_seconds
        late = await read_topic(
            bootstrap,
            COMPLAINT_EVENTS.name,
            until=lambda rs: any(r.headers["ce_id"] == other.id for r in rs),
        )
        assert sum(r.headers["ce_id"] == other.id for r in late) == 1
    finally:
        await relay.stop()
        await client.close()


async def test_a_slow_batch_is_cut_short_so_the_instance_keeps_its_partitions(
    settings: ServiceSettings, publisher: Publisher, bootstrap: str
) -> None:
    """Past max_poll_interval_ms without a poll the group hands the partitions to another
    member, and this one's commit can never succeed: under a slow database the consumer
    stalled there (seen in the benchmark). It now stops a batch at half the interval and
    fetches the rest again: each event is handled once, in time, by the same member."""
    slow_settings = settings.model_copy(
        update={
            "kafka_max_poll_interval_ms": 2_000,
            "kafka_session_timeout_ms": 6_000,
            "kafka_heartbeat_interval_ms": 300,
        }
    )
    mine = [as_event(factories.submitted()) for _ in range(12)]
    wanted = {e.id for e in mine}
    handled: list[str] = []

    async def slow(event: Event) -> None:
        if event.id in wanted:
            await asyncio.sleep(0.25)  # 12 events: 3 s, past the 2 s interval in one batch
            handled.append(event.id)

    async with running_group(slow_settings, group_of(slow)) as consumer:
        await eventually(lambda: asyncio.sleep(0, result=consumer.assigned), timeout=30)
        await publish(bootstrap, COMPLAINT_EVENTS.name, mine)
        await eventually(lambda: asyncio.sleep(0, result=wanted <= set(handled)), timeout=60)
        await asyncio.sleep(1)  # a redelivery after a lost membership would show up now
    assert sorted(handled) == sorted(wanted)  # each once: the member never lost its partitions


async def test_database_wide_gauges_are_exported_by_one_replica_and_move_when_it_stops(
    settings: ServiceSettings, mongo: AsyncMongoClient[Any]
) -> None:
    """Two replicas read the same queue: only one exports its size, so that ``sum`` over the
    replicas is the size (an alert's threshold would otherwise be N times too low)."""
    db = mongo[settings.database_name]
    await db["queue"].insert_many([{"n": n} for n in range(3)])

    def replica() -> tuple[DatabaseGauges, Gauge]:
        # Each replica is its own process with its own registry.
        gauge = Gauge("queued", "messages queued", ["channel"], registry=CollectorRegistry())

        async def queued() -> None:
            gauge.labels("email").set(await db["queue"].count_documents({}))

        return DatabaseGauges(queued, seconds=0.2, db=db, gauges=[gauge]), gauge

    def exported(gauge: Gauge) -> list[float]:
        return [s.value for m in gauge.collect() for s in m.samples]

    first, first_gauge = replica()
    second, second_gauge = replica()
    await first.start()
    await eventually(lambda: _ready(exported(first_gauge) == [3.0]))
    second_gauge.labels("email").set(99)  # what it exported before the lease was taken
    await second.start()
    await eventually(lambda: _ready(exported(second_gauge) == []))
    await asyncio.sleep(0.5)
    assert exported(first_gauge) == [3.0] and exported(second_gauge) == []

    await first.stop()  # releases the lease: the other replica takes the figures over
    await eventually(lambda: _ready(exported(second_gauge) == [3.0]))
    await second.stop()


async def _ready(condition: bool) -> bool:
    return condition
