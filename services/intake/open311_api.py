"""HTTP adapter of Open311 GeoReport v2 under ``/open311/v2`` (``.json`` and ``.xml``)."""

import hmac
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from kernel.http import correlation_id
from schemas.complaint import TRACKING_ID_PATTERN, ComplaintStatus, ReportType
from services.intake import open311
from services.intake.catalog import ServiceCatalog
from services.intake.clients import ClientRegistry
from services.intake.domain import ComplaintCreate
from services.intake.service import ComplaintNotFound, IntakeService
from services.intake.views import is_public, public_filter

PREFIX = "/open311/v2"
FORMATS = ("json", "xml")
_TRACKING = re.compile(TRACKING_ID_PATTERN)


# What GeoReport v2 clients post (the handler reads the raw form, so FastAPI cannot describe it).
_TEXT = {"type": "string"}
NEW_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["api_key", "service_code"],
                "properties": {
                    "api_key": {**_TEXT, "description": "The client's key."},
                    "service_code": {**_TEXT, "description": "From GET /services."},
                    "lat": {"type": "number", "minimum": -90, "maximum": 90},
                    "long": {"type": "number", "minimum": -180, "maximum": 180},
                    "address_string": {**_TEXT, "description": "Instead of lat and long."},
                    "description": {**_TEXT, "maxLength": open311.DESCRIPTION_LIMIT},
                    "email": {**_TEXT, "format": "email"},
                    "phone": _TEXT,
                    "first_name": _TEXT,
                    "last_name": _TEXT,
                    "media_url": {**_TEXT, "format": "uri"},
                    "attribute[region_code]": {
                        **_TEXT,
                        "description": "Kemendagri region code (or give lat and long).",
                    },
                    "attribute[report_type]": {
                        **_TEXT,
                        "enum": [report_type.value for report_type in ReportType],
                    },
                },
            }
        }
    },
}


def _respond(body: bytes, media_type: str, status: int = 200) -> Response:
    return Response(content=body, media_type=media_type, status_code=status)


def _error(fmt: str, error: open311.Open311Error) -> Response:
    body, media_type = open311.render_errors(
        fmt if fmt in FORMATS else "json", error.status, error.description
    )
    return _respond(body, media_type, error.status)


async def _guarded(fmt: str, run: Callable[[str], Awaitable[Response]]) -> Response:
    """Run an endpoint body; spec errors become the spec's error list in the asked format."""
    try:
        if fmt not in FORMATS:
            raise open311.Open311Error(400, "format must be .json or .xml")
        return await run(fmt)
    except open311.Open311Error as exc:
        return _error(fmt, exc)


