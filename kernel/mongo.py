"""The MongoDB client (PyMongo async) and the transaction helper every store uses."""

import asyncio
import contextlib
import logging
import random
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)

from kernel.metrics import DATABASE_COMMAND_SECONDS, DATABASE_COMMANDS
from kernel.settings import ServiceSettings

Document = dict[str, Any]
Session = AsyncClientSession
T = TypeVar("T")


class DependencyUnavailable(Exception):
    """Another service this one must ask does not answer right now: like a database outage, a
    consumer retries (never dead-letters) and a request answers 503."""


# Errors that mean "the database (or a service it stands for) is unreachable right now", not
# "this request is wrong".
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (ConnectionFailure, DependencyUnavailable)


# The command names a label may take; anything else (admin commands, the driver's own) is
# "other", so that the label set stays bounded whatever a future driver sends.
COMMAND_NAMES = frozenset(
    {
        "find",
        "getMore",
        "insert",
        "update",
        "delete",
        "findAndModify",
        "aggregate",
        "count",
        "distinct",
        "commitTransaction",
        "abortTransaction",
        "createIndexes",
        "killCursors",
        "endSessions",
        "ping",
    }
)


class CommandMetrics(monitoring.CommandListener):
    """Counts and times every command a service sends: which service loads the database, and
    with what, is what an SRE asks first when it is slow."""

    def __init__(self, service: str) -> None:
        self._service = service

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass  # the outcome carries the duration; nothing to keep until then

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._observe(event.command_name, event.duration_micros, "ok")

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._observe(event.command_name, event.duration_micros, "failed")

    def _observe(self, name: str, micros: int, outcome: str) -> None:
        command = name if name in COMMAND_NAMES else "other"
        DATABASE_COMMANDS.labels(self._service, command, outcome).inc()
        DATABASE_COMMAND_SECONDS.labels(self._service, command).observe(micros / 1e6)


def connect(settings: ServiceSettings) -> AsyncMongoClient[Document]:
    """A client for the configured deployment; connects lazily on first use."""
    return AsyncMongoClient(
        settings.mongo_url,
        tz_aware=True,
        serverSelectionTimeoutMS=settings.mongo_timeout_ms,
        connectTimeoutMS=settings.mongo_timeout_ms,
        socketTimeoutMS=settings.mongo_timeout_ms * 2,
        appname=f"lapor-{settings.service_name}",
        event_listeners=[CommandMetrics(settings.service_name)],
    )


def database(
    client: AsyncMongoClient[Document], settings: ServiceSettings
) -> AsyncDatabase[Document]:
    """The database this service owns."""
    return client[settings.database_name]


async def ping(client: AsyncMongoClient[Document]) -> None:
    """Raise unless the server answers."""
    await client.admin.command("ping")


log = logging.getLogger(__name__)

# Sessions whose transaction the server may still hold open: the connection failed while it ran
# (a paused or unreachable database), so the driver's abort could not reach the server. Such a
# transaction keeps its documents locked until the server reaps it: 60 s on mongod, and never on
# the embedded database while only session-less writes arrive, which stalled a consumer for
# minutes after a paused database. The driver discards these sessions, so nothing reuses their
# IDs; they are ended explicitly before the next transaction (``end_abandoned``).
_ABANDONED: "weakref.WeakKeyDictionary[AsyncMongoClient[Document], list[Document]]" = (
    weakref.WeakKeyDictionary()
)


async def end_abandoned(client: AsyncMongoClient[Document]) -> None:
    """End (with ``killSessions``) the transactions an outage left open on the server; nothing,
    and no command, when there are none. Raises while the database is still unreachable."""
    lsids = _ABANDONED.get(client)
    if not lsids:
        return
    pending = list(lsids)
    try:
        await client.admin.command("killSessions", pending)
    except OperationFailure as exc:
        # Not allowed, or unknown to this server: the server's own reaper is all that is left.
        log.warning("could not end %d abandoned transactions: %s", len(pending), exc)
    del lsids[: len(pending)]


