"""The services intake offers (Open311): shipped categories plus published service standards,
kept current from the standards registry's compacted topic."""

from pymongo.asynchronous.database import AsyncDatabase

from kernel.mongo import Document, keep_newer
from schemas.envelope import Event
from schemas.events import StandardPublished
from services.intake.categories import shipped_categories
from services.intake.open311 import Service, catalog

SERVICE_CATALOG = "service_catalog"


class ServiceCatalog:
    """Published standards as Open311 services (latest version of each)."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._standards = db[SERVICE_CATALOG]
        self._categories = shipped_categories()

    async def on_standard_published(self, event: Event[StandardPublished]) -> None:
        """Keep the publication in force (the last one); replays and older ones change nothing."""
        published = event.data
        doc = {
            **published.model_dump(mode="json", exclude={"standard_id"}),
            "publication": published.publication(),
        }
        await keep_newer(self._standards, published.standard_id, doc, order="publication")

    async def is_published(self, standard_id: str) -> bool:
        """Whether the registry has published this standard (as far as intake has heard)."""
        return await self._standards.find_one({"_id": standard_id}, {"_id": 1}) is not None

    async def services(self) -> dict[str, Service]:
        """Every service by code."""
        standards = await self._standards.find({}).sort("_id", 1).to_list(None)
        return {service.code: service for service in catalog(self._categories, standards)}