def open311_router(
    service: IntakeService,
    catalog: ServiceCatalog,
    *,
    api_keys: list[str],
    clients: ClientRegistry,
) -> APIRouter:
    """Routes bound to intake's service and catalog; POST needs one of ``api_keys`` or an
    integration client's key (which brings the client's own rate limit and audit)."""
    api = APIRouter(prefix=PREFIX, tags=["open311"])

    @api.get("/discovery.{fmt}", summary="Open311 discovery")
    async def discovery(fmt: str, request: Request) -> Response:
        async def run(fmt: str) -> Response:
            document = {
                "changeset": "2026-11-24T00:00:00Z",
                "contact": "SP4N-LAPOR! platform operators",
                "key_service": "Ask the deployment's operators for an api_key",
                "endpoints": [
                    {
                        "specification": open311.SPECIFICATION,
                        "url": str(request.base_url).rstrip("/") + PREFIX,
                        "changeset": "2026-11-24T00:00:00Z",
                        "type": "production",
                        "formats": ["application/json", "text/xml"],
                    }
                ],
            }
            return _respond(*open311.render_one(fmt, "discovery", document))

        return await _guarded(fmt, run)

    @api.get("/services.{fmt}", summary="Open311 service list")
    async def services(fmt: str) -> Response:
        async def run(fmt: str) -> Response:
            listed = [s.as_dict() for s in (await catalog.services()).values()]
            return _respond(*open311.render(fmt, "services", "service", listed))

        return await _guarded(fmt, run)

    @api.get("/services/{service_code}.{fmt}", summary="Open311 service definition")
    async def service_definition(service_code: str, fmt: str) -> Response:
        async def run(fmt: str) -> Response:
            found = (await catalog.services()).get(service_code)
            if found is None:
                raise open311.Open311Error(404, f"unknown service_code {service_code!r}")
            return _respond(
                *open311.render_one(fmt, "service_definition", open311.definition(found))
            )

        return await _guarded(fmt, run)

    @api.post(
        "/requests.{fmt}",
        summary="Open311 create a service request (form-encoded)",
        status_code=201,
        openapi_extra={"requestBody": NEW_REQUEST_BODY},
    )
    async def create(fmt: str, request: Request) -> Response:
        async def run(fmt: str) -> Response:
            form = parse_qs((await request.body()).decode("utf-8", "replace"))
            key = (form.get("api_key") or [""])[-1]
            client = await clients.authenticate(key) if key else None
            if client is None and not (
                key and any(hmac.compare_digest(key, known) for known in api_keys)
            ):
                address = request.client.host if request.client else "unknown"
                if key and clients.refused(address) > 0:
                    raise open311.Open311Error(429, "too many bad api_keys; retry later")
                raise open311.Open311Error(403, "a valid api_key is required")
            if client is not None and clients.wait(client) > 0:
                raise open311.Open311Error(429, f"{client.client_id} is over its rate limit")
            new = open311.parse_new_request(form, await catalog.services())
            try:
                create = ComplaintCreate.model_validate(new.body)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                raise open311.Open311Error(400, f"{where}: {first['msg']}") from exc
            record, _ = await service.submit(
                create,
                correlation_id=correlation_id(request),
                integration_client=client.client_id if client else None,
            )
            created = [
                {
                    "service_request_id": record["_id"],
                    "service_notice": "Simpan nomor ini untuk memantau laporan Anda.",
                    "account_id": None,
                }
            ]
            body, media_type = open311.render(fmt, "service_requests", "request", created)
            return _respond(body, media_type, 201)

        return await _guarded(fmt, run)

    @api.get("/requests.{fmt}", summary="Open311 service requests (public ones, newest first)")
    async def list_requests(fmt: str, request: Request) -> Response:
        async def run(fmt: str) -> Response:
            params = request.query_params
            services_by_code = await catalog.services()
            query = public_filter()
            ids = params.get("service_request_id")
            if ids:
                wanted = [i.strip() for i in ids.split(",") if i.strip()]
                if not all(_TRACKING.fullmatch(i) for i in wanted) or len(wanted) > 100:
                    raise open311.Open311Error(400, "service_request_id: up to 100 tracking IDs")
                query["_id"] = {"$in": wanted}
            else:
                since, until = open311.window(
                    params.get("start_date"), params.get("end_date"), now=datetime.now(UTC)
                )
                query["submitted_at"] = {"$gte": since, "$lte": until}
                codes = params.get("service_code")
                if codes:
                    wanted = [c.strip() for c in codes.split(",") if c.strip()]
                    unknown = [c for c in wanted if c not in services_by_code]
                    if unknown:
                        raise open311.Open311Error(400, f"unknown service_code {unknown[0]!r}")
                    # A request's code is its standard when it names one, else its category
                    # (request_view): the filter matches exactly the code a client is shown.
                    query["$or"] = [
                        {"service_standard_id": {"$in": wanted}},
                        {"service_standard_id": None, "category": {"$in": wanted}},
                    ]
                states = open311.statuses(params.get("status"))
                if states == {"open"}:
                    query["status"]["$nin"] = sorted(s.value for s in open311.CLOSED)
                elif states == {"closed"}:
                    query["status"]["$in"] = sorted(
                        set(query["status"]["$in"]) & {s.value for s in open311.CLOSED}
                    )
            records = await service.list(query, limit=open311.MAX_RESULTS, offset=0)
            views = [open311.request_view(r, services_by_code, public=True) for r in records]
            return _respond(*open311.render(fmt, "service_requests", "request", views))

        return await _guarded(fmt, run)

    @api.get("/requests/{service_request_id}.{fmt}", summary="Open311 one service request")
    async def one_request(service_request_id: str, fmt: str) -> Response:
        async def run(fmt: str) -> Response:
            record = await _visible(service, service_request_id)
            view = open311.request_view(record, await catalog.services(), public=is_public(record))
            return _respond(*open311.render(fmt, "service_requests", "request", [view]))

        return await _guarded(fmt, run)

    @api.get("/tokens/{token}.{fmt}", summary="Open311 token lookup")
    async def token(token: str, fmt: str) -> Response:
        async def run(fmt: str) -> Response:
            # Requests get their ID at once, so a token is the ID itself.
            record = await _visible(service, token)
            found = [{"service_request_id": record["_id"], "token": token}]
            return _respond(*open311.render(fmt, "service_requests", "request", found))

        return await _guarded(fmt, run)

    @api.get(
        "/servicerequestupdates.{fmt}",
        summary="mySociety extension: updates to public requests in a date range",
    )
    async def request_updates(fmt: str, request: Request) -> Response:
        async def run(fmt: str) -> Response:
            params = request.query_params
            since, until = open311.window(
                params.get("start_date"), params.get("end_date"), now=datetime.now(UTC)
            )
            query = public_filter()
            query["updated_at"] = {"$gte": since, "$lte": until}
            records = await service.list(query, limit=open311.MAX_RESULTS, offset=0)
            entries = [
                entry
                for record in records
                for entry in open311.updates(record)
                if open311.window_contains(entry["updated_datetime"], since, until)
            ]
            return _respond(
                *open311.render(fmt, "service_request_updates", "request_update", entries)
            )

        return await _guarded(fmt, run)

    return api


async def _visible(service: IntakeService, tracking_id: str) -> dict[str, Any]:
    """A non-rahasia request by ID (its text only once it is public), else 404."""
    if not _TRACKING.fullmatch(tracking_id):
        raise open311.Open311Error(404, f"no service request {tracking_id!r}")
    try:
        record = await service.get(tracking_id)
    except ComplaintNotFound as exc:
        raise open311.Open311Error(404, f"no service request {tracking_id!r}") from exc
    if record["confidential"] or record["status"] == ComplaintStatus.REJECTED.value:
        raise open311.Open311Error(404, f"no service request {tracking_id!r}")
    return record
