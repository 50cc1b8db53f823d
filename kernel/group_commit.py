"""Group commit: concurrent writers of the same kind share one transaction.

Each caller hands over its item and the events it causes and waits; one task writes everything
queued meanwhile with a single ``insert_many``-style call and one outbox write, in one
transaction, and wakes every caller with the outcome. A caller is answered only after its item is
stored. Under no load a batch is one item and costs what a transaction of its own did; under
load, a transaction's start and commit (on the embedded database as dear as two or three
writes) are paid once for the batch.

When a batch fails for a reason that belongs to one item (a unique key taken, for instance), the
items are written again one transaction each, so every caller gets its own outcome; when the
database is unreachable, every caller of the batch gets that error at once.
"""

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import pymongo

from kernel.mongo import Session, is_unavailable
from kernel.unit_of_work import UnitOfWork
from schemas.envelope import Event

I = TypeVar("I")  # noqa: E741  (the item type)
WriteMany = Callable[[Sequence[I], Session], Awaitable[None]]


@dataclass
class _Pending(Generic[I]):
    item: I
    events: Sequence[Event]
    done: asyncio.Future[None]


class GroupCommit(Generic[I]):
    """Writes items of one kind for concurrent callers, as many per transaction as are waiting."""

    def __init__(
        self,
        uow: UnitOfWork,
        write_many: WriteMany[I],
        *,
        max_items: int,
        deadline_seconds: float | None,
    ) -> None:
        self._uow = uow
        self._write_many = write_many
        self._max_items = max(max_items, 1)
        self._deadline = deadline_seconds
        self._queue: list[_Pending[I]] = []
        self._writer: asyncio.Task[None] | None = None

    async def write(self, item: I, events: Sequence[Event]) -> None:
        """Store ``item`` and queue ``events``, together; raises what storing it alone would."""
        pending = _Pending(item, events, asyncio.get_running_loop().create_future())
        self._queue.append(pending)
        if self._writer is None or self._writer.done():
            # A context of its own: the writer serves many requests, so no one request's
            # database deadline (pymongo.timeout) may govern it; it applies its own.
            self._writer = asyncio.create_task(
                self._drain(), name="group-commit", context=contextvars.Context()
            )
        # Shielded: a caller that goes away must not cancel the outcome of the others.
        await asyncio.shield(pending.done)

    async def _drain(self) -> None:
        while self._queue:
            taken = self._queue[: self._max_items]
            del self._queue[: self._max_items]
            await self._commit(taken)

    async def _commit(self, taken: list[_Pending[I]]) -> None:
        try:
            await self._transaction(taken)
        except Exception as exc:
            if len(taken) == 1 or is_unavailable(exc):
                for pending in taken:
                    _settle(pending, exc)
                return
        else:
            for pending in taken:
                _settle(pending, None)
            return
        for pending in taken:  # one item spoiled the batch: find out which, each on its own
            try:
                await self._transaction([pending])
            except Exception as exc:
                _settle(pending, exc)
            else:
                _settle(pending, None)

    async def _transaction(self, taken: list[_Pending[I]]) -> None:
        async def effect(session: Session) -> tuple[None, list[Event]]:
            await self._write_many([pending.item for pending in taken], session)
            return None, [event for pending in taken for event in pending.events]

        deadline = pymongo.timeout(self._deadline) if self._deadline else contextlib.nullcontext()
        with deadline:
            await self._uow.run(effect)


def _settle(pending: _Pending[I], error: BaseException | None) -> None:
    if pending.done.done():
        return
    if error is None:
        pending.done.set_result(None)
    else:
        pending.done.set_exception(error)
