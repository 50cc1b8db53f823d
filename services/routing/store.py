"""MongoDB adapter of routing: the directory in force, its versions with who changed what, and
the decisions made."""

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from kernel.applied import APPLIED, not_yet_taken_in, remembered, taking_in
from kernel.mongo import Document, Session, keep_newer
from services.routing.domain import Decision, Directory

DIRECTORY = "directory"
DIRECTORY_VERSIONS = "directory_versions"
DECISIONS = "decisions"
STANDARD_OWNERS = "standard_owners"
_DIRECTORY_ID = "current"
# The events a decision remembers having been taken for: far more than one complaint sees
# between two copies of an event published twice.


class VersionConflict(Exception):
    """The directory is not at the version the editor read (someone else changed it)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the directory is at version {current}")
        self.current = current


class RoutingStore:
    """The current directory (cached briefly), every earlier version, one decision per
    complaint."""

    def __init__(self, db: AsyncDatabase[Document], *, cache_seconds: float) -> None:
        self._directory = db[DIRECTORY]
        self._versions = db[DIRECTORY_VERSIONS]
        self._decisions = db[DECISIONS]
        self._owners = db[STANDARD_OWNERS]
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, Directory] | None = None

    async def seed(self, directory: Directory, *, at: datetime) -> None:
        """Store the seed directory as version 1 unless a directory is stored already."""
        doc = directory.model_dump(mode="json") | {"version": 1}
        result = await self._directory.update_one(
            {"_id": _DIRECTORY_ID}, {"$setOnInsert": doc}, upsert=True
        )
        if result.upserted_id is not None:
            await self._versions.update_one(
                {"_id": 1},
                {
                    "$setOnInsert": {
                        "directory": doc,
                        "changed_at": at,
                        "changed_by": "seed",
                        "change": {"kind": "seed"},
                    }
                },
                upsert=True,
            )

    async def directory(self, *, fresh: bool = False) -> Directory:
        """The directory in force (re-read after ``cache_seconds``, so edits made through any
        instance apply everywhere without a restart)."""
        now = time.monotonic()
        if not fresh and self._cached is not None and now - self._cached[0] < self._cache_seconds:
            return self._cached[1]
        doc = await self._directory.find_one({"_id": _DIRECTORY_ID}, {"_id": 0})
        if doc is None:
            raise LookupError("no routing directory is stored")
        directory = Directory.model_validate(doc)
        self._cached = (now, directory)
        return directory

    async def replace(
        self,
        current: Directory,
        following: Directory,
        *,
        changed_by: str,
        changed_at: datetime,
        change: dict[str, Any],
        session: Session,
    ) -> None:
        """Make ``following`` the directory in force, if ``current`` still is; keep the version
        and who made it."""
        doc = following.model_dump(mode="json")
        result = await self._directory.replace_one(
            {"_id": _DIRECTORY_ID, "version": current.version}, doc, session=session
        )
        if result.matched_count == 0:
            stored = await self._directory.find_one({"_id": _DIRECTORY_ID}, session=session)
            raise VersionConflict(stored["version"] if stored else 0)
        await self._versions.insert_one(
            {
                "_id": following.version,
                "directory": doc,
                "changed_at": changed_at,
                "changed_by": changed_by,
                "change": change,
            },
            session=session,
        )
        self._cached = None

    async def versions(self, *, limit: int, before: int | None) -> list[dict[str, Any]]:
        """The audit trail, newest first, without the full tables."""
        query: dict[str, Any] = {} if before is None else {"_id": {"$lt": before}}
        cursor = self._versions.find(query, {"directory": 0}).sort("_id", DESCENDING).limit(limit)
        return [doc async for doc in cursor]

    async def version(self, version: int) -> dict[str, Any] | None:
        """One version with its full table."""
        return await self._versions.find_one({"_id": version})

    async def record(
        self,
        complaint_id: str,
        decision: Decision,
        decided_at: datetime,
        *,
        subject: dict[str, Any],
        excluded: list[str],
        reroutes: int,
        caused_by: str,
        applied: Sequence[str] = (),
        session: Session,
    ) -> None:
        """Keep the decision with its explanation and what a re-route needs to decide again.

        The decision remembers the events it was taken for (``applied``, with ``caused_by``):
        one taken for this event already makes this write collide on the complaint's key
        (``DuplicateKeyError``), so a repeated event decides nothing twice, without a processed
        mark of its own."""
        doc: dict[str, Any] = {
            "_id": complaint_id,
            "agency_id": decision.agency.agency_id,
            "unit_id": decision.unit_id,
            "rule_id": decision.rule_id,
            "reason": decision.reason,
            "alternatives": list(decision.alternatives),
            "confidence": decision.confidence,
            "directory_version": decision.directory_version,
            "proposal": decision.proposal,
            "decided_at": decided_at,
            **subject,
            "excluded": excluded,
            "reroutes": reroutes,
            APPLIED: remembered(list(applied), caused_by),
        }
        await self._decisions.replace_one(
            {"_id": complaint_id, **not_yet_taken_in(caused_by)},
            doc,
            upsert=True,
            session=session,
        )

    async def confirm(
        self,
        complaint_id: str,
        confirmation: dict[str, Any],
        *,
        caused_by: str,
        session: Session | None,
    ) -> None:
        """Note how the national admin settled a decision (confirmed or changed it), once per
        event: a copy published again later does not overwrite a newer settlement."""
        await self._decisions.update_one(
            {"_id": complaint_id, **not_yet_taken_in(caused_by)},
            taking_in({"$set": {"confirmation": confirmation}}, caused_by),
            session=session,
        )

    async def decision(
        self, complaint_id: str, *, session: Session | None = None
    ) -> dict[str, Any] | None:
        """The stored decision on a complaint."""
        return await self._decisions.find_one({"_id": complaint_id}, session=session)

    async def set_owner(
        self,
        standard_id: str,
        agency_id: str,
        unit_id: str | None,
        version: int,
        publication: str,
        *,
        session: Session,
    ) -> None:
        """Who publishes a service standard, as the publication in force says (the last one
        published; an earlier one arriving again changes nothing)."""
        owner = {
            "agency_id": agency_id,
            "unit_id": unit_id,
            "version": version,
            "publication": publication,
        }
        await keep_newer(self._owners, standard_id, owner, order="publication", session=session)

    async def owner(self, standard_id: str, *, session: Session) -> dict[str, Any] | None:
        """The publisher of a service standard, if routing has seen it."""
        return await self._owners.find_one({"_id": standard_id}, session=session)
