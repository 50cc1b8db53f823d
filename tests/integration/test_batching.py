"""Many events in one transaction, many submissions in one transaction: on the real broker and
database, batching changes how many transactions are paid for, never what is stored.

- a consumer applies a fetched batch in one transaction, each event's effect once;
- a batch in which one handler fails or one record is poison is applied again one by one: the
  failing event is retried, the poison dead-lettered, the others applied once;
- a replay of events already applied changes nothing;
- concurrent submissions share a transaction; one with a taken key gets its own error, the
  others are stored; an unreachable database fails every caller promptly.
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import Binary
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from kernel.consumer import EventConsumer
from kernel.group_commit import GroupCommit
from kernel.kafka import Publisher, ensure_topics
from kernel.mongo import Session, is_unavailable
from kernel.settings import ServiceSettings
from kernel.unit_of_work import UnitOfWork
from schemas.envelope import Event
from schemas.events import COMPLAINT_EVENT_TYPES, ComplaintSubmitted
from schemas.topics import COMPLAINT_EVENTS, PRODUCT_TOPICS, dead_letter_topic
from services.intake.domain import ComplaintCreate, new_record, new_tracking_id
from services.intake.store import ComplaintStore
from tests import factories
from tests.support import as_event, eventually, publish, publish_raw, read_topic


@pytest.fixture
def settings(bootstrap: str, mongo_url: str) -> ServiceSettings:
    return ServiceSettings(
        service_name="batchtest",
        kafka_bootstrap_servers=bootstrap,
        mongo_url=mongo_url,
        mongo_database=f"it_batch_{uuid.uuid4().hex[:8]}",
        handler_max_attempts=3,
        kafka_session_timeout_ms=3_000,
        kafka_heartbeat_interval_ms=300,
        consumer_transaction_events=25,
    )


@pytest.fixture
async def publisher(settings: ServiceSettings) -> AsyncIterator[Publisher]:
    await ensure_topics(settings, PRODUCT_TOPICS)
    p = Publisher(settings)
    await p.start()
    yield p
    await p.stop()


class Counting:
    """The service's unit of work, counting the batches opened and how many events each held."""

    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.sizes: list[int] = []

    @contextlib.asynccontextmanager
    async def batch(self, event_ids: Sequence[str]) -> AsyncIterator[None]:
        self.sizes.append(len(event_ids))
        async with self.uow.batch(event_ids):
            yield


async def started_consumer(
    settings: ServiceSettings, publisher: Publisher, counting: Counting, handler: Any
) -> EventConsumer:
    consumer = EventConsumer(
        settings=settings,
        group_id=f"batch-{uuid.uuid4().hex[:6]}",
        topics=[COMPLAINT_EVENTS.name],
        handlers={ComplaintSubmitted.event_type(): handler},
        payload_types=COMPLAINT_EVENT_TYPES,
        producer=publisher,
        batch=counting.batch,
    )
    await consumer.start()
    return consumer


def counter_handler(uow: UnitOfWork, db: Any, fail_once: set[str] | None = None) -> Any:
    """Counts each event's effect in the database (a second effect would show as 2) and queues
    one outgoing event per event (the outbox must hold exactly one each)."""
    failed: set[str] = set()

    async def handler(event: Event) -> None:
        async def effect(session: Session) -> tuple[None, list[Event]]:
            await db.effects.update_one(
                {"_id": event.subject}, {"$inc": {"n": 1}}, upsert=True, session=session
            )
            if fail_once and event.subject in fail_once and event.subject not in failed:
                failed.add(event.subject)
                raise RuntimeError("a bug met once")
            return None, [as_event(factories.routed(event.subject))]

        await uow.run_once(event, effect)

    return handler


async def queued(db: Any, ids: set[str]) -> int:
    """Events in the outbox about these complaints (the topic holds other tests' events too)."""
    return int(await db.outbox.count_documents({"key": {"$in": [Binary(i.encode()) for i in ids]}}))


async def effects(db: Any, ids: set[str]) -> dict[str, int]:
    docs = await db.effects.find({"_id": {"$in": list(ids)}}).to_list(None)
    return {doc["_id"]: doc["n"] for doc in docs}


