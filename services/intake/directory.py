"""The agencies intake can name: routing's directory as it publishes it (compacted topic), kept
so that an admin forwarding by hand names the agency by ID alone and its name, units and zone
come from the directory, never from the caller."""

from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from kernel.mongo import Document, keep_newer
from schemas.envelope import Event
from schemas.events import AgencyPublished, AgencyWithdrawn

AGENCIES = "agencies"


@dataclass(frozen=True)
class KnownAgency:
    """What intake knows of an agency."""

    agency_id: str
    name: str
    time_zone: str
    unit_ids: tuple[str, ...]
    national_desk: bool


class AgencyDirectory:
    """The newest published state of each agency."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._agencies = db[AGENCIES]

    async def on_agency_published(self, event: Event[AgencyPublished]) -> None:
        """Keep the newest version of each agency; older and repeated ones change nothing."""
        payload = event.data
        doc = payload.model_dump(mode="json", exclude={"agency_id"})
        await keep_newer(self._agencies, payload.agency_id, doc, order="directory_version")

    async def on_agency_withdrawn(self, event: Event[AgencyWithdrawn]) -> None:
        """Forget a withdrawn agency, unless a newer version of it is kept already."""
        payload = event.data
        await self._agencies.delete_one(
            {"_id": payload.agency_id, "directory_version": {"$lte": payload.directory_version}}
        )

    async def find(self, agency_id: str) -> KnownAgency | None:
        """An agency by ID, or None when the directory does not list it."""
        doc = await self._agencies.find_one({"_id": agency_id})
        if doc is None:
            return None
        return KnownAgency(
            agency_id=doc["_id"],
            name=doc["name"],
            time_zone=doc["time_zone"],
            unit_ids=tuple(unit["unit_id"] for unit in doc.get("units", ())),
            national_desk=bool(doc.get("national_desk")),
        )

    async def known(self) -> bool:
        """Whether any agency has been heard of (before routing first announces, none is)."""
        return await self._agencies.find_one({}, {"_id": 1}) is not None
