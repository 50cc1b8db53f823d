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
from pymongo import AsyncMongoClient, UpdateOne
from pymongo.errors import DuplicateKeyError

from kernel.group_commit import GroupCommit
from kernel.kafka import Publisher, ensure_topics
from kernel.mongo import Session, is_unavailable
from kernel.sealing import Sealer, report_sealed
from kernel.settings import DEV_PII_KEY, ServiceSettings
from kernel.subscriptions import EventGroup, RejectedEvent
from kernel.unit_of_work import UnitOfWork
from schemas.envelope import Event
from schemas.events import ComplaintSubmitted
from schemas.topics import COMPLAINT_EVENTS, PRODUCT_TOPICS
from services.intake.domain import ComplaintCreate, new_record, new_tracking_id
from services.intake.reporter_keys import ReporterKeys
from services.intake.store import ComplaintStore
from tests import factories
from tests.support import as_event, eventually, publish, publish_raw, read_topic, running_group


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


class Harness:
    """One test's database and unit of work, and consumers of the complaint topic that apply
    batches through it, counting the batches opened and how many events each held."""

    def __init__(
        self, settings: ServiceSettings, publisher: Publisher, bootstrap: str, mongo: Any
    ) -> None:
        self.settings, self.publisher, self.bootstrap = settings, publisher, bootstrap
        self.db = mongo[settings.database_name]
        self.uow = UnitOfWork(client=mongo, db=self.db)
        self.sizes: list[int] = []

    @contextlib.asynccontextmanager
    async def batch(self, event_ids: Sequence[str]) -> AsyncIterator[None]:
        self.sizes.append(len(event_ids))
        async with self.uow.batch(event_ids):
            yield

    async def publish(self, events: Sequence[Event]) -> set[str]:
        """Publish before any consumer starts (one fetch gets them all); their complaints."""
        await publish(self.bootstrap, COMPLAINT_EVENTS.name, events)
        return {event.subject for event in events}

    async def consume(
        self,
        handler: Any,
        until_applied: set[str],
        *,
        run_handler: Any = None,
        dead_letter: bytes | None = None,
        seen: set[str] | None = None,
    ) -> list[Any]:
        """Consume in a new group until the complaints named each have an effect (and are in
        ``seen``, and the key ``dead_letter`` reached the dead-letter topic); those dead letters."""
        group = EventGroup(
            f"batch-{uuid.uuid4().hex[:6]}", topics=[COMPLAINT_EVENTS], description="batch test"
        )
        group.on(ComplaintSubmitted, handler)
        if run_handler:
            group.together([ComplaintSubmitted], run_handler)
        dlq: list[Any] = []
        async with running_group(self.settings, group, batch=self.batch):
            await eventually(lambda: self._applied(until_applied, seen), timeout=60)
            if dead_letter is not None:
                dlq = await read_topic(
                    self.bootstrap,
                    group.dead_letter_topic.name,
                    until=lambda rs: any(r.key == dead_letter for r in rs),
                    timeout=30,
                )
        return dlq

    async def effects(self, ids: set[str]) -> dict[str, int]:
        docs = await self.db.effects.find({"_id": {"$in": list(ids)}}).to_list(None)
        return {doc["_id"]: doc["n"] for doc in docs}

    async def queued(self, ids: set[str]) -> int:
        """Events in the outbox about these complaints (the topic holds other tests' too)."""
        keys = [Binary(i.encode()) for i in ids]
        return int(await self.db.outbox.count_documents({"key": {"$in": keys}}))

    async def marked(self, events: Sequence[Event]) -> int:
        ids = [event.id for event in events]
        return int(await self.db.processed_events.count_documents({"_id": {"$in": ids}}))

    async def _applied(self, ids: set[str], seen: set[str] | None) -> bool:
        return (seen is None or ids <= seen) and len(await self.effects(ids)) == len(ids)


@pytest.fixture
async def harness(
    settings: ServiceSettings, bootstrap: str, mongo: AsyncMongoClient[Any]
) -> AsyncIterator[Harness]:
    await ensure_topics(settings, PRODUCT_TOPICS)
    publisher = Publisher(settings)
    await publisher.start()
    yield Harness(settings, publisher, bootstrap, mongo)
    await publisher.stop()


def submissions(count: int) -> list[Event]:
    return [as_event(factories.submitted()) for _ in range(count)]


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


async def test_a_fetched_batch_is_applied_in_shared_transactions_each_effect_once(
    harness: Harness,
) -> None:
    events = submissions(60)
    events.append(events[7])  # the relay published one of them twice
    ids = await harness.publish(events)

    await harness.consume(counter_handler(harness.uow, harness.db), ids)

    assert await harness.effects(ids) == dict.fromkeys(ids, 1)
    assert await harness.queued(ids) == len(ids)  # one routed event each, not two
    assert await harness.marked(events) == len(ids)
    assert max(harness.sizes) > 1  # events shared a transaction
    assert max(harness.sizes) <= harness.settings.consumer_transaction_events
    assert len(harness.sizes) < len(ids)