async def test_a_fetched_batch_is_applied_in_shared_transactions_each_effect_once(
    settings: ServiceSettings,
    publisher: Publisher,
    bootstrap: str,
    mongo: AsyncMongoClient[Any],
) -> None:
    db = mongo[settings.database_name]
    uow = UnitOfWork(client=mongo, db=db)
    events = [as_event(factories.submitted()) for _ in range(60)]
    events.append(events[7])  # the relay published one of them twice
    await publish(bootstrap, COMPLAINT_EVENTS.name, events)  # before the consumer: one fetch
    ids = {event.subject for event in events}
    counting = Counting(uow)
    consumer = await started_consumer(settings, publisher, counting, counter_handler(uow, db))
    try:
        await eventually(lambda: _all_applied(db, ids), timeout=60)
    finally:
        await consumer.stop()

    assert await effects(db, ids) == dict.fromkeys(ids, 1)
    assert await queued(db, ids) == len(ids)  # one routed event each, not two
    assert await db.processed_events.count_documents({"_id": {"$in": [e.id for e in events]}}) == (
        len(ids)
    )
    assert max(counting.sizes) > 1  # events shared a transaction
    assert max(counting.sizes) <= settings.consumer_transaction_events
    assert len(counting.sizes) < len(ids)


async def _all_applied(db: Any, ids: set[str]) -> bool:
    return len(await effects(db, ids)) == len(ids)


async def test_a_batch_with_a_failing_event_is_applied_one_by_one_nothing_doubled(
    settings: ServiceSettings,
    publisher: Publisher,
    bootstrap: str,
    mongo: AsyncMongoClient[Any],
) -> None:
    db = mongo[settings.database_name]
    uow = UnitOfWork(client=mongo, db=db)
    events = [as_event(factories.submitted()) for _ in range(20)]
    ids = {event.subject for event in events}
    flaky = {events[5].subject}
    await publish(bootstrap, COMPLAINT_EVENTS.name, events)
    counting = Counting(uow)
    handler = counter_handler(uow, db, fail_once=flaky)
    consumer = await started_consumer(settings, publisher, counting, handler)
    try:
        await eventually(lambda: _all_applied(db, ids), timeout=60)
    finally:
        await consumer.stop()

    # The batch's writes before the failure were rolled back: every count is 1, the flaky one
    # included (it succeeded on its retry, alone).
    assert await effects(db, ids) == dict.fromkeys(ids, 1)
    assert await queued(db, ids) == len(ids)


async def test_a_poison_record_in_a_batch_is_dead_lettered_and_the_rest_applied_once(
    settings: ServiceSettings,
    publisher: Publisher,
    bootstrap: str,
    mongo: AsyncMongoClient[Any],
) -> None:
    db = mongo[settings.database_name]
    uow = UnitOfWork(client=mongo, db=db)
    before = [as_event(factories.submitted()) for _ in range(5)]
    after = [as_event(factories.submitted()) for _ in range(5)]
    await publish(bootstrap, COMPLAINT_EVENTS.name, before)
    poison_key = uuid.uuid4().hex.encode()
    await publish_raw(
        bootstrap,
        COMPLAINT_EVENTS.name,
        key=poison_key,
        value=b"{not json",
        headers=[("ce_type", ComplaintSubmitted.event_type().encode())],
    )
    await publish(bootstrap, COMPLAINT_EVENTS.name, after)
    ids = {event.subject for event in [*before, *after]}
    counting = Counting(uow)
    consumer = await started_consumer(settings, publisher, counting, counter_handler(uow, db))
    try:
        await eventually(lambda: _all_applied(db, ids), timeout=60)
        dlq = await read_topic(
            bootstrap, consumer.dead_letter_topic, until=lambda rs: len(rs) >= 1, timeout=30
        )
    finally:
        await consumer.stop()

    assert [record.key for record in dlq] == [poison_key]
    assert await effects(db, ids) == dict.fromkeys(ids, 1)
    assert consumer.dead_letter_topic == dead_letter_topic(consumer._group_id).name


async def test_replaying_applied_events_in_a_batch_changes_nothing(
    settings: ServiceSettings,
    publisher: Publisher,
    bootstrap: str,
    mongo: AsyncMongoClient[Any],
) -> None:
    db = mongo[settings.database_name]
    uow = UnitOfWork(client=mongo, db=db)
    events = [as_event(factories.submitted()) for _ in range(30)]
    ids = {event.subject for event in events}
    await publish(bootstrap, COMPLAINT_EVENTS.name, events)
    counted = counter_handler(uow, db)
    for _ in range(2):  # a second group reads the whole topic again: a replay after a reset
        seen: set[str] = set()

        async def handler(event: Event, seen: set[str] = seen) -> None:
            await counted(event)
            seen.add(event.subject)

        consumer = await started_consumer(settings, publisher, Counting(uow), handler)
        try:

            async def all_seen(seen: set[str] = seen) -> bool:
                return ids <= seen

            await eventually(all_seen, timeout=60)
        finally:
            await consumer.stop()

    assert await effects(db, ids) == dict.fromkeys(ids, 1)
    assert await queued(db, ids) == len(ids)


# -- group commit ------------------------------------------------------------------------------


