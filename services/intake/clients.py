"""Integration clients: the apps of agencies (and other systems) that file reports for the
people who use them, each with an API key of its own, a rate limit of its own and an audit of
what it submitted.

A key reads ``lpk.<client_id>.<secret>``; only its SHA-256 is stored, so a database copy grants
nothing, and it is shown once, when made. A revoked client is refused at once on the instance
that revoked it and within ``cache_seconds`` on the others.
"""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from kernel.mongo import Document
from kernel.ratelimit import RateLimiter

CLIENTS = "integration_clients"
KEY_PREFIX = "lpk"
CLIENT_ID_PATTERN = r"^[a-z0-9-]{2,80}$"


@dataclass(frozen=True)
class IntegrationClient:
    """A registered app: whose it is and how fast it may submit."""

    client_id: str
    agency_id: str
    name: str
    per_minute: int
    burst: int


class ClientExists(Exception):
    """A client with this ID is registered already."""


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def client_id_of(key: str) -> str | None:
    """The client a key names, or None when it is not shaped like one of ours."""
    prefix, _, rest = key.partition(".")
    client_id, _, secret = rest.partition(".")
    return client_id if prefix == KEY_PREFIX and client_id and secret else None


class ClientRegistry:
    """Registered clients, their keys' digests, and a rate limiter per client."""

    def __init__(self, db: AsyncDatabase[Document], *, cache_seconds: float = 30.0) -> None:
        self._clients = db[CLIENTS]
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._limiters: dict[str, tuple[IntegrationClient, RateLimiter]] = {}
        # A key that fails skips the anonymous limit (it named a credential): these are counted
        # per address instead, so guessing keys is as slow as any anonymous caller.
        self._refusals = RateLimiter(per_minute=30, burst=10)

    async def register(
        self,
        client: IntegrationClient,
        *,
        created_by: str,
        at: datetime,
    ) -> str:
        """Store a new client; returns its key (the only time it is seen)."""
        key = f"{KEY_PREFIX}.{client.client_id}.{secrets.token_urlsafe(32)}"
        doc = {
            "_id": client.client_id,
            "agency_id": client.agency_id,
            "name": client.name,
            "per_minute": client.per_minute,
            "burst": client.burst,
            "key_sha256": _digest(key),
            "created_by": created_by,
            "created_at": at,
            "revoked_at": None,
        }
        try:
            await self._clients.insert_one(doc)
        except DuplicateKeyError as exc:
            raise ClientExists(client.client_id) from exc
        self._cache.pop(client.client_id, None)
        return key

    async def revoke(self, client_id: str, *, at: datetime, by: str) -> bool:
        """Refuse the client's key from now on; False when no such live client exists."""
        result = await self._clients.update_one(
            {"_id": client_id, "revoked_at": None},
            {"$set": {"revoked_at": at, "revoked_by": by}},
        )
        self._cache.pop(client_id, None)
        return result.modified_count == 1

    async def get(self, client_id: str) -> dict[str, Any] | None:
        """A client's record, without its key digest."""
        return await self._clients.find_one({"_id": client_id}, {"key_sha256": 0})

    async def list(self, agency_id: str | None) -> list[dict[str, Any]]:
        """Clients (of one agency, or all), without key digests, by ID."""
        query: dict[str, Any] = {} if agency_id is None else {"agency_id": agency_id}
        cursor = self._clients.find(query, {"key_sha256": 0}).sort("_id", 1)
        return await cursor.to_list(None)

    async def authenticate(self, key: str) -> IntegrationClient | None:
        """The live client a key belongs to, or None."""
        client_id = client_id_of(key)
        if client_id is None:
            return None
        doc = await self._cached(client_id)
        if doc is None or doc.get("revoked_at") is not None:
            return None
        if not hmac.compare_digest(doc["key_sha256"], _digest(key)):
            return None
        return IntegrationClient(
            client_id=doc["_id"],
            agency_id=doc["agency_id"],
            name=doc["name"],
            per_minute=doc["per_minute"],
            burst=doc["burst"],
        )

    def wait(self, client: IntegrationClient) -> float:
        """0 when the client may submit now, else the seconds until it may (its own limit)."""
        known = self._limiters.get(client.client_id)
        if known is None or known[0] != client:  # new, or its limits changed
            known = (client, RateLimiter(per_minute=client.per_minute, burst=client.burst))
            self._limiters[client.client_id] = known
        return known[1].take(client.client_id)

    def refused(self, address: str) -> float:
        """Count a failed key from ``address``: 0 while it may still try, else seconds to wait."""
        return self._refusals.take(address)

    async def _cached(self, client_id: str) -> dict[str, Any] | None:
        now = time.monotonic()
        hit = self._cache.get(client_id)
        if hit is not None and now - hit[0] < self._cache_seconds:
            return hit[1]
        doc = await self._clients.find_one({"_id": client_id})
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[client_id] = (now, doc)
        return doc
