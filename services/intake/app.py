"""Composition root of intake: the one place its parts are built and wired."""

from datetime import timedelta

from fastapi import FastAPI

from kernel import http
from kernel.auth import TokenVerifier
from kernel.group_commit import GroupCommit
from kernel.metrics import COMPLAINTS_OPEN
from kernel.runtime import DatabaseGauges, Runtime, Startable
from services.intake import handlers
from services.intake.access_log import AccessLog
from services.intake.api import router
from services.intake.catalog import ServiceCatalog
from services.intake.channels import sms_router
from services.intake.clients import ClientRegistry
from services.intake.clients_api import clients_router
from services.intake.config import IntakeSettings
from services.intake.directory import AgencyDirectory
from services.intake.internal_api import internal_router
from services.intake.lifecycle import OPEN_STATUSES
from services.intake.open311_api import open311_router
from services.intake.privacy_api import privacy_router
from services.intake.reporter_keys import ReporterKeys
from services.intake.retention import RetentionSweep
from services.intake.service import IntakeService
from services.intake.store import ComplaintStore

Settings = IntakeSettings


OPEN_GAUGE_SECONDS = 30.0


DESCRIPTION = (
    "Submit and track complaints (pengaduan), suggestions (aspirasi) and information requests."
)


def create_app(settings: IntakeSettings) -> FastAPI:
    """Intake's HTTP app, with its outbox relay and its consumer of routing and SLA outcomes."""
    runtime = Runtime(settings, description=DESCRIPTION)
    sealer = settings.sealer()
    keys = ReporterKeys(runtime.db, master=sealer)
    store = ComplaintStore(runtime.db, keys=keys, sealer=sealer)
    directory = AgencyDirectory(runtime.db)
    access_log = AccessLog(runtime.db)
    catalog = ServiceCatalog(runtime.db)
    service = IntakeService(
        store=store,
        keys=keys,
        uow=runtime.uow,
        submissions=GroupCommit(
            runtime.uow,
            store.insert_many,
            max_items=settings.group_commit_items,
            deadline_seconds=settings.request_db_deadline_seconds,
        ),
        reply_window=timedelta(days=settings.intake_reply_window_days),
        directory=directory,
        catalog=catalog,
        clock=settings.clock(),
    )
    retention = RetentionSweep(
        service,
        retention=timedelta(days=settings.intake_contact_retention_days),
        seconds=settings.intake_retention_sweep_seconds,
        db=runtime.db,
    )
    consumer = runtime.include(
        handlers.router(runtime, service, catalog=catalog, directory=directory)
    )

    async def open_gauges() -> None:
        counts = await store.open_by_status(sorted(s.value for s in OPEN_STATUSES))
        for status, count in counts.items():
            COMPLAINTS_OPEN.labels(status).set(count)

    app = http.create_app(
        service=settings.service_name,
        title="LAPOR intake",
        description=DESCRIPTION,
        components=[
            runtime,
            Startable(store.create_indexes),
            Startable(keys.create_indexes),
            Startable(access_log.create_indexes),
        ],
        workers=[
            consumer,
            retention,
            DatabaseGauges(
                open_gauges, seconds=OPEN_GAUGE_SECONDS, db=runtime.db, gauges=[COMPLAINTS_OPEN]
            ),
        ],
        roles=settings.roles,
        readiness=runtime.readiness_checks(),
        public_rate_limit=settings.public_rate_limiter(),
        db_deadline_seconds=settings.request_db_deadline_seconds,
        max_body_bytes=settings.intake_max_body_bytes,
    )
    caller = http.authentication(TokenVerifier(settings))
    clients = ClientRegistry(runtime.db)
    app.include_router(router(service, caller, clients, access_log))
    app.include_router(
        privacy_router(
            service,
            access_log,
            caller,
            retention_days=settings.intake_contact_retention_days,
        )
    )
    app.include_router(internal_router(keys, sealer))
    app.include_router(clients_router(clients, directory, service, caller))
    app.include_router(
        open311_router(
            service,
            catalog,
            api_keys=[key.get_secret_value() for key in settings.intake_open311_api_keys],
            clients=clients,
        )
    )
    app.include_router(
        sms_router(
            service,
            token=settings.intake_sms_gateway_token.get_secret_value(),
            default_region=settings.intake_sms_default_region,
        )
    )
    app.state.runtime = runtime  # for lapor-admin rebuild
    app.state.retention = retention  # tests and operators' tools
    return app