@contextlib.asynccontextmanager
async def transaction(client: AsyncMongoClient[Document]) -> AsyncIterator[Session]:
    """A session with a transaction started, committed on leaving without an exception and
    aborted otherwise; one the connection failed under is remembered for ``end_abandoned``."""
    await end_abandoned(client)
    async with client.start_session() as session:
        try:
            async with await session.start_transaction():
                yield session
        except ConnectionFailure:
            _ABANDONED.setdefault(client, []).append(dict(session.session_id))
            raise


TRANSACTION_ATTEMPTS = 5
# A write conflict means another writer holds the document right now: retrying at once mostly
# meets it again, so wait a little, longer each time, with jitter so that two retriers part.
CONFLICT_BACKOFF_SECONDS = 0.01


async def in_transaction(
    client: AsyncMongoClient[Document], work: Callable[[Session], Awaitable[T]]
) -> T:
    """Run ``work`` in one multi-document transaction; everything it writes lands or none of it.

    Write conflicts are retried a few times. An unreachable server is not retried here (unlike
    PyMongo's ``with_transaction``, which keeps trying for two minutes): the caller decides,
    so that an HTTP request answers 503 promptly and a consumer backs off.
    """
    for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
        try:
            async with transaction(client) as session:
                return await work(session)
        except PyMongoError as exc:
            transient = exc.has_error_label("TransientTransactionError")
            if (
                transient
                and not isinstance(exc, ConnectionFailure)
                and (attempt < TRANSACTION_ATTEMPTS)
            ):
                await asyncio.sleep(
                    CONFLICT_BACKOFF_SECONDS * attempt * (1 + random.random())  # noqa: S311
                )
                continue
            raise
    raise AssertionError("unreachable")


def stored_precision(moment: datetime) -> datetime:
    """MongoDB keeps milliseconds: truncate so what an API returns equals every later read."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def is_unavailable(error: BaseException) -> bool:
    """True for database outages and conflicts (retry later), false for errors a retry will not
    fix."""
    return isinstance(error, UNAVAILABLE_ERRORS) or (
        isinstance(error, PyMongoError)
        and (
            error.timeout  # a deadline passed (the request's, or the server's maxTimeMS)
            or error.has_error_label("TransientTransactionError")
            or error.has_error_label("UnknownTransactionCommitResult")
        )
    )


DUPLICATE_KEY = 11000


def is_duplicate_key(error: BaseException) -> bool:
    """True when a write failed only because its unique key is taken (``insert_many`` reports
    it as a bulk write error)."""
    if isinstance(error, DuplicateKeyError):
        return True
    if isinstance(error, BulkWriteError):
        errors = error.details.get("writeErrors", [])
        return bool(errors) and all(e.get("code") == DUPLICATE_KEY for e in errors)
    return False


def sorts_before(field: str, key: Any) -> dict[str, Any]:
    """A filter for documents whose ``field`` sorts before ``key``, or which lack it (kept
    before the field existed): what a newer state of the same thing replaces."""
    return {"$or": [{field: {"$lt": key}}, {field: {"$exists": False}}]}


async def keep_newer(
    collection: AsyncCollection[Document],
    key: str,
    doc: Document,
    *,
    order: str,
    session: Session | None = None,
) -> None:
    """Keep ``doc`` as the state of ``key`` unless the one kept sorts at or after it by its
    ``order`` field: a replayed or late state changes nothing (the read models a compacted
    topic feeds)."""
    await collection.update_one(
        {"_id": key, **sorts_before(order, doc[order])}, {"$set": doc}, session=session
    )
    await collection.update_one({"_id": key}, {"$setOnInsert": doc}, upsert=True, session=session)


async def drop_index_if_present(collection: AsyncCollection[Document], name: str) -> None:
    """Drop an index earlier versions created and no query uses any more (every write paid for
    it); nothing when it is not there."""
    with contextlib.suppress(OperationFailure):
        await collection.drop_index(name)
