"""A lease in MongoDB: one replica at a time does a singleton job (relay, timer sweep)."""

import contextlib
import time
import uuid
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from kernel.mongo import Document

LEASE_COLLECTION = "leases"


class Lease:
    """Held by one holder until it lapses; renewing is taking it again before it lapses."""

    def __init__(self, db: AsyncDatabase[Document], name: str, *, seconds: float) -> None:
        self._leases = db[LEASE_COLLECTION]
        self._name = name
        self._length = timedelta(seconds=seconds)
        self.holder = uuid.uuid4().hex
        # Until then (monotonic) the lease is certainly ours: renewing sooner would spend a
        # database round trip per call (the outbox relay calls after every commit).
        self._sure_until = 0.0

    async def hold(self) -> bool:
        """Take or renew the lease; False while another holder's lease is live.

        Renewed in the database once half of it has run, not at every call.
        """
        if time.monotonic() < self._sure_until:
            return True
        started = time.monotonic()
        now = datetime.now(UTC)
        try:
            # Matches when this holder has the lease or it lapsed; otherwise the upsert collides
            # with the live holder's document.
            await self._leases.find_one_and_update(
                {"_id": self._name, "$or": [{"holder": self.holder}, {"expires_at": {"$lt": now}}]},
                {"$set": {"holder": self.holder, "expires_at": now + self._length}},
                upsert=True,
            )
        except DuplicateKeyError:
            self._sure_until = 0.0
            return False
        self._sure_until = started + self._length.total_seconds() / 2
        return True

    async def release(self) -> None:
        """Give the lease up (at shutdown) so another replica takes over at once."""
        self._sure_until = 0.0
        with contextlib.suppress(Exception):
            await self._leases.delete_one({"_id": self._name, "holder": self.holder})
