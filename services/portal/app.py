"""Composition root of the portal."""

from datetime import timedelta
from pathlib import Path
from typing import Self

from fastapi import FastAPI
from pydantic import model_validator
from starlette.responses import FileResponse
from starlette.staticfiles import StaticFiles

from kernel import http
from services.portal.citizen_pages import citizen_router
from services.portal.config import PortalSettings
from services.portal.console_pages import console_router
from services.portal.oidc import OidcProvider
from services.portal.platform_api import PlatformApi
from services.portal.session import SessionCookies
from services.sla.calendar import WorkingCalendar

DESCRIPTION = "The citizen portal and the officer console, over the services' public APIs."
STATIC = Path(__file__).parent / "static"
STATIC_PATH = "/static"  # where the pages' stylesheet and icon are served


class Settings(PortalSettings):
    @model_validator(mode="after")
    def _no_development_sign_in_in_production(self) -> Self:
        if self.environment != "production":
            return self
        if self.portal_dev_sign_in:
            raise ValueError("production refuses the development sign-in: PORTAL_DEV_SIGN_IN=false")
        # The fallback, AUTH_JWT_SECRET, may be the development one where the services verify
        # with a public key: a session key known to everyone would let anyone forge a session.
        if len(self.portal_session_secret.get_secret_value()) < 32:
            raise ValueError("production needs PORTAL_SESSION_SECRET of 32+ characters")
        return self


def create_app(settings: PortalSettings) -> FastAPI:
    """The pages, their assets, and the platform's probes and metrics."""
    api = PlatformApi(settings)

    async def intake_answers() -> None:
        answer = await api.intake_health()
        if not answer.ok:
            raise RuntimeError(f"intake answered {answer.status}")

    app = http.create_app(
        service=settings.service_name,
        title="LAPOR portal",
        description=DESCRIPTION,
        components=[api],
        readiness=[intake_answers],
    )
    app.state.cookies = SessionCookies(
        key=settings.session_key(),
        secure=settings.portal_cookie_secure,
        lifetime=timedelta(hours=settings.portal_session_hours),
    )
    app.state.calendar = WorkingCalendar()
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        # Browsers ask for it on pages that name no icon (an API error shown as JSON).
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    app.include_router(citizen_router(api))
    provider = OidcProvider(settings, key=settings.session_key())
    app.include_router(console_router(api, settings, provider))
    return app