async def test_a_batch_with_a_failing_event_is_applied_one_by_one_nothing_doubled(
    harness: Harness,
) -> None:
    events = submissions(20)
    ids = await harness.publish(events)
    flaky = {events[5].subject}

    await harness.consume(counter_handler(harness.uow, harness.db, fail_once=flaky), ids)

    # The batch's writes before the failure were rolled back: every count is 1, the flaky one
    # included (it succeeded on its retry, alone).
    assert await harness.effects(ids) == dict.fromkeys(ids, 1)
    assert await harness.queued(ids) == len(ids)


async def test_a_poison_record_in_a_batch_is_dead_lettered_and_the_rest_applied_once(
    harness: Harness,
) -> None:
    before, after = submissions(5), submissions(5)
    await harness.publish(before)
    poison_key = uuid.uuid4().hex.encode()
    await publish_raw(
        harness.bootstrap,
        COMPLAINT_EVENTS.name,
        key=poison_key,
        value=b"{not json",
        headers=[("ce_type", ComplaintSubmitted.event_type().encode())],
    )
    await harness.publish(after)
    ids = {event.subject for event in [*before, *after]}

    dlq = await harness.consume(
        counter_handler(harness.uow, harness.db), ids, dead_letter=poison_key
    )

    ours = {key.encode() for key in ids} | {poison_key}  # the topic holds other tests' too
    assert [record.key for record in dlq if record.key in ours] == [poison_key]
    assert await harness.effects(ids) == dict.fromkeys(ids, 1)


async def test_replaying_applied_events_in_a_batch_changes_nothing(harness: Harness) -> None:
    ids = await harness.publish(submissions(30))
    counted = counter_handler(harness.uow, harness.db)

    # A second group reads the whole topic again: a replay after a reset.
    for _ in range(2):
        seen: set[str] = set()

        async def handler(event: Event, seen: set[str] = seen) -> None:
            await counted(event)
            seen.add(event.subject)

        await harness.consume(handler, ids, seen=seen)

    assert await harness.effects(ids) == dict.fromkeys(ids, 1)
    assert await harness.queued(ids) == len(ids)


class RunCounter:
    """A run handler: one bulk write counting every fresh event of the run, one outgoing event
    each; records the size of every run it was given. Rejects a run holding ``bad``."""

    def __init__(self, uow: UnitOfWork, db: Any, bad: str | None = None) -> None:
        self.uow, self.db, self.bad = uow, db, bad
        self.sizes: list[int] = []

    async def __call__(self, events: Sequence[Event]) -> None:
        self.sizes.append(len(events))

        async def effect(session: Session, fresh: Sequence[Event]) -> list[Event]:
            if any(event.subject == self.bad for event in fresh):
                raise RejectedEvent("a complaint this service does not know")
            await self.db.effects.bulk_write(
                [UpdateOne({"_id": e.subject}, {"$inc": {"n": 1}}, upsert=True) for e in fresh],
                session=session,
            )
            return [as_event(factories.routed(event.subject)) for event in fresh]

        await self.uow.run_once_each(events, effect)

    async def one(self, event: Event) -> None:
        """The single handler: the same effect for one event."""
        await self([event])


async def test_consecutive_events_with_a_run_handler_are_applied_together_each_once(
    harness: Harness,
) -> None:
    events = submissions(40)
    events.insert(10, events[3])  # a double publish inside one run
    ids = await harness.publish(events)
    runs = RunCounter(harness.uow, harness.db)

    await harness.consume(runs.one, ids, run_handler=runs)

    assert await harness.effects(ids) == dict.fromkeys(ids, 1)
    assert await harness.queued(ids) == len(ids)
    assert await harness.marked(events) == len(ids)
    assert max(runs.sizes) > 1 and len(runs.sizes) < len(ids)  # one call applied many


async def test_a_run_that_fails_is_applied_one_by_one_and_only_its_culprit_dead_lettered(
    harness: Harness,
) -> None:
    events = submissions(12)
    bad = events[6]
    ids = await harness.publish(events) - {bad.subject}
    runs = RunCounter(harness.uow, harness.db, bad=bad.subject)

    dlq = await harness.consume(runs.one, ids, run_handler=runs, dead_letter=bad.subject.encode())

    # The topic is shared with the other tests here: of this test's complaints, only the culprit.
    ours = {event.subject.encode() for event in events}
    assert [record.key for record in dlq if record.key in ours] == [bad.subject.encode()]
    assert await harness.effects(ids) == dict.fromkeys(ids, 1)  # the failed run left nothing
    assert await harness.effects({bad.subject}) == {}
    assert await harness.queued(ids | {bad.subject}) == len(ids)


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
    sealer = Sealer([DEV_PII_KEY])
    keys = ReporterKeys(db, master=sealer)
    store = ComplaintStore(db, keys=keys, sealer=sealer)
    await store.create_indexes()
    await keys.create_indexes()
    create = ComplaintCreate(
        title="Lampu jalan padam",
        body="Lampu jalan di depan sekolah padam sejak seminggu.",
        category="infrastruktur.listrik",
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
            cid = new_tracking_id()
            record = new_record(cid, create, at, idempotency_key=None, reporter_id=None)
            record["reporter"] = report_sealed(keys.issue(cid).seal(record["reporter"]))
            await store.insert_many([record], session)
        await first.commit_transaction()
        await second.commit_transaction()
    finally:
        await first.end_session()
        await second.end_session()
    assert await db.complaints.count_documents({}) == 2
    assert await db.reporter_keys.count_documents({}) == 2
