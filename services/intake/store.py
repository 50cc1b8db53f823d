"""MongoDB adapter for complaints: the ``complaints`` collection intake owns."""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from kernel.mongo import Document, Session

COMPLAINTS = "complaints"


class ComplaintStore:
    """Stored complaints, by tracking ID."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._complaints = db[COMPLAINTS]

    async def create_indexes(self) -> None:
        """Unique Idempotency-Key, and the lookups the API serves."""
        await self._complaints.create_index(
            "idempotency.key",
            unique=True,
            partialFilterExpression={"idempotency.key": {"$exists": True}},
        )
        await self._complaints.create_index([("status", 1), ("submitted_at", -1)])

    async def insert(self, record: dict[str, Any], *, session: Session) -> None:
        """Store a new complaint."""
        await self._complaints.insert_one(record, session=session)

    async def get(self, complaint_id: str) -> dict[str, Any] | None:
        """A complaint by tracking ID."""
        return await self._complaints.find_one({"_id": complaint_id})

    async def by_idempotency_key(self, key: str) -> dict[str, Any] | None:
        """The complaint an earlier request with this Idempotency-Key created."""
        return await self._complaints.find_one({"idempotency.key": key})

    async def update(
        self,
        complaint_id: str,
        fields: dict[str, Any],
        history: dict[str, Any] | None,
        *,
        session: Session,
    ) -> bool:
        """Apply a reflected outcome; False when no such complaint is stored."""
        change: dict[str, Any] = {"$set": fields}
        if history is not None:
            change["$push"] = {"history": history}
        result = await self._complaints.update_one({"_id": complaint_id}, change, session=session)
        return result.matched_count == 1
