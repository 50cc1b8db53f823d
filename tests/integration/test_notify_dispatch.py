"""Notify's senders on the real database: a message due at once goes to one idle sender from
memory, senders claiming in batches (two instances at once) send each message once, and a
message a dead sender sent but did not announce is announced, not sent again."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from kernel.sealing import Sealer
from kernel.settings import DEV_PII_KEY
from kernel.unit_of_work import UnitOfWork
from services.notify.channels import Outgoing
from services.notify.rendering import TemplateRenderer
from services.notify.service import Dispatcher, NotifyService, sent_event_id
from services.notify.store import NotifyStore
from tests import factories
from tests.receivers import KeyVault
from tests.support import as_event, eventually

SENDERS = 4


class Recording:
    """An email channel that accepts everything."""

    name = "email"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: Outgoing) -> None:
        self.sent.append(message.message_id)


class CountingStore(NotifyStore):
    """Counts the claims: each is the costliest query notify makes."""

    claims = 0
    fruitful = 0  # batch claims that took something

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        super().__init__(db, keys=KeyVault(keys=factories.DATA_KEYS, sealer=Sealer([DEV_PII_KEY])))

    async def claim(self, *args: Any, **kwargs: Any) -> Any:
        self.claims += 1
        return await super().claim(*args, **kwargs)

    async def claim_many(self, *args: Any, **kwargs: Any) -> Any:
        self.claims += 1
        claimed = await super().claim_many(*args, **kwargs)
        self.fruitful += bool(claimed)
        return claimed


def dispatcher(
    store: NotifyStore, uow: UnitOfWork, channel: Recording, batch: int, publish: Any = None
) -> Dispatcher:
    return Dispatcher(
        store=store,
        uow=uow,
        channels=[channel],
        renderer=TemplateRenderer(),
        concurrency=SENDERS,
        poll_seconds=0.05,
        idle_poll=60,  # the lead sender's idle polls soon come seconds apart
        lease=timedelta(seconds=30),
        max_attempts=3,
        backoff_base=1,
        backoff_cap=5,
        send_timeout=5,
        rate_per_hour=100,
        claim_batch=batch,
        publish=publish,
    )


def planner(store: NotifyStore, uow: UnitOfWork, wake: Any = None) -> NotifyService:
    return NotifyService(
        store=store,
        uow=uow,
        renderer=TemplateRenderer(),
        digest_window=timedelta(minutes=5),
        on_recorded=wake,
    )


async def test_a_message_due_at_once_is_handed_to_a_sender_without_a_claim(
    mongo: AsyncMongoClient[Any],
) -> None:
    db = mongo[f"it_notify_wake_{uuid.uuid4().hex[:8]}"]
    store = CountingStore(db)
    await store.create_indexes()
    uow = UnitOfWork(client=mongo, db=db)
    channel = Recording()
    senders = dispatcher(store, uow, channel, batch=1)
    service = planner(store, uow, senders.hand)
    await senders.start()
    try:
        await asyncio.sleep(2)  # every sender looked, found nothing and went idle
        before = store.claims
        for n in range(1, 4):  # one receipt each, queued on email

            async def delivered(n: int = n) -> bool:
                return len(channel.sent) >= n

            await service.on_event(as_event(factories.submitted()))
            await eventually(delivered)
        claims = store.claims - before
    finally:
        await senders.stop()

    assert len(channel.sent) == 3
    # Per message, the woken sender's look for more once it has sent the one it was handed
    # (then it sleeps), and at most two idle polls of the lead sender meanwhile. Claiming each
    # message took two; waking all four senders, five.
    assert claims <= 3 + 2, claims
    assert await db.messages.count_documents({"status": "sent"}) == 3
    assert await db.delivery_queue.count_documents({}) == 0  # let go once announced


async def test_two_instances_claiming_in_batches_send_every_message_once(
    mongo: AsyncMongoClient[Any],
) -> None:
    db = mongo[f"it_notify_batch_{uuid.uuid4().hex[:8]}"]
    uow = UnitOfWork(client=mongo, db=db)
    stores = [CountingStore(db), CountingStore(db)]
    await stores[0].create_indexes()
    for _ in range(60):  # a backlog: sixty receipts queued before any sender runs
        await planner(stores[0], uow).on_event(as_event(factories.submitted()))
    channels = [Recording(), Recording()]
    instances = [dispatcher(st, uow, ch, batch=20) for st, ch in zip(stores, channels, strict=True)]

    async def all_sent() -> bool:
        return sum(len(channel.sent) for channel in channels) >= 60

    for instance in instances:
        await instance.start()
    try:
        await eventually(all_sent, timeout=60)
        await asyncio.sleep(0.5)  # a second copy of anything would show up now
    finally:
        for instance in instances:
            await instance.stop()

    sent = [message for channel in channels for message in channel.sent]
    assert len(sent) == len(set(sent)) == 60  # each once, across both instances
    assert await db.messages.count_documents({"status": "sent"}) == 60
    assert await db.delivery_queue.count_documents({}) == 0
    # Sixty messages went out in a handful of claims (one each would be sixty), the racing
    # senders' claims of the same entries included.
    assert sum(store.fruitful for store in stores) <= 15, [store.fruitful for store in stores]


async def test_a_message_sent_but_not_announced_by_a_dead_sender_is_announced_not_resent(
    mongo: AsyncMongoClient[Any],
) -> None:
    """A sender died between recording the send and publishing notification.sent: the
    message's queue entry outlives it, and once its lease lapses the next sender publishes the
    event (the same ID) without sending the message again."""
    db = mongo[f"it_notify_announce_{uuid.uuid4().hex[:8]}"]
    keys = KeyVault(keys=factories.DATA_KEYS, sealer=Sealer([DEV_PII_KEY]))
    store = NotifyStore(db, keys=keys)
    await store.create_indexes()
    uow = UnitOfWork(client=mongo, db=db)
    handed: list[dict[str, Any]] = []
    dying = NotifyService(
        store=store,
        uow=uow,
        renderer=TemplateRenderer(),
        digest_window=timedelta(minutes=5),
        lease=timedelta(seconds=1),
        on_recorded=handed.extend,
    )
    await dying.on_event(as_event(factories.submitted()))
    [message] = handed  # the receipt, queued as being sent by the process about to die
    await store.record_sent(
        [message], attempt={"outcome": "sent"}, fields={"sent_at": message["recorded_at"]}
    )
    announced: list[Any] = []

    async def publish(events: Any) -> None:
        announced.extend(events)

    await asyncio.sleep(1.1)  # the dead sender's lease lapses
    channel = Recording()
    survivor = dispatcher(store, uow, channel, batch=1, publish=publish)
    await survivor.start()
    try:

        async def let_go() -> bool:
            return await db.delivery_queue.count_documents({}) == 0

        await eventually(let_go, timeout=10)
    finally:
        await survivor.stop()
    assert channel.sent == []  # not sent twice
    assert [e.data.notification_id for e in announced] == [message["_id"]]
    assert announced[0].id == sent_event_id(message["_id"])
