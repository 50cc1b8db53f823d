"""Composition root of the standards registry."""

from fastapi import FastAPI

from kernel import http
from kernel.auth import TokenVerifier
from kernel.runtime import Runtime, Startable
from services.standards.api import router
from services.standards.config import StandardsSettings
from services.standards.service import StandardsService
from services.standards.store import StandardStore

Settings = StandardsSettings


def create_app(settings: StandardsSettings) -> FastAPI:
    """The registry's HTTP API and its outbox relay (it consumes nothing yet)."""
    runtime = Runtime(settings)
    store = StandardStore(runtime.db)
    service = StandardsService(store=store, uow=runtime.uow)
    app = http.create_app(
        service=settings.service_name,
        title="LAPOR standards (SIPP)",
        description="The registry of public-service standards with their 14 components.",
        components=[runtime, Startable(store.create_indexes)],
        readiness=runtime.readiness_checks(),
        max_body_bytes=settings.standards_max_body_bytes,
    )
    app.include_router(router(service, http.authentication(TokenVerifier(settings))))
    return app
