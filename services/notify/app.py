"""Composition root of notify."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path

from kernel import http
from kernel.auth import TokenVerifier
from kernel.runtime import Runtime, Startable
from schemas.complaint import TRACKING_ID_PATTERN, Actor, Role
from schemas.events import (
    COMPLAINT_EVENT_TYPES,
    ComplaintRouted,
    ComplaintSubmitted,
    SlaDeadlineSet,
)
from schemas.topics import COMPLAINT_EVENTS, NOTIFY_GROUP
from services.notify.config import NotifySettings
from services.notify.rendering import TemplateRenderer
from services.notify.service import NotifyService
from services.notify.store import NotifyStore

Settings = NotifySettings


def create_app(settings: NotifySettings) -> FastAPI:
    """Notify's consumer of lifecycle events, with a read API for a complaint's message log."""
    runtime = Runtime(settings)
    store = NotifyStore(runtime.db)
    service = NotifyService(store=store, uow=runtime.uow, renderer=TemplateRenderer())
    consumer = runtime.consumer(
        group_id=NOTIFY_GROUP,
        topics=[COMPLAINT_EVENTS.name],
        handlers={
            event_type.event_type(): service.on_event
            for event_type in (ComplaintSubmitted, ComplaintRouted, SlaDeadlineSet)
        },
        payload_types=COMPLAINT_EVENT_TYPES,
    )
    app = http.create_app(
        service=settings.service_name,
        title="LAPOR notify",
        description="Messages to complainants and agencies, one per event, recipient and channel.",
        components=[runtime, Startable(store.create_indexes), consumer],
        readiness=runtime.readiness_checks(),
    )
    api = APIRouter(prefix="/v1", tags=["notify"])
    caller = http.authentication(TokenVerifier(settings))

    @api.get("/messages/{complaint_id}", summary="Messages recorded about a complaint (internal)")
    async def messages(
        complaint_id: Annotated[str, Path(pattern=TRACKING_ID_PATTERN)],
        actor: Annotated[Actor | None, Depends(caller)],
    ) -> list[dict[str, Any]]:
        viewer = http.require_role(actor, Role.NATIONAL_ADMIN, Role.AUDITOR)
        found = await store.messages_of(complaint_id)
        # Addresses are contact details: the national admin's only.
        hidden = {"address"} if viewer.role is Role.AUDITOR else set()
        return [
            {"id": m["_id"], **{k: v for k, v in m.items() if k != "_id" and k not in hidden}}
            for m in found
        ]

    app.include_router(api)
    return app
