"""Create every MongoDB index each service needs, in each service's database (idempotent).

Services create their indexes at start-up too; this runs them ahead of the code that relies on
them (on Kubernetes, each pod's init container for its own service), so that a new index is
built before the code that relies on it serves.
"""

from collections.abc import Awaitable, Callable, Sequence

from pymongo.asynchronous.database import AsyncDatabase

from kernel import mongo
from kernel.mongo import Document
from kernel.settings import ServiceSettings
from kernel.unit_of_work import UnitOfWork
from services.intake.access_log import AccessLog
from services.intake.reporter_keys import create_collection as create_key_collection
from services.intake.store import ComplaintStore
from services.notify.store import NotifyStore
from services.sla.store import ClockStore
from services.standards.store import StandardStore

Indexer = Callable[[AsyncDatabase[Document]], Awaitable[None]]
INDEXERS: dict[str, list[Indexer]] = {
    "intake": [
        lambda db: ComplaintStore(db).create_indexes(),
        create_key_collection,
        lambda db: AccessLog(db).create_indexes(),
    ],
    "routing": [],
    "sla": [lambda db: ClockStore(db).create_indexes()],
    "notify": [lambda db: NotifyStore(db).create_indexes()],
    "standards": [lambda db: StandardStore(db).create_indexes()],
}


async def migrate(base: ServiceSettings, *, only: Sequence[str] | None = None) -> list[str]:
    """Indexes of every service, or of those ``only`` names (its own store and its
    outbox/processed-events collections); returns the databases done."""
    done = []
    for service, indexers in INDEXERS.items():
        if only and service not in only:
            continue
        # Each service's own database (lapor_<service>), unless MONGO_DATABASE names one for all.
        settings = base.model_copy(update={"service_name": service})
        client = mongo.connect(settings)
        try:
            db = mongo.database(client, settings)
            for indexer in indexers:
                await indexer(db)
            await UnitOfWork(client=client, db=db, relay=None).create_indexes()
            done.append(settings.database_name)
        finally:
            await client.close()
    return done
