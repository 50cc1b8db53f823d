"""MongoDB adapter of routing: the directory (agencies, rules) and the decisions made."""

import time
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from kernel.mongo import Document, Session
from services.routing.domain import Decision, Directory

DIRECTORY = "directory"
DECISIONS = "decisions"
_DIRECTORY_ID = "current"


class RoutingStore:
    """The current directory (cached briefly) and one decision per complaint."""

    def __init__(self, db: AsyncDatabase[Document], *, cache_seconds: float) -> None:
        self._directory = db[DIRECTORY]
        self._decisions = db[DECISIONS]
        self._cache_seconds = cache_seconds
        self._cached: tuple[float, Directory] | None = None

    async def seed(self, directory: Directory) -> None:
        """Store the seed directory unless one is stored already."""
        await self._directory.update_one(
            {"_id": _DIRECTORY_ID},
            {"$setOnInsert": directory.model_dump(mode="json")},
            upsert=True,
        )

    async def directory(self) -> Directory:
        """The directory in force (re-read after ``cache_seconds``, so edits apply without a
        restart)."""
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < self._cache_seconds:
            return self._cached[1]
        doc = await self._directory.find_one({"_id": _DIRECTORY_ID}, {"_id": 0})
        if doc is None:
            raise LookupError("no routing directory is stored")
        directory = Directory.model_validate(doc)
        self._cached = (now, directory)
        return directory

    async def record(
        self,
        complaint_id: str,
        decision: Decision,
        decided_at: datetime,
        *,
        category: str,
        region_code: str,
        excluded: list[str],
        reroutes: int,
        session: Session,
    ) -> None:
        """Keep the decision with its explanation and what a re-route needs to decide again."""
        doc: dict[str, Any] = {
            "_id": complaint_id,
            "agency_id": decision.agency.agency_id,
            "rule_id": decision.rule_id,
            "reason": decision.reason,
            "alternatives": list(decision.alternatives),
            "decided_at": decided_at,
            "category": category,
            "region_code": region_code,
            "excluded": excluded,
            "reroutes": reroutes,
        }
        await self._decisions.replace_one({"_id": complaint_id}, doc, upsert=True, session=session)

    async def decision(
        self, complaint_id: str, *, session: Session | None = None
    ) -> dict[str, Any] | None:
        """The stored decision on a complaint."""
        return await self._decisions.find_one({"_id": complaint_id}, session=session)
