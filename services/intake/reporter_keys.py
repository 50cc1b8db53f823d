"""Each report's data key, kept in one place: intake's ``reporter_keys`` collection.

A report's contact details are sealed under a key of its own (``kernel.sealing.DataKey``) in
every copy the platform makes: the ``complaint.submitted`` event on the topic and in dead
letters, intake's record, notify's complaint file, and every backup of them. The key itself is
stored here only, wrapped (sealed) under ``PII_KEYS``. Destroying it, when the reporter asks or
when the retention period ends, makes all those copies unreadable at once (crypto-shredding).

Keys are written in the transaction that stores their reports. The ones this process issued or
read lately are kept in memory, bounded, so that opening a report shown again costs no query;
a destroyed key is dropped from this process's memory at once, and another replica's copy goes
with its entry (the back-up of this collection should be kept briefly: see the README).
"""

import contextlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid

from kernel.lru import LRU
from kernel.mongo import Document, Session
from kernel.sealing import DataKey, Sealer

REPORTER_KEYS = "reporter_keys"
# About a day of submissions at a busy hour; a key not kept costs one query when next needed.
KEPT_IN_MEMORY = 20_000


async def create_collection(db: AsyncDatabase[Document]) -> None:
    """No index (keys are read by ``_id``), but the collection is made before any report: two
    submissions' transactions that both create it conflict on the embedded database."""
    with contextlib.suppress(CollectionInvalid):
        await db.create_collection(REPORTER_KEYS)


class ReporterKeys:
    """Issues, stores, finds and destroys report data keys."""

    def __init__(
        self, db: AsyncDatabase[Document], *, master: Sealer, kept: int = KEPT_IN_MEMORY
    ) -> None:
        self._db = db
        self._keys = db[REPORTER_KEYS]
        self._master = master
        self._kept: LRU[str, DataKey] = LRU(kept)

    async def create_indexes(self) -> None:
        """See ``create_collection``."""
        await create_collection(self._db)

    def issue(self, complaint_id: str) -> DataKey:
        """A new key for a report about to be stored (``store`` writes it with the report)."""
        key = DataKey.new()
        self._kept.put(complaint_id, key)
        return key

    async def store(self, complaint_ids: Sequence[str], *, session: Session) -> None:
        """Write the keys issued for these reports, in the transaction that stores them."""
        now = datetime.now(UTC)
        docs = []
        for complaint_id in complaint_ids:
            key = self._kept.get(complaint_id)
            if key is None:
                raise LookupError(f"no key was issued for {complaint_id}")
            docs.append({"_id": complaint_id, "key": self._master.wrap(key), "at": now})
        if docs:
            await self._keys.insert_many(docs, session=session)

    async def find(self, complaint_ids: Iterable[str]) -> dict[str, DataKey]:
        """The keys of these reports that still exist (an erased report has none)."""

        async def stored(missing: list[str]) -> dict[str, DataKey]:
            found = self._keys.find({"_id": {"$in": missing}})
            return {doc["_id"]: self._master.unwrap(doc["key"]) async for doc in found}

        return await self._kept.through(complaint_ids, stored)

    async def destroy(self, complaint_id: str, *, session: Session | None = None) -> None:
        """Destroy a report's key: every copy of what was sealed under it stops opening. Call
        ``forget`` once the transaction commits (a read before then may keep it again)."""
        await self._keys.delete_one({"_id": complaint_id}, session=session)

    def forget(self, complaint_id: str) -> None:
        """Drop a report's key from this process's memory."""
        self._kept.pop(complaint_id)
