"""MongoDB adapter for complaints: the ``complaints`` and ``supports`` collections intake owns."""

import re
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from kernel.mongo import Document, Session, drop_index_if_present
from kernel.sealing import Sealer, report_token
from services.intake.duplicates import category_group
from services.intake.recent import REPORT_FIELDS
from services.intake.reporter_keys import ReporterKeys

COMPLAINTS = "complaints"
SUPPORTS = "supports"
ACTION_KEYS = "action_keys"
# A client retries within minutes; a week covers an app that queued its calls offline.
ACTION_KEY_TTL_SECONDS = 7 * 24 * 3600
UNUSED_REGION_INDEX = "region_code_1_submitted_at_-1"


class ConcurrentUpdate(Exception):
    """Someone changed the complaint between our read and our write; retry on fresh data."""


class ComplaintStore:
    """Stored complaints, by tracking ID, with optimistic concurrency on ``version``. The
    reporter's contact details are stored sealed under the report's data key (``keys``) and
    opened on the way out; once the key is destroyed they read as none. Records stored before
    data keys existed are sealed under ``PII_KEYS`` (``sealer``) and still open."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        *,
        keys: ReporterKeys | None = None,
        sealer: Sealer | None = None,
    ) -> None:
        """Without ``keys`` and ``sealer`` (index creation) contact details cannot be read or
        stored."""
        self._complaints = db[COMPLAINTS]
        self._action_keys = db[ACTION_KEYS]
        self._supports = db[SUPPORTS]
        self._keys = keys
        self._sealer = sealer

    @property
    def _key_store(self) -> ReporterKeys:
        if self._keys is None:
            raise RuntimeError("this store was made without the reporter keys")
        return self._keys

    async def _opened(self, doc: dict[str, Any] | None) -> dict[str, Any] | None:
        if doc is None:
            return None
        [opened] = await self._opened_all([doc])
        return opened

    async def _opened_all(self, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records with their contact details opened: one query for the keys not in
        memory, however many records."""
        sealed = {doc["_id"]: token for doc in docs if (token := report_token(doc.get("reporter")))}
        keys = await self._key_store.find(sealed) if sealed else {}
        for doc in docs:
            token = sealed.get(doc["_id"])
            if token is not None:
                key = keys.get(doc["_id"])
                doc["reporter"] = key.open(token) if key is not None else None
            elif doc.get("reporter") and self._sealer is not None:
                doc["reporter"] = self._sealer.open(doc["reporter"])
        return docs

    async def open_by_status(self, statuses: list[str]) -> dict[str, int]:
        """How many complaints are in each of these statuses (the open-complaints gauge)."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"status": {"$in": statuses}}},
            {"$group": {"_id": "$status", "n": {"$sum": 1}}},
        ]
        cursor = await self._complaints.aggregate(pipeline)
        found = {doc["_id"]: doc["n"] async for doc in cursor}
        return {status: found.get(status, 0) for status in statuses}

    async def create_indexes(self) -> None:
        """The indexes the queries need, and no other: every write of a complaint updates an
        entry in each (each comment names the query that uses it)."""
        await self._action_keys.create_index("at", expireAfterSeconds=ACTION_KEY_TTL_SECONDS)
        # A retried POST finds what its Idempotency-Key created (``by_idempotency_key``).
        await self._complaints.create_index(
            "idempotency.key",
            unique=True,
            partialFilterExpression={"idempotency.key": {"$exists": True}},
        )
        # The national admin's and auditor's list by status (GET /v1/complaints?status=).
        await self._complaints.create_index([("status", 1), ("submitted_at", -1)])
        # An agency's and a unit's queue (``scope_filter``), newest first.
        await self._complaints.create_index(
            [("agency.id", 1), ("unit_id", 1), ("submitted_at", -1)]
        )
        # A citizen's own reports and those they follow (the two sides of its ``$or``).
        await self._complaints.create_index([("reporter_id", 1), ("submitted_at", -1)])
        await self._complaints.create_index([("followers", 1)])
        # The duplicate check's lookup: equality on both keys, newest first.
        await self._complaints.create_index(
            [("regency", 1), ("category_group", 1), ("submitted_at", -1)]
        )
        # Public lists: the portal, Open311 requests and updates (``public_filter``).
        await self._complaints.create_index(
            [("confidential", 1), ("status", 1), ("submitted_at", -1)]
        )
        # An integration client's audit; partial, so a citizen's complaint has no entry in it.
        await self._complaints.create_index(
            [("integration_client", 1), ("submitted_at", -1)],
            partialFilterExpression={"integration_client": {"$exists": True}},
        )
        # No query filters on the region code alone: the index earlier versions made only
        # cost every write, so migrating drops it.
        await drop_index_if_present(self._complaints, UNUSED_REGION_INDEX)

    async def insert_many(self, records: Sequence[dict[str, Any]], session: Session) -> None:
        """Store new complaints, in order, with the data keys their contact details are sealed
        under (issued by ``ReporterKeys.issue``)."""
        if len(records) == 1:  # a taken key then raises DuplicateKeyError, naming the index
            await self._complaints.insert_one(dict(records[0]), session=session)
        else:
            await self._complaints.insert_many([dict(r) for r in records], session=session)
        # After the complaints: a tracking-ID collision fails there, before a key is written.
        sealed = [r["_id"] for r in records if report_token(r.get("reporter"))]
        if sealed:
            await self._key_store.store(sealed, session=session)

    async def get(
        self, complaint_id: str, *, session: Session | None = None
    ) -> dict[str, Any] | None:
        """A complaint by tracking ID."""
        return await self._opened(
            await self._complaints.find_one({"_id": complaint_id}, session=session)
        )

    async def by_idempotency_key(self, key: str) -> dict[str, Any] | None:
        """The complaint an earlier request with this Idempotency-Key created."""
        return await self._opened(await self._complaints.find_one({"idempotency.key": key}))

    async def find(self, query: dict[str, Any], *, limit: int, offset: int) -> list[dict[str, Any]]:
        """Complaints matching a (scope) filter, newest first."""
        cursor = self._complaints.find(query).sort("submitted_at", -1).skip(offset).limit(limit)
        return await self._opened_all(await cursor.to_list(None))

    async def recent_nearby(
        self, *, category: str, regency: str, since: datetime, until: datetime, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Open reports of the same top-level category in the same regency between two moments,
        newest first."""
        query = {
            "regency": regency,
            "category_group": category_group(category),
            "submitted_at": {"$gte": since, "$lte": until},
            "status": {"$nin": ["rejected", "merged"]},
        }
        projection = dict.fromkeys(REPORT_FIELDS, 1)
        cursor = self._complaints.find(query, projection).sort("submitted_at", -1).limit(limit)
        return await cursor.to_list(None)

    async def set_possible_duplicates(
        self, complaint_id: str, duplicates: list[dict[str, Any]]
    ) -> None:
        """Record the likely duplicates found for a complaint."""
        await self._complaints.update_one(
            {"_id": complaint_id}, {"$set": {"possible_duplicates": duplicates}}
        )

    async def supporters_of(self, complaint_id: str, *, session: Session) -> list[str]:
        """Citizens who support a complaint."""
        prefix = f"{complaint_id}:"
        cursor = self._supports.find({"_id": {"$regex": f"^{re.escape(prefix)}"}}, session=session)
        return [doc["_id"][len(prefix) :] async for doc in cursor]

    async def apply(
        self, complaint_id: str, version: int, update: dict[str, Any], *, session: Session
    ) -> dict[str, Any]:
        """Apply an update to the version that was read; refuse if it changed meanwhile."""
        updated = await self._complaints.find_one_and_update(
            {"_id": complaint_id, "version": version},
            update,
            session=session,
            return_document=ReturnDocument.AFTER,
        )
        if updated is None:
            raise ConcurrentUpdate(complaint_id)
        [opened] = await self._opened_all([updated])
        return opened

    async def action_key(self, key: str, *, session: Session) -> dict[str, Any] | None:
        """An action taken earlier under this (scoped) Idempotency-Key."""
        return await self._action_keys.find_one({"_id": key}, session=session)

    async def remember_action_key(
        self, key: str, fingerprint: str, at: datetime, *, session: Session
    ) -> None:
        """Keep an action's Idempotency-Key with the transition it made (same transaction)."""
        await self._action_keys.insert_one(
            {"_id": key, "fingerprint": fingerprint, "at": at}, session=session
        )

    async def update(self, complaint_id: str, update: dict[str, Any], *, session: Session) -> bool:
        """Apply an update that needs no version guard; False when no such complaint."""
        result = await self._complaints.update_one({"_id": complaint_id}, update, session=session)
        return result.matched_count == 1

    async def update_each(
        self, updates: Sequence[tuple[str, dict[str, Any]]], *, session: Session | None
    ) -> bool:
        """Apply updates by complaint ID, in order, in one write; False when a complaint of
        them is not stored (the others are updated: the caller's transaction decides)."""
        if not updates:
            return True
        result = await self._complaints.bulk_write(
            [UpdateOne({"_id": complaint_id}, update) for complaint_id, update in updates],
            ordered=True,
            session=session,
        )
        return result.matched_count == len(updates)

    async def add_supporter(self, complaint_id: str, citizen: str, *, session: Session) -> bool:
        """Count one support per citizen; False when this citizen already supports it."""
        key = f"{complaint_id}:{citizen}"
        # Read first: a duplicate-key error would abort the surrounding transaction.
        if await self._supports.find_one({"_id": key}, session=session) is not None:
            return False
        await self._supports.insert_one({"_id": key, "at": datetime.now(UTC)}, session=session)
        await self._complaints.update_one(
            {"_id": complaint_id}, {"$inc": {"supporters": 1}}, session=session
        )
        return True

    async def ended_with_contact(
        self, statuses: Collection[str], *, ended_before: datetime, limit: int
    ) -> list[str]:
        """Reports in one of these (ended) statuses since before ``ended_before`` whose reporter
        was not erased: whose contact details retention is to destroy, oldest first."""
        cursor = self._complaints.find(
            _ended_with_contact(statuses, ended_before), {"_id": 1}
        ).limit(limit)
        return [doc["_id"] async for doc in cursor]

    async def erase_reporter(
        self,
        complaint_id: str,
        *,
        at: datetime,
        session: Session,
        unless_changed: tuple[Collection[str], datetime] | None = None,
    ) -> dict[str, Any] | None:
        """Drop the reporter's contact details and account from the record: it reads as
        anonim from now on. With ``unless_changed`` (statuses, ended before), only if the
        record still ended so long ago (None if not: a reply re-opened it meanwhile)."""
        guard = _ended_with_contact(*unless_changed) if unless_changed else {}
        result: dict[str, Any] | None = await self._complaints.find_one_and_update(
            {"_id": complaint_id, **guard},
            {
                "$set": {"reporter": None, "anonymous": True, "reporter_erased_at": at},
                "$unset": {"reporter_id": ""},
            },
            session=session,
            return_document=ReturnDocument.AFTER,
        )
        if result is None and unless_changed is None:
            raise LookupError(complaint_id)
        return result

    async def set_rating(
        self, complaint_id: str, rating: dict[str, Any], *, session: Session
    ) -> dict[str, Any] | None:
        """Record the rating unless one exists; None when it was already rated."""
        result: dict[str, Any] | None = await self._complaints.find_one_and_update(
            {"_id": complaint_id, "rating": None},
            {"$set": {"rating": rating}},
            session=session,
            return_document=ReturnDocument.AFTER,
        )
        return await self._opened(result)


def _ended_with_contact(statuses: Collection[str], ended_before: datetime) -> dict[str, Any]:
    # The last change of an ended report is its ending (a reply re-opens it first).
    return {
        "status": {"$in": sorted(statuses)},
        "updated_at": {"$lt": ended_before},
        "reporter": {"$ne": None},
        "reporter_erased_at": None,
    }
