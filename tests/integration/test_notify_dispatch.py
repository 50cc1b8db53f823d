"""Notify's senders on the real database: a queued message wakes one idle sender, not all, and
senders claiming in batches (two instances at once) send each message once."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

from pymongo import AsyncMongoClient

from kernel.unit_of_work import UnitOfWork
from services.notify.channels import Outgoing
from services.notify.rendering import TemplateRenderer
from services.notify.service import Dispatcher, NotifyService
from services.notify.store import NotifyStore
from tests import factories
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

    async def claim(self, *args: Any, **kwargs: Any) -> Any:
        self.claims += 1
        return await super().claim(*args, **kwargs)

    async def claim_many(self, *args: Any, **kwargs: Any) -> Any:
        self.claims += 1
        claimed = await super().claim_many(*args, **kwargs)
        self.fruitful += bool(claimed)
        return claimed


def dispatcher(store: NotifyStore, uow: UnitOfWork, channel: Recording, batch: int) -> Dispatcher:
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
    )


def planner(store: NotifyStore, uow: UnitOfWork, wake: Any = None) -> NotifyService:
    return NotifyService(
        store=store,
        uow=uow,
        renderer=TemplateRenderer(),
        digest_window=timedelta(minutes=5),
        on_recorded=wake,
    )


async def test_each_queued_message_wakes_one_idle_sender_not_the_whole_pool(
    mongo: AsyncMongoClient[Any],
) -> None:
    db = mongo[f"it_notify_wake_{uuid.uuid4().hex[:8]}"]
    store = CountingStore(db)
    await store.create_indexes()
    uow = UnitOfWork(client=mongo, db=db)
    channel = Recording()
    senders = dispatcher(store, uow, channel, batch=1)
    service = planner(store, uow, senders.wake)
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
    # Per message, the woken sender's claim and its look for more (then it sleeps), and at most
    # two idle polls of the lead sender meanwhile. Waking all four took five claims a message.
    assert claims <= 2 * 3 + 2, claims


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
