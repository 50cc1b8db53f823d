"""MongoDB adapter of the standards registry: every version of every standard, the version in
force per service, and the complaints and violations each standard drew."""

import re
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from kernel.mongo import Document, Session

STANDARDS = "standards"
VERSIONS = "standard_versions"
FEEDBACK = "standard_feedback"


class StandardStore:
    """``standards``: the published version of each service (what the public and the other
    services read); ``standard_versions``: drafts, published and superseded versions with
    who and when; ``standard_feedback``: counts from the complaint stream."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._standards = db[STANDARDS]
        self._versions = db[VERSIONS]
        self._feedback = db[FEEDBACK]

    async def create_indexes(self) -> None:
        """Lists by agency and region, versions by standard."""
        await self._standards.create_index([("agency_id", ASCENDING), ("service_name", ASCENDING)])
        await self._standards.create_index([("region_code", ASCENDING)])
        await self._versions.create_index([("standard_id", ASCENDING), ("version", DESCENDING)])

    async def get(
        self, standard_id: str, *, session: Session | None = None
    ) -> dict[str, Any] | None:
        """The published version of a standard."""
        return await self._standards.find_one({"_id": standard_id}, session=session)

    async def put(self, doc: dict[str, Any], *, session: Session) -> None:
        """Make a version the one in force."""
        await self._standards.replace_one({"_id": doc["_id"]}, doc, upsert=True, session=session)

    async def search(
        self,
        *,
        agency_id: str | None = None,
        region_code: str | None = None,
        keyword: str | None = None,
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        """Standards in force, by agency then name; filters combine."""
        query: dict[str, Any] = {}
        if agency_id is not None:
            query["agency_id"] = agency_id
        if region_code is not None:
            query["region_code"] = {"$regex": f"^{re.escape(region_code)}(\\.|$)"}
        if keyword:
            query["search"] = {"$regex": re.escape(keyword.lower())}
        cursor = self._standards.find(query).sort([("agency_id", 1), ("service_name", 1)])
        return await cursor.skip(offset).limit(limit).to_list(None)

    async def all_in_force(self) -> list[dict[str, Any]]:
        """Every standard in force (for the compliance gauges)."""
        return await self._standards.find({}).to_list(None)

    async def latest_version(self, standard_id: str, *, session: Session) -> int:
        """The highest version number given so far (0 when none)."""
        doc = await self._versions.find_one(
            {"standard_id": standard_id}, sort=[("version", DESCENDING)], session=session
        )
        return int(doc["version"]) if doc else 0

    async def add_version(self, doc: dict[str, Any], *, session: Session) -> None:
        """Keep a new version (draft or published)."""
        await self._versions.insert_one(doc, session=session)

    async def version(
        self, standard_id: str, version: int, *, session: Session | None = None
    ) -> dict[str, Any] | None:
        """One version."""
        return await self._versions.find_one(
            {"standard_id": standard_id, "version": version}, session=session
        )

    async def versions(self, standard_id: str) -> list[dict[str, Any]]:
        """Every version of a standard, newest first."""
        cursor = self._versions.find({"standard_id": standard_id}).sort("version", DESCENDING)
        return await cursor.to_list(None)

    async def mark_version(
        self, standard_id: str, version: int, fields: dict[str, Any], *, session: Session
    ) -> None:
        """Change a version's status (published, superseded) with who and when."""
        await self._versions.update_one(
            {"standard_id": standard_id, "version": version}, {"$set": fields}, session=session
        )

    async def count_complaint(self, standard_id: str, *, session: Session) -> None:
        """One more complaint concerns this standard."""
        await self._feedback.update_one(
            {"_id": standard_id}, {"$inc": {"complaints": 1}}, upsert=True, session=session
        )

    async def count_violations(
        self, standard_id: str, kinds: list[str], *, session: Session
    ) -> None:
        """A complaint showed these violations of the standard."""
        increments: dict[str, int] = {f"violations.{kind}": 1 for kind in kinds}
        increments["complaints_with_violations"] = 1
        await self._feedback.update_one(
            {"_id": standard_id}, {"$inc": increments}, upsert=True, session=session
        )

    async def feedback(self, standard_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Complaint and violation counts per standard."""
        cursor = self._feedback.find({"_id": {"$in": standard_ids}})
        return {doc.pop("_id"): doc async for doc in cursor}