async def insert_docs(docs: Sequence[dict[str, Any]], session: Session, *, collection: Any) -> None:
    if len(docs) == 1:
        await collection.insert_one(dict(docs[0]), session=session)
    else:
        await collection.insert_many([dict(doc) for doc in docs], session=session)


class Writes:
    def __init__(self, collection: Any) -> None:
        self.collection = collection
        self.sizes: list[int] = []

    async def __call__(self, docs: Sequence[dict[str, Any]], session: Session) -> None:
        self.sizes.append(len(docs))
        await insert_docs(docs, session, collection=self.collection)


async def test_concurrent_writers_share_transactions_and_each_is_answered_once_stored(
    mongo: AsyncMongoClient[Any],
) -> None:
    db = mongo[f"it_group_{uuid.uuid4().hex[:8]}"]
    uow = UnitOfWork(client=mongo, db=db)
    writes = Writes(db.items)
    commit = GroupCommit(uow, writes, max_items=20, deadline_seconds=5)
    stored_when_answered: list[bool] = []

    async def one(n: int) -> None:
        await commit.write({"_id": n}, [as_event(factories.submitted())])
        stored_when_answered.append(await db.items.find_one({"_id": n}) is not None)

    await asyncio.gather(*(one(n) for n in range(100)))

    assert await db.items.count_documents({}) == 100
    assert await db.outbox.count_documents({}) == 100
    assert all(stored_when_answered) and len(stored_when_answered) == 100
    assert len(writes.sizes) < 100 and max(writes.sizes) <= 20


async def test_one_taken_key_fails_only_its_own_writer(mongo: AsyncMongoClient[Any]) -> None:
    db = mongo[f"it_group_{uuid.uuid4().hex[:8]}"]
    uow = UnitOfWork(client=mongo, db=db)
    await db.items.insert_one({"_id": "taken"})
    commit = GroupCommit(uow, Writes(db.items), max_items=50, deadline_seconds=5)
    keys = [f"k{n}" for n in range(10)]
    keys.insert(4, "taken")

    outcomes = await asyncio.gather(
        *(commit.write({"_id": key}, [as_event(factories.submitted())]) for key in keys),
        return_exceptions=True,
    )

    failed = [key for key, outcome in zip(keys, outcomes, strict=True) if outcome is not None]
    assert failed == ["taken"]
    assert isinstance(outcomes[4], DuplicateKeyError)
    assert await db.items.count_documents({}) == 11  # the ten, and the one there before
    assert await db.outbox.count_documents({}) == 10  # the failed writer's event is not queued


class CountingRuns(UnitOfWork):
    runs = 0

    async def run(self, effect: Any) -> Any:
        self.runs += 1
        return await super().run(effect)


async def test_an_unreachable_database_fails_every_writer_of_the_batch_at_once() -> None:
    # Nothing listens on port 9 (discard): server selection fails within its timeout.
    client: AsyncMongoClient[Any] = AsyncMongoClient(
        "mongodb://127.0.0.1:9/?directConnection=true", serverSelectionTimeoutMS=300
    )
    db = client["nowhere"]
    uow = CountingRuns(client=client, db=db)
    commit = GroupCommit(uow, Writes(db.items), max_items=50, deadline_seconds=1)
    writers = [asyncio.create_task(commit.write({"_id": n}, [])) for n in range(20)]
    outcomes = await asyncio.gather(*writers, return_exceptions=True)
    await client.close()

    assert all(isinstance(o, Exception) and is_unavailable(o) for o in outcomes)
    # One attempt for the whole batch, not one more per writer (each would wait its timeout).
    assert uow.runs == 1


async def test_concurrent_submissions_do_not_conflict_with_each_other(
    mongo: AsyncMongoClient[Any],
) -> None:
    """Two complaints filed at the same moment, each in its own open transaction, are stored
    side by side: their records share no index key that makes them a write conflict (an empty
    followers array did, on the embedded database, for every pair)."""
    db = mongo[f"it_group_{uuid.uuid4().hex[:8]}"]
    store = ComplaintStore(db)
    await store.create_indexes()
    create = ComplaintCreate(
        title="Lampu jalan padam",
        body="Lampu jalan di depan sekolah padam sejak seminggu.",
        category="infrastruktur.penerangan",
        region_code="81.71",
        report_type="pengaduan",
        reporter={"email": "warga@example.id"},
    )
    at = datetime.now(UTC).replace(microsecond=0)
    first = mongo.start_session()
    second = mongo.start_session()
    try:
        await first.start_transaction()
        await second.start_transaction()
        for session in (first, second):
            record = new_record(
                new_tracking_id(), create, at, idempotency_key=None, reporter_id=None
            )
            await store.insert_many([record], session)
        await first.commit_transaction()
        await second.commit_transaction()
    finally:
        await first.end_session()
        await second.end_session()
    assert await db.complaints.count_documents({}) == 2
