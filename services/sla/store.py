"""MongoDB adapter of the SLA service: one clock per complaint and stage."""

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from kernel.mongo import Document, Session

CLOCKS = "clocks"


class ClockStore:
    """Running and stopped clocks; due ones are found through the (state, due_at) index."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._clocks = db[CLOCKS]

    async def create_indexes(self) -> None:
        """Index the query that finds clocks falling due."""
        await self._clocks.create_index([("state", ASCENDING), ("due_at", ASCENDING)])

    async def start_clock(
        self,
        *,
        complaint_id: str,
        stage: str,
        agency_id: str,
        started_at: datetime,
        due_at: datetime,
        working_days: int,
        time_zone: str,
        session: Session,
    ) -> None:
        """Start (or restart, after re-routing) the clock of one stage."""
        doc: dict[str, Any] = {
            "_id": f"{complaint_id}:{stage}",
            "complaint_id": complaint_id,
            "stage": stage,
            "agency_id": agency_id,
            "state": "running",
            "started_at": started_at,
            "due_at": due_at,
            "working_days": working_days,
            "time_zone": time_zone,
        }
        await self._clocks.replace_one({"_id": doc["_id"]}, doc, upsert=True, session=session)

    async def clocks_of(self, complaint_id: str) -> list[dict[str, Any]]:
        """Every clock of one complaint."""
        return await self._clocks.find({"complaint_id": complaint_id}).to_list(None)
