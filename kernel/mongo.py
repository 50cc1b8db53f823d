"""The MongoDB client (PyMongo async) and the transaction helper every store uses."""

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, PyMongoError

from kernel.settings import ServiceSettings

Document = dict[str, Any]
Session = AsyncClientSession
T = TypeVar("T")

# Errors that mean "the database is unreachable right now", not "this request is wrong".
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (ConnectionFailure,)


def connect(settings: ServiceSettings) -> AsyncMongoClient[Document]:
    """A client for the configured deployment; connects lazily on first use."""
    return AsyncMongoClient(
        settings.mongo_url,
        tz_aware=True,
        serverSelectionTimeoutMS=settings.mongo_timeout_ms,
        connectTimeoutMS=settings.mongo_timeout_ms,
        socketTimeoutMS=settings.mongo_timeout_ms * 2,
        appname=f"lapor-{settings.service_name}",
    )


def database(
    client: AsyncMongoClient[Document], settings: ServiceSettings
) -> AsyncDatabase[Document]:
    """The database this service owns."""
    return client[settings.database_name]


async def ping(client: AsyncMongoClient[Document]) -> None:
    """Raise unless the server answers."""
    await client.admin.command("ping")


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
        async with client.start_session() as session:
            try:
                async with await session.start_transaction():
                    result = await work(session)
                return result
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
