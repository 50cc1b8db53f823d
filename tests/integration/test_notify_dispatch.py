"""Notify's senders on the real database: a queued message wakes one idle sender, not all."""

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

    async def claim(self, *args: Any, **kwargs: Any) -> Any:
        self.claims += 1
        return await super().claim(*args, **kwargs)


async def test_each_queued_message_wakes_one_idle_sender_not_the_whole_pool(
    mongo: AsyncMongoClient[Any],
) -> None:
    db = mongo[f"it_notify_wake_{uuid.uuid4().hex[:8]}"]
    store = CountingStore(db)
    await store.create_indexes()
    uow = UnitOfWork(client=mongo, db=db)
    channel = Recording()
    renderer = TemplateRenderer()
    dispatcher = Dispatcher(
        store=store,
        uow=uow,
        channels=[channel],
        renderer=renderer,
        concurrency=SENDERS,
        poll_seconds=0.05,
        idle_poll=60,  # the lead sender's idle polls soon come seconds apart
        lease=timedelta(seconds=30),
        max_attempts=3,
        backoff_base=1,
        backoff_cap=5,
        send_timeout=5,
        rate_per_hour=100,
    )
    service = NotifyService(
        store=store,
        uow=uow,
        renderer=renderer,
        digest_window=timedelta(minutes=5),
        on_recorded=dispatcher.wake,
    )
    await dispatcher.start()
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
        await dispatcher.stop()

    assert len(channel.sent) == 3
    # Per message, the woken sender's claim and its look for more (then it sleeps), and at most
    # two idle polls of the lead sender meanwhile. Waking all four took five claims a message.
    assert claims <= 2 * 3 + 2, claims
