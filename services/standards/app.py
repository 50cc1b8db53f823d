"""Composition root of the standards registry."""

from fastapi import FastAPI

from kernel import http
from kernel.auth import TokenVerifier
from kernel.metrics import STANDARDS_AGENCY_SCORE, STANDARDS_BY_ZONE
from kernel.runtime import DatabaseGauges, Runtime, Startable
from services.standards import handlers
from services.standards.api import router
from services.standards.config import StandardsSettings
from services.standards.scoring import Thresholds, agency_scores, zone_counts
from services.standards.service import StandardsService
from services.standards.store import StandardStore

Settings = StandardsSettings
IMPORT_PATH = "/v1/standards/import"


DESCRIPTION = "The registry of public-service standards with their 14 components."


def create_app(settings: StandardsSettings) -> FastAPI:
    """The registry's HTTP API, its outbox relay, and its consumer of complaint feedback."""
    runtime = Runtime(settings, description=DESCRIPTION)
    store = StandardStore(runtime.db)
    zones = Thresholds(green=settings.standards_zone_green, yellow=settings.standards_zone_yellow)
    service = StandardsService(store=store, uow=runtime.uow, zones=zones)
    consumer = runtime.include(handlers.router(runtime, service))

    async def compliance_gauges() -> None:
        scores = await service.scores()
        for zone, count in zone_counts([s for _, s in scores]).items():
            STANDARDS_BY_ZONE.labels(zone).set(count)
        for agency in agency_scores(scores, zones):
            STANDARDS_AGENCY_SCORE.labels(agency.agency_id).set(agency.score / 100)

    app = http.create_app(
        service=settings.service_name,
        title="LAPOR standards (SIPP)",
        description=DESCRIPTION,
        components=[runtime, Startable(store.create_indexes)],
        workers=[
            consumer,
            DatabaseGauges(
                compliance_gauges,
                seconds=settings.standards_score_refresh_seconds,
                db=runtime.db,
                gauges=[STANDARDS_BY_ZONE, STANDARDS_AGENCY_SCORE],
            ),
        ],
        roles=settings.roles,
        readiness=runtime.readiness_checks(),
        public_rate_limit=settings.public_rate_limiter(),
        db_deadline_seconds=settings.request_db_deadline_seconds,
        max_body_bytes=settings.standards_max_body_bytes,
        larger_bodies={IMPORT_PATH: settings.standards_import_max_bytes},
    )
    app.include_router(router(service, http.authentication(TokenVerifier(settings))))
    app.state.runtime = runtime  # for lapor-admin rebuild
    return app
