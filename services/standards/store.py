"""MongoDB adapter of the standards registry."""

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from kernel.mongo import Document, Session

STANDARDS = "standards"


class StandardStore:
    """The current version of each standard, by standard ID."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._standards = db[STANDARDS]

    async def create_indexes(self) -> None:
        """List an agency's standards by name."""
        await self._standards.create_index([("agency_id", 1), ("service_name", 1)])

    async def get(
        self, standard_id: str, *, session: Session | None = None
    ) -> dict[str, Any] | None:
        """One standard."""
        return await self._standards.find_one({"_id": standard_id}, session=session)

    async def put(self, doc: dict[str, Any], *, session: Session) -> None:
        """Store a standard's new current version."""
        await self._standards.replace_one({"_id": doc["_id"]}, doc, upsert=True, session=session)

    async def list(self, *, agency_id: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        """Standards, optionally of one agency, by name."""
        query: dict[str, Any] = {} if agency_id is None else {"agency_id": agency_id}
        cursor = self._standards.find(query).sort([("agency_id", 1), ("service_name", 1)])
        return await cursor.skip(offset).limit(limit).to_list(None)
