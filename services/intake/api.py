"""HTTP adapter of intake: submit, track, list, act on, support and rate complaints."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, Security
from fastapi.responses import HTMLResponse
from fastapi.security import APIKeyHeader
from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from kernel.http import (
    ANONYMOUS_ALLOWED,
    PROBLEM_RESPONSE,
    ProblemError,
    correlation_id,
    signed_in,
)
from schemas.complaint import (
    TRACKING_ID_PATTERN,
    Actor,
    ComplaintStatus,
    LifecycleAction,
    RejectionReason,
    ReportType,
    Role,
)
from schemas.regions import region_name, time_zone_of
from services.intake.access_log import AccessLog, Disclosure
from services.intake.categories import category_names
from services.intake.clients import ClientRegistry
from services.intake.clients_api import client_of
from services.intake.domain import ComplaintCreate, fingerprint_of
from services.intake.lifecycle import Command, IllegalTransition, may_take, role_refusal
from services.intake.privacy_notice import PATH as NOTICE_PATH
from services.intake.service import (
    ComplaintNotFound,
    DirectoryUnavailable,
    IdempotencyConflict,
    IntakeService,
    UnknownReference,
)
from services.intake.store import ConcurrentUpdate
from services.intake.views import (
    ComplaintDetail,
    ComplaintStatusView,
    PublicComplaint,
    detail_view,
    disclosed,
    is_public,
    may_view,
    public_filter,
    public_view,
    scope_filter,
    status_view,
    title_matching,
)

PROBLEM = PROBLEM_RESPONSE
PURPOSE_HEADER = "X-Access-Purpose"
PURPOSE_LENGTH = 200
UNSTATED = "(not stated)"
AccessPurpose = Annotated[
    str | None,
    Header(
        alias=PURPOSE_HEADER,
        max_length=PURPOSE_LENGTH,
        description="Why the caller needs the reporter's details (kept in the access log the "
        "auditor reads, with who, when and which report).",
    ),
]
# An integration client's key (an agency's app filing for the people who use it), instead of a
# bearer token; Open311 clients send it as ``api_key``.
INTEGRATION_KEY = APIKeyHeader(
    name="X-API-Key",
    scheme_name="IntegrationClientKey",
    description="An integration client's key (POST /v1/integration-clients makes one).",
    auto_error=False,
)
# Autoescaped: report texts are written by the public.
_PAGES = Environment(
    loader=PackageLoader("services.intake", "templates"), autoescape=True, undefined=StrictUndefined
)
STATUS_LABELS = {
    ComplaintStatus.SUBMITTED: "Diterima",
    ComplaintStatus.DEFERRED: "Ditunda, menunggu kelengkapan",
    ComplaintStatus.REJECTED: "Diarsipkan",
    ComplaintStatus.FORWARDED_TO_AGENCY: "Diteruskan ke instansi",
    ComplaintStatus.FORWARDED_TO_UNIT: "Didisposisikan ke unit",
    ComplaintStatus.BOUNCED: "Dikembalikan: bukan wewenang",
    ComplaintStatus.IN_FOLLOW_UP: "Sedang ditindaklanjuti",
    ComplaintStatus.ANSWERED: "Dijawab, menunggu tanggapan pelapor",
    ComplaintStatus.REOPENED: "Dibuka kembali",
    ComplaintStatus.ESCALATED: "Dieskalasi",
    ComplaintStatus.CLOSED: "Selesai",
    ComplaintStatus.MERGED: "Digabungkan",
}
AGENCY_ID = r"^[a-z0-9-]{2,80}$"
TrackingId = Annotated[str, Path(pattern=TRACKING_ID_PATTERN, examples=["LPR-7KQ2M-9XA4B"])]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]
Offset = Annotated[int, Query(ge=0, le=100_000)]


class ActionRequest(BaseModel):
    """A lifecycle action and what it carries (which fields depends on the action)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: LifecycleAction
    reason: str | None = Field(default=None, min_length=1, max_length=2_000)
    text: str | None = Field(default=None, min_length=1, max_length=20_000)
    agency_id: str | None = Field(default=None, pattern=AGENCY_ID)
    agency_name: str | None = Field(
        default=None,
        min_length=2,
        max_length=200,
        deprecated=True,
        description="Ignored: the agency's name comes from the routing directory.",
    )
    unit_id: str | None = Field(default=None, pattern=AGENCY_ID)
    rejection: RejectionReason | None = None
    report_type: ReportType | None = None
    needs_examination: bool | None = None
    merge_into: str | None = Field(default=None, pattern=TRACKING_ID_PATTERN)

    def fingerprint(self) -> str:
        """Hash of the request, to tell a retried action from another under the same key."""
        return fingerprint_of(self)

    def command(self) -> Command:
        """The domain command."""
        return Command(
            action=self.action,
            reason=self.reason,
            text=self.text,
            agency_id=self.agency_id,
            unit_id=self.unit_id,
            rejection=self.rejection,
            report_type=self.report_type,
            needs_examination=self.needs_examination,
            merge_into=self.merge_into,
        )


IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Send the same key when retrying, to have the request applied once.",
    ),
]


def _reused_key() -> ProblemError:
    return ProblemError(
        409, "idempotency_key_reused", "this Idempotency-Key was used for another request"
    )


class RatingRequest(BaseModel):
    """The complainant's judgement of the answer."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2_000)


class ErasureView(BaseModel):
    """The reporter's data is gone from intake, and every service was told to forget it."""

    tracking_id: str
    erased_at: AwareDatetime = Field(
        description="When it was erased (a repeated request answers with the first time)."
    )


def _problem_for(exc: Exception) -> ProblemError:
    if isinstance(exc, IllegalTransition):
        return ProblemError(exc.status, exc.code, exc.message)
    if isinstance(exc, ComplaintNotFound):
        return ProblemError(404, "complaint_not_found", f"no complaint {exc}")
    if isinstance(exc, ConcurrentUpdate):
        return ProblemError(409, "concurrent_update", "the complaint changed meanwhile; retry")
    if isinstance(exc, DirectoryUnavailable):
        return ProblemError(
            503, "directory_unavailable", "the agency directory has not reached intake yet; retry"
        )
    raise exc


def router(
    service: IntakeService,
    caller: Callable[..., Actor | None],
    clients: ClientRegistry,
    access_log: AccessLog,
) -> APIRouter:
    """Routes bound to one IntakeService and the ways of authenticating callers (bearer tokens
    of people, API keys of integration clients)."""
    api = APIRouter(prefix="/v1")
    Caller = Annotated[Actor | None, Depends(caller)]

    async def shown(
        records: list[dict[str, Any]], viewer: Actor, request: Request
    ) -> list[ComplaintDetail]:
        """The complaints as this viewer may see them; what they show of a reporter to anyone
        but the reporter is logged first (no log, no data: a failed write is a 503)."""
        views = [detail_view(record, viewer) for record in records]
        at = datetime.now(UTC)
        purpose = request.headers.get(PURPOSE_HEADER, "")[:PURPOSE_LENGTH] or UNSTATED
        route = getattr(request.scope.get("route"), "path", "")
        await access_log.record(
            [
                Disclosure(record["_id"], fields, viewer, purpose, route, at)
                for view, record in zip(views, records, strict=True)
                if (fields := disclosed(view, record, viewer))
            ]
        )
        return views

    async def permitted(request: Request, actor: Caller) -> Actor:
        """The caller, refused before the body is validated when their role may never take the
        action it names: a forbidden call answers 403, whatever else is wrong with it."""
        viewer = signed_in(actor)
        try:
            raw = await request.json()
        except ValueError:
            return viewer  # not JSON: validation says so
        named = raw.get("action") if isinstance(raw, dict) else None
        if named in set(LifecycleAction) and not may_take(viewer.role, LifecycleAction(named)):
            raise _problem_for(role_refusal(viewer.role, LifecycleAction(named)))
        return viewer

    Permitted = Annotated[Actor, Depends(permitted)]

    @api.post(
        "/complaints",
        status_code=201,
        response_model=ComplaintStatusView,
        tags=["complaints"],
        summary="Submit a complaint, suggestion or information request",
        openapi_extra=ANONYMOUS_ALLOWED,
        responses={
            200: {"description": "A retry with the same Idempotency-Key: the earlier complaint"},
            400: {"description": "Malformed JSON", **PROBLEM},
            401: {"description": "A bearer token or API key was sent and is not valid", **PROBLEM},
            403: {"description": "Signed in with a role that does not file reports", **PROBLEM},
            409: {"description": "Idempotency-Key reused for a different request", **PROBLEM},
            413: {"description": "Body too large", **PROBLEM},
            422: {"description": "Validation failed, per field", **PROBLEM},
            429: {"description": "The integration client is over its rate limit", **PROBLEM},
            503: {"description": "Database unreachable; nothing was stored", **PROBLEM},
        },
    )
    async def submit(
        create: ComplaintCreate,
        request: Request,
        response: Response,
        actor: Caller,
        idempotency_key: IdempotencyKey = None,
        x_api_key: Annotated[str | None, Security(INTEGRATION_KEY)] = None,
    ) -> ComplaintStatusView:
        client = None
        if x_api_key is not None:
            if actor is not None:
                raise ProblemError(
                    400, "two_credentials", "send a bearer token or an API key, not both"
                )
            client = await client_of(clients, x_api_key, request)
        elif actor is not None and actor.role is not Role.CITIZEN:
            raise ProblemError(
                403,
                "role_not_allowed",
                "complaints are submitted by citizens, or by integration clients (X-API-Key)",
            )
        try:
            record, created = await service.submit(
                create,
                correlation_id=correlation_id(request),
                reporter_id=actor.subject if actor else None,
                idempotency_key=idempotency_key,
                integration_client=client.client_id if client else None,
            )
        except IdempotencyConflict as exc:
            raise _reused_key() from exc
        except UnknownReference as exc:
            raise ProblemError(
                422,
                f"unknown_{exc.field.removesuffix('_id')}",
                exc.message,
                errors=[{"field": f"body.{exc.field}", "code": "unknown", "message": exc.message}],
            ) from exc
        response.status_code = 201 if created else 200
        response.headers["Location"] = f"/v1/complaints/{record['_id']}"
        response.headers["Link"] = f'<{NOTICE_PATH}>; rel="privacy-policy"'
        return status_view(record)

    @api.get(
        "/complaints",
        response_model=list[ComplaintDetail],
        tags=["complaints"],
        summary="Complaints the caller may see (own, agency's, unit's or all), newest first",
        responses={401: {"description": "No or invalid token", **PROBLEM}},
    )
    async def list_complaints(
        actor: Caller,
        request: Request,
        purpose: AccessPurpose = None,
        status: ComplaintStatus | None = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> list[ComplaintDetail]:
        viewer = signed_in(actor)
        query = scope_filter(viewer)
        if status is not None:
            query["status"] = status.value
        records = await service.list(query, limit=limit, offset=offset)
        return await shown(records, viewer, request)

    @api.get(
        "/complaints/{tracking_id}",
        response_model=ComplaintDetail | ComplaintStatusView,
        tags=["complaints"],
        summary="Track a complaint: its status by tracking ID, or all of it with authority",
        openapi_extra=ANONYMOUS_ALLOWED,
        responses={
            403: {"description": "A token without authority over it", **PROBLEM},
            404: {"description": "No such tracking ID", **PROBLEM},
        },
    )
    async def track(
        tracking_id: TrackingId, actor: Caller, request: Request, purpose: AccessPurpose = None
    ) -> ComplaintDetail | ComplaintStatusView:
        try:
            record = await service.get(tracking_id)
        except ComplaintNotFound as exc:
            raise _problem_for(exc) from exc
        if actor is None:
            return status_view(record)
        if not may_view(record, actor):
            raise ProblemError(403, "not_your_complaint", "you have no authority over it")
        [view] = await shown([record], actor, request)
        return view

    @api.post(
        "/complaints/{tracking_id}/actions",
        response_model=ComplaintDetail,
        tags=["lifecycle"],
        summary="Take a lifecycle action (verify and forward, defer, reject, bounce, follow up, "
        "answer, reply, close, escalate, ...)",
        responses={
            401: {"description": "No or invalid token", **PROBLEM},
            403: {"description": "Role or agency/unit may not take this action", **PROBLEM},
            404: {"description": "No such tracking ID", **PROBLEM},
            409: {
                "description": "Not allowed from the current status, changed meanwhile, or "
                "its Idempotency-Key was used for another action",
                **PROBLEM,
            },
            422: {"description": "A field the action needs is missing or wrong", **PROBLEM},
        },
    )
    async def act(
        tracking_id: TrackingId,
        body: ActionRequest,
        request: Request,
        viewer: Permitted,
        idempotency_key: IdempotencyKey = None,
    ) -> ComplaintDetail:
        try:
            record = await service.act(
                tracking_id,
                body.command(),
                viewer,
                correlation_id=correlation_id(request),
                idempotency_key=idempotency_key,
                fingerprint=body.fingerprint(),
            )
        except IdempotencyConflict as exc:
            raise _reused_key() from exc
        except (
            IllegalTransition,
            ComplaintNotFound,
            ConcurrentUpdate,
            DirectoryUnavailable,
        ) as exc:
            raise _problem_for(exc) from exc
        [view] = await shown([record], viewer, request)
        return view

    @api.post(
        "/complaints/{tracking_id}/supports",
        response_model=PublicComplaint,
        tags=["citizens"],
        summary="Support a public report (once per citizen)",
        responses={
            401: {"description": "No or invalid token", **PROBLEM},
            403: {"description": "Not a citizen", **PROBLEM},
            404: {"description": "No such public report", **PROBLEM},
            409: {"description": "Already supported", **PROBLEM},
            422: {"description": "Own report", **PROBLEM},
        },
    )
    async def support(tracking_id: TrackingId, request: Request, actor: Caller) -> PublicComplaint:
        try:
            record = await service.support(
                tracking_id, signed_in(actor), correlation_id=correlation_id(request)
            )
        except (IllegalTransition, ComplaintNotFound) as exc:
            raise _problem_for(exc) from exc
        return public_view(record)

    @api.post(
        "/complaints/{tracking_id}/reporter-erasure",
        response_model=ErasureView,
        tags=["privacy"],
        summary="Erase the reporter's personal data; the report stays, as if filed anonim",
        responses={
            401: {"description": "No or invalid token", **PROBLEM},
            403: {"description": "Neither the reporter nor the national admin", **PROBLEM},
            404: {"description": "No such tracking ID", **PROBLEM},
        },
    )
    async def erase_reporter(
        tracking_id: TrackingId, actor: Caller, request: Request
    ) -> ErasureView:
        viewer = signed_in(actor)
        try:
            record = await service.erase_reporter(
                tracking_id, viewer, correlation_id=correlation_id(request)
            )
        except (IllegalTransition, ComplaintNotFound) as exc:
            raise _problem_for(exc) from exc
        return ErasureView(tracking_id=tracking_id, erased_at=record["reporter_erased_at"])

    @api.put(
        "/complaints/{tracking_id}/rating",
        response_model=ComplaintDetail,
        tags=["citizens"],
        summary="Rate the answer (1-5 and a comment), once",
        responses={
            401: {"description": "No or invalid token", **PROBLEM},
            403: {"description": "Not the reporter", **PROBLEM},
            409: {"description": "Not answered yet, or already rated", **PROBLEM},
        },
    )
    async def rate(
        tracking_id: TrackingId, body: RatingRequest, actor: Caller, request: Request
    ) -> ComplaintDetail:
        viewer = signed_in(actor)
        try:
            record = await service.rate(tracking_id, viewer, score=body.score, comment=body.comment)
        except (IllegalTransition, ComplaintNotFound) as exc:
            raise _problem_for(exc) from exc
        [view] = await shown([record], viewer, request)
        return view

    @api.get(
        "/public/complaints",
        response_model=list[PublicComplaint],
        tags=["public"],
        summary="Public reports (never rahasia, never reporter data), newest first",
    )
    async def public_list(
        agency_id: Annotated[str | None, Query(pattern=AGENCY_ID)] = None,
        q: Annotated[
            str | None,
            Query(min_length=2, max_length=100, description="Words the title holds (any case)."),
        ] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> list[PublicComplaint]:
        query = public_filter()
        if agency_id is not None:
            query["agency.id"] = agency_id
        if q is not None:
            query |= title_matching(q)
        records = await service.list(query, limit=limit, offset=offset)
        return [public_view(record) for record in records]

    @api.get(
        "/public/complaints/{tracking_id}",
        response_model=PublicComplaint,
        tags=["public"],
        summary="One public report",
        responses={404: {"description": "No such public report", **PROBLEM}},
    )
    async def public_one(tracking_id: TrackingId) -> PublicComplaint:
        try:
            record = await service.get(tracking_id)
        except ComplaintNotFound as exc:
            raise _problem_for(exc) from exc
        if not is_public(record):
            raise ProblemError(404, "complaint_not_found", f"no public complaint {tracking_id}")
        return public_view(record)

    @api.get(
        "/public/complaints/{tracking_id}/page",
        response_class=HTMLResponse,
        tags=["public"],
        summary="One public report as a web page",
        responses={404: {"description": "No such public report", **PROBLEM}},
    )
    async def public_page(tracking_id: TrackingId) -> HTMLResponse:
        record = await public_one(tracking_id)
        zone = ZoneInfo(time_zone_of(record.region_code) or "Asia/Jakarta")
        html = _PAGES.get_template("public_complaint.html").render(
            c=record,
            statuses=STATUS_LABELS,
            category=category_names().get(record.category, record.category),
            region=region_name(record.region_code) or record.region_code,
            local=lambda moment: moment.astimezone(zone).strftime("%d-%m-%Y %H:%M %Z"),
        )
        return HTMLResponse(html)

    return api
