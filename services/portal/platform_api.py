"""The services' public HTTP APIs, as the portal calls them (a thin adapter: no rules here).

Every call says who it is for: a bearer token when someone is signed in, none otherwise, so each
service decides what the person may see and do, exactly as for any other client.
"""

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.portal.config import PortalSettings

CATEGORIES_SECONDS = 300.0


@dataclass(frozen=True)
class Answer:
    """A service's answer: its status and JSON body (a problem document when refused)."""

    status: int
    body: Any = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def unavailable(self) -> bool:
        """The service did not answer, or answered that it cannot now (5xx)."""
        return self.status >= 500

    @property
    def problem_code(self) -> str:
        return str(self.body.get("code", "")) if isinstance(self.body, dict) else ""

    @property
    def field_errors(self) -> dict[str, str]:
        """Message per form field, from a 422's ``errors`` (``body.title`` → ``title``)."""
        errors = self.body.get("errors", []) if isinstance(self.body, dict) else []
        found: dict[str, str] = {}
        for error in errors:
            name = str(error.get("field", "")).removeprefix("body.").split(".")[0]
            found.setdefault(name, str(error.get("message", "")))
        return found


@dataclass
class _Cached:
    value: Any = None
    at: float = field(default=-1e9)


class PlatformApi:
    """One HTTP client per service."""

    def __init__(
        self, settings: PortalSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ):
        def client(base_url: str) -> httpx.AsyncClient:
            return httpx.AsyncClient(base_url=base_url, timeout=10.0, transport=transport)

        self.intake = client(settings.portal_intake_url)
        self.routing = client(settings.portal_routing_url)
        self.sla = client(settings.portal_sla_url)
        self.standards = client(settings.portal_standards_url)
        self._categories = _Cached()
        self._agencies = _Cached()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        for c in (self.intake, self.routing, self.sla, self.standards):
            await c.aclose()

    @staticmethod
    async def _call(
        client: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        token: str | None = None,
        **kwargs: Any,
    ) -> Answer:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            response = await client.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError:
            return Answer(503, {"code": "service_unavailable"})
        try:
            body = response.json()
        except ValueError:
            body = None
        return Answer(response.status_code, body)

    # Intake
    async def intake_health(self) -> Answer:
        return await self._call(self.intake, "GET", "/healthz")

    async def file(self, report: dict[str, Any], *, token: str | None) -> Answer:
        return await self._call(self.intake, "POST", "/v1/complaints", json=report, token=token)

    async def track(self, tracking_id: str, *, token: str | None) -> Answer:
        return await self._call(self.intake, "GET", f"/v1/complaints/{tracking_id}", token=token)

    async def queue(self, *, token: str, status: str | None, limit: int = 100) -> Answer:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        return await self._call(self.intake, "GET", "/v1/complaints", params=params, token=token)

    async def act(self, tracking_id: str, action: dict[str, Any], *, token: str) -> Answer:
        return await self._call(
            self.intake, "POST", f"/v1/complaints/{tracking_id}/actions", json=action, token=token
        )

    async def public_reports(
        self, *, agency_id: str | None, q: str | None, limit: int = 50
    ) -> Answer:
        params: dict[str, Any] = {"limit": limit}
        if agency_id:
            params["agency_id"] = agency_id
        if q:
            params["q"] = q
        return await self._call(self.intake, "GET", "/v1/public/complaints", params=params)

    async def categories(self) -> list[tuple[str, str]]:
        """(code, name) of every category reports may be filed under (intake's Open311 list)."""
        if time.monotonic() - self._categories.at > CATEGORIES_SECONDS:
            answer = await self._call(self.intake, "GET", "/open311/v2/services.json")
            if answer.ok and isinstance(answer.body, list):
                self._categories = _Cached(
                    [(s["service_code"], s["service_name"]) for s in answer.body], time.monotonic()
                )
        return list(self._categories.value or [])

    # Routing
    async def agencies(self) -> dict[str, str]:
        """Agency ID to name, from the directory in force."""
        if time.monotonic() - self._agencies.at > CATEGORIES_SECONDS:
            answer = await self._call(self.routing, "GET", "/v1/directory")
            if answer.ok and isinstance(answer.body, dict):
                self._agencies = _Cached(
                    {a["agency_id"]: a["name"] for a in answer.body.get("agencies", [])},
                    time.monotonic(),
                )
        return dict(self._agencies.value or {})

    # Standards
    async def public_standards(
        self, *, agency_id: str | None, region_code: str | None, q: str | None
    ) -> Answer:
        params = {
            k: v
            for k, v in {"agency_id": agency_id, "region_code": region_code, "q": q}.items()
            if v
        }
        return await self._call(self.standards, "GET", "/v1/public/standards", params=params)

    async def rate(self, tracking_id: str, rating: dict[str, Any], *, token: str) -> Answer:
        return await self._call(
            self.intake, "PUT", f"/v1/complaints/{tracking_id}/rating", json=rating, token=token
        )

    async def support(self, tracking_id: str, *, token: str) -> Answer:
        return await self._call(
            self.intake, "POST", f"/v1/complaints/{tracking_id}/supports", token=token
        )

    async def privacy_notice(self) -> Answer:
        return await self._call(self.intake, "GET", "/v1/privacy-notice")

    # SLA and standards: the agency's performance
    async def on_time(self, *, token: str, by_unit: bool) -> Answer:
        params = {"by_unit": "true"} if by_unit else {}
        return await self._call(self.sla, "GET", "/v1/compliance", params=params, token=token)

    async def standards_in_force(self, *, token: str) -> Answer:
        return await self._call(self.standards, "GET", "/v1/standards", token=token)

    async def standard(self, standard_id: str, *, token: str) -> Answer:
        return await self._call(self.standards, "GET", f"/v1/standards/{standard_id}", token=token)

    async def standard_scores(self, *, token: str) -> Answer:
        return await self._call(self.standards, "GET", "/v1/compliance/standards", token=token)

    async def import_standards(
        self, content: bytes, media_type: str, *, publish: bool, token: str
    ) -> Answer:
        return await self._call(
            self.standards,
            "POST",
            "/v1/standards/import",
            params={"status": "published" if publish else "draft"},
            content=content,
            headers={"Content-Type": media_type},
            token=token,
        )
