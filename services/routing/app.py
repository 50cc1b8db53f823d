"""Composition root of routing."""

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Path

from kernel import http
from kernel.auth import TokenVerifier
from kernel.runtime import Runtime, Startable
from schemas.complaint import TRACKING_ID_PATTERN, Actor, Role
from schemas.events import COMPLAINT_EVENT_TYPES, ComplaintStatusChanged, ComplaintSubmitted
from schemas.topics import COMPLAINT_EVENTS, ROUTING_GROUP
from services.routing.config import RoutingSettings
from services.routing.domain import Directory
from services.routing.service import RoutingService, load_directory
from services.routing.store import RoutingStore

Settings = RoutingSettings


def create_app(settings: RoutingSettings) -> FastAPI:
    """Routing's consumer of submitted complaints, with a read API for its rules and decisions."""
    runtime = Runtime(settings)
    store = RoutingStore(runtime.db, cache_seconds=settings.routing_directory_cache_seconds)
    service = RoutingService(store=store, uow=runtime.uow)
    seed = load_directory(settings.routing_directory_file)
    consumer = runtime.consumer(
        group_id=ROUTING_GROUP,
        topics=[COMPLAINT_EVENTS.name],
        handlers={
            ComplaintSubmitted.event_type(): service.on_submitted,
            ComplaintStatusChanged.event_type(): service.on_status_changed,
        },
        payload_types=COMPLAINT_EVENT_TYPES,
    )
    app = http.create_app(
        service=settings.service_name,
        title="LAPOR routing",
        description="Assigns each complaint to the agency with authority over it.",
        components=[runtime, Startable(lambda: store.seed(seed)), consumer],
        readiness=runtime.readiness_checks(),
    )
    api = APIRouter(prefix="/v1", tags=["routing"])
    caller = http.authentication(TokenVerifier(settings))

    @api.get("/directory", response_model=Directory, summary="Agencies and routing rules in force")
    async def directory() -> Directory:
        return await store.directory()

    @api.get("/decisions/{complaint_id}", summary="The routing decision on a complaint, explained")
    async def decision(
        complaint_id: Annotated[str, Path(pattern=TRACKING_ID_PATTERN)],
        actor: Annotated[Actor | None, Depends(caller)],
    ) -> dict[str, object]:
        http.require_role(actor, Role.NATIONAL_ADMIN, Role.AUDITOR)
        found = await store.decision(complaint_id)
        if found is None:
            raise http.ProblemError(404, "decision_not_found", f"no decision on {complaint_id}")
        found["complaint_id"] = found.pop("_id")
        return found

    app.include_router(api)
    return app
