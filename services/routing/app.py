"""Composition root of routing."""

from datetime import UTC, datetime

from fastapi import FastAPI

from kernel import http
from kernel.auth import TokenVerifier
from kernel.runtime import Runtime, Startable
from services.routing import handlers
from services.routing.api import routing_router
from services.routing.config import RoutingSettings
from services.routing.service import DirectoryEditor, RoutingService, load_directory
from services.routing.store import RoutingStore

Settings = RoutingSettings
DESCRIPTION = "Assigns each complaint to the agency with authority over it."


def create_app(settings: RoutingSettings) -> FastAPI:
    """Routing's consumer of submitted complaints, with a read API for its rules and decisions."""
    runtime = Runtime(settings, description=DESCRIPTION)
    store = RoutingStore(runtime.db, cache_seconds=settings.routing_directory_cache_seconds)
    service = RoutingService(store=store, uow=runtime.uow)
    seed = load_directory(settings.routing_directory_file)
    editor = DirectoryEditor(store=store, uow=runtime.uow)
    consumer = runtime.include(handlers.router(runtime, service))
    app = http.create_app(
        service=settings.service_name,
        title="LAPOR routing",
        description=DESCRIPTION,
        components=[
            runtime,
            Startable(lambda: store.seed(seed, at=datetime.now(UTC))),
            Startable(editor.announce),
        ],
        workers=[consumer],
        roles=settings.roles,
        readiness=runtime.readiness_checks(),
        public_rate_limit=settings.public_rate_limiter(),
        db_deadline_seconds=settings.request_db_deadline_seconds,
    )
    app.include_router(
        routing_router(
            store=store,
            editor=editor,
            caller=http.authentication(TokenVerifier(settings)),
        )
    )
    app.state.consumer = consumer  # operators' tools and tests read its partitions
    app.state.runtime = runtime  # for lapor-admin rebuild
    return app
