"""Who saw a reporter's personal data: an append-only record of every disclosure of a
reporter's name, e-mail or phone to anyone but the reporter (UU 27/2022 (PDP): a controller
must be able to say, after a failure of protection, which data was exposed, when and to whom).

Nothing here updates or deletes: the store offers writing and reading only. In production the
service's MongoDB user may be given insert and find on this collection and nothing more.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from kernel.mongo import Document
from schemas.complaint import Actor

ACCESS_LOG = "contact_access_log"


@dataclass(frozen=True)
class Disclosure:
    """One complaint's reporter data shown to one viewer."""

    complaint_id: str
    fields: tuple[str, ...]
    viewer: Actor
    purpose: str
    route: str
    at: datetime


class AccessLog:
    """The disclosures, read newest first, by complaint and by viewer."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._log = db[ACCESS_LOG]

    async def create_indexes(self) -> None:
        # The auditor's two questions: who saw this report's reporter, and what did this
        # person see.
        await self._log.create_index([("complaint_id", ASCENDING), ("at", DESCENDING)])
        await self._log.create_index([("viewer.subject", ASCENDING), ("at", DESCENDING)])

    async def record(self, disclosures: Sequence[Disclosure]) -> None:
        """Append the disclosures (before the data leaves: a log that failed refuses the read)."""
        if disclosures:
            await self._log.insert_many([_document(d) for d in disclosures], ordered=False)

    async def entries(
        self,
        *,
        complaint_ids: Sequence[str] | None = None,
        viewer: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Disclosures, newest first, of these complaints and/or to this viewer, in a window."""
        query: dict[str, Any] = {}
        if complaint_ids is not None:
            query["complaint_id"] = {"$in": list(complaint_ids)}
        if viewer is not None:
            query["viewer.subject"] = viewer
        window = {k: v for k, v in (("$gte", since), ("$lt", until)) if v is not None}
        if window:
            query["at"] = window
        cursor = self._log.find(query, {"_id": 0}).sort("at", DESCENDING).skip(offset)
        return [doc async for doc in cursor.limit(limit)]


def _document(disclosure: Disclosure) -> dict[str, Any]:
    viewer = disclosure.viewer
    return {
        "complaint_id": disclosure.complaint_id,
        "fields": list(disclosure.fields),
        "viewer": {
            "subject": viewer.subject,
            "role": viewer.role.value,
            "agency_id": viewer.agency_id,
            "unit_id": viewer.unit_id,
        },
        "purpose": disclosure.purpose,
        "route": disclosure.route,
        "at": disclosure.at,
    }
