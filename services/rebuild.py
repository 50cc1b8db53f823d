"""``lapor-admin rebuild SERVICE``: a service's read model made again from the event stream, in
another database, and compared with the live one (``kernel.rebuild`` does the replaying).

Per service: the inputs that do not come from the stream (what admins entered over HTTP: the
routing directory, declared holidays, officers and preferences, the standards themselves) are
copied first; the read models, the collections made from events, are rebuilt and compared; the
volatile fields are those a background worker changes after the event (a timer firing, a
delivery attempt), which a rebuild does not run.

What a service decides or is told first (a routing decision, a complaint as filed) is its own
record, published as events for others; it is not a read model and is not rebuilt.
"""

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from kernel.mongo import Document
from kernel.rebuild import RebuildReport, compare, read_topics, replay_into
from kernel.runtime import Runtime
from kernel.sealing import REPORT_SEALED, is_sealed, report_token
from kernel.settings import ServiceSettings
from kernel.unit_of_work import PROCESSED_COLLECTION
from schemas.events import RecipientRole
from services.intake.catalog import SERVICE_CATALOG
from services.migrate import INDEXERS
from services.notify.domain import CONTACT_CHANNELS
from services.notify.store import MESSAGES, OFFICERS, PREFERENCES, WEBHOOKS
from services.routing.store import DIRECTORY, DIRECTORY_VERSIONS, STANDARD_OWNERS
from services.sla.store import CALENDAR_DAYS, CLOCKS
from services.sla.store import COMPLAINTS as SLA_COMPLAINTS
from services.sla.store import STANDARDS as SLA_STANDARDS
from services.standards.store import FEEDBACK, STANDARDS, VERSIONS

# What a timer or a delivery changes after the event: not reproduced by replaying events.
SLA_TIMER_STATE = ("phase", "level", "next_fire_at", "armed", "warned_at", "breached_at")
DELIVERY_STATE = (
    "status",
    "attempts",
    "attempt_log",
    "digest_of",
    "sent_at",
    "failed_at",
    "cancelled_at",
    "last_error",
    "next_attempt_at",
    "recorded_at",  # when this process recorded it, not when the event happened
)


@dataclass(frozen=True)
class ReadModel:
    """Where a service's state comes from, for rebuilding it."""

    inputs: Sequence[str]  # copied from live as they are
    read_models: Mapping[str, Sequence[str]]  # rebuilt and compared; name -> volatile fields
    # Live documents no replay can make again (collection name, document): left out.
    forgotten: Callable[[str, Document], bool] = lambda name, doc: False


def _to_an_erased_reporter(name: str, doc: Document) -> bool:
    """A message that went to a reporter's e-mail or phone, struck from the log when their
    data was erased: replaying the submission after the key is destroyed cannot know where
    (or that) it went."""
    return (
        name == MESSAGES
        and doc.get("recipient_role") == RecipientRole.COMPLAINANT.value
        and doc.get("channel") in CONTACT_CHANNELS
        and doc.get("address") is None
    )


READ_MODELS: dict[str, ReadModel] = {
    "intake": ReadModel(inputs=(), read_models={SERVICE_CATALOG: ()}),
    "routing": ReadModel(inputs=(DIRECTORY, DIRECTORY_VERSIONS), read_models={STANDARD_OWNERS: ()}),
    "sla": ReadModel(
        inputs=(CALENDAR_DAYS,),
        read_models={CLOCKS: SLA_TIMER_STATE, SLA_COMPLAINTS: (), SLA_STANDARDS: ()},
    ),
    "notify": ReadModel(
        inputs=(OFFICERS, PREFERENCES, WEBHOOKS),
        read_models={MESSAGES: DELIVERY_STATE},
        forgotten=_to_an_erased_reporter,
    ),
    "standards": ReadModel(inputs=(STANDARDS, VERSIONS), read_models={FEEDBACK: ()}),
}


async def rebuild(
    service: str, *, into: str, live: ServiceSettings | None = None, replace: bool = False
) -> RebuildReport:
    """Rebuild ``service``'s read models into the database ``into`` and compare them with live.

    ``into`` is emptied first; it must not be the live database. With ``replace`` (the service
    stopped), the rebuilt read models and processed-event marks then take the live ones' place:
    the marks come too, so that the events the rebuild applied and the stopped consumer had not
    yet committed are not applied twice when it starts again.
    """
    module = importlib.import_module(f"services.{service}.app")
    settings: ServiceSettings = live or module.Settings()
    if into == settings.database_name:
        raise ValueError(f"{into} is the live database of {service}")
    scratch = settings.model_copy(update={"mongo_database": into, "kafka_create_topics": False})
    app = module.create_app(scratch)
    runtime: Runtime = app.state.runtime  # built, never started: no relay, no worker
    plan = READ_MODELS[service]
    live_db = runtime.mongo[settings.database_name]
    try:
        await runtime.mongo.drop_database(into)
        for indexer in INDEXERS[service]:
            await indexer(runtime.db)
        await runtime.uow.create_indexes()
        for name in plan.inputs:
            documents: list[Document] = await live_db[name].find({}).to_list(None)
            if documents:
                await runtime.db[name].insert_many(documents)
        for load in runtime.state_loaders:
            await load()
        groups = [consumer.group for consumer in runtime.groups]
        topics = sorted({t.name for group in groups for t in group.topics})
        records = await read_topics(scratch, topics)
        report = await replay_into(groups, records)
        sealer = settings.sealer()

        def opened(doc: Document) -> Document:
            # A value under a report's data key opens only by asking intake for the key: both
            # sides having sealed one is what is compared.
            return {
                k: sealer.open(v) if is_sealed(v) else REPORT_SEALED if report_token(v) else v
                for k, v in doc.items()
            }

        report.collections = await compare(
            live_db, runtime.db, plan.read_models, opened=opened, forgotten=plan.forgotten
        )
        if replace:
            for name in [*plan.read_models, PROCESSED_COLLECTION]:
                rebuilt: list[Document] = await runtime.db[name].find({}).to_list(None)
                await live_db[name].delete_many({})
                if rebuilt:
                    await live_db[name].insert_many(rebuilt)
    finally:
        await runtime.mongo.close()
    return report
