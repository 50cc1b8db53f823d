"""The HTTP face every service shares: health, readiness, metrics, errors, limits, correlation IDs.

Errors are RFC 9457 problem documents (``application/problem+json``) with a stable ``code`` a
client can branch on and, for validation, one entry per offending field.
"""

import asyncio
import contextlib
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, Protocol

import pymongo
from fastapi import FastAPI, Request, Response, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from pymongo.errors import PyMongoError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel.auth import AuthenticationError, TokenVerifier
from kernel.logging import bind_context, clear_context, get_logger
from kernel.metrics import HTTP_LATENCY, HTTP_REQUESTS, RATE_LIMITED
from kernel.mongo import DependencyUnavailable, is_unavailable
from kernel.ratelimit import RateLimiter
from schemas.complaint import Actor, Role

CORRELATION_HEADER = "X-Correlation-ID"
PROBLEM_JSON = "application/problem+json"
# How an OpenAPI "responses" entry says its body is a problem document.
PROBLEM_RESPONSE: dict[str, Any] = {
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
}
# For an operation that serves anonymous callers as well as signed-in ones (filing a report,
# following it by its tracking ID): FastAPI adds it to the bearer requirement its dependency
# declares, so the operation's security reads "a bearer token, or none".
ANONYMOUS_ALLOWED: dict[str, Any] = {"security": [{}]}
DEFAULT_MAX_BODY_BYTES = 64 * 1024
RETRY_AFTER_SECONDS = 5

ReadinessCheck = Callable[[], Awaitable[None]]

log = get_logger(__name__)
OPERATIONS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Where each service serves the scripts, styles and icon of its /docs and /redoc pages.
DOCS_ASSETS = "/docs-assets"
# What a service process does (PROCESS_ROLES): serve the HTTP API, and run the workers (its
# consumer group and background jobs). One Deployment per role scales each on its own.
API, WORKERS = "api", "workers"
PROCESS_ROLES = frozenset({API, WORKERS})
# Every operation may answer these (documented once for all, so that clients and schema-based
# testers know them); an operation lists its own specific ones too.
COMMON_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed request (not JSON, unparsable body)", **PROBLEM_RESPONSE},
    401: {"description": "No or invalid bearer token", **PROBLEM_RESPONSE},
    403: {"description": "The caller's role or agency may not do this", **PROBLEM_RESPONSE},
    404: {"description": "No such resource", **PROBLEM_RESPONSE},
    413: {"description": "Request body too large", **PROBLEM_RESPONSE},
    422: {"description": "Validation failed; each error names its field", **PROBLEM_RESPONSE},
    429: {"description": "Too many anonymous requests; see Retry-After", **PROBLEM_RESPONSE},
    503: {"description": "The database does not answer; see Retry-After", **PROBLEM_RESPONSE},
    500: {
        "description": "An unexpected error (logged with the correlation ID)",
        **PROBLEM_RESPONSE,
    },
    "default": {"description": "Any other error, as a problem document", **PROBLEM_RESPONSE},
}


class Problem(BaseModel):
    """An error as every LAPOR API answers it: RFC 9457 problem details, with ``code`` for
    programs to branch on. Some problems add fields (``errors`` on a 422 names each field)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["urn:lapor:problem:validation_failed"])
    title: str
    status: int = Field(ge=400, le=599)
    code: str = Field(description="Stable, machine-readable reason.")
    detail: str


class Component(Protocol):
    """Something with a lifetime: started in order at boot, stopped in reverse at shutdown."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ProblemError(Exception):
    """An error the client can act on, rendered as a problem document."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    """A problem+json response."""
    body = {
        "type": f"urn:lapor:problem:{code}",
        "title": code.replace("_", " "),
        "status": status,
        "code": code,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


class OperationsOnly:
    """A workers-only process: its probes and metrics, and a 404 for the API it does not serve
    (the Ingress sends API traffic to the processes that do)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "") in OPERATIONS_PATHS:
            await self.app(scope, receive, send)
            return
        response = problem(404, "not_served_here", "this process runs workers, not the API")
        await response(scope, receive, send)


class BodySizeLimit:
    """Refuse request bodies over the limit with 413, whether declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}  # exact paths allowed more (file uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope.get("path", ""), self.max_bytes)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send)
            return
        # Read the whole body first (it is small by definition) so that an oversized stream is
        # refused before the app parses anything.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replaying(whole, receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.larger.get(scope.get("path", ""), self.max_bytes)
        response = problem(
            413, "payload_too_large", f"request body exceeds {limit} bytes", max_bytes=limit
        )
        await response(scope, receive, send)


class LimitAnonymous:
    """Callers without a bearer token share a token bucket per address; the rest get 429."""

    def __init__(self, app: ASGIApp, service: str, limiter: RateLimiter) -> None:
        self.app = app
        self.service = service
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "") not in OPERATIONS_PATHS:
            anonymous = not _names_a_credential(scope)
            if anonymous and _is_form(scope):
                # Open311 clients send their api_key in the form: look, then hand the body on.
                # BodySizeLimit, outside this, has read the whole (bounded) body already.
                first = await receive()
                anonymous = b"api_key=" not in first.get("body", b"")
                receive = _replaying(first, receive)
            if anonymous:
                client = scope.get("client")
                wait = self.limiter.take(client[0] if client else "unknown")
                if wait > 0:
                    RATE_LIMITED.labels(self.service).inc()
                    refused = problem(
                        429,
                        "rate_limited",
                        "too many requests from this address; sign in or retry later",
                    )
                    refused.headers["Retry-After"] = str(max(1, math.ceil(wait)))
                    await refused(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _names_a_credential(scope: Scope) -> bool:
    """A bearer token, an API key header, or an Open311 api_key in the query: the endpoint
    checks it, and applies the caller's own limit (an invalid one is refused there)."""
    names = {name for name, _ in scope.get("headers", [])}
    if b"authorization" in names or b"x-api-key" in names:
        return True
    query: bytes = scope.get("query_string", b"")
    return b"api_key=" in query


def _is_form(scope: Scope) -> bool:
    headers = dict(scope.get("headers", []))
    content_type: bytes = headers.get(b"content-type", b"")
    return content_type.startswith(b"application/x-www-form-urlencoded")


def _replaying(first: Message, receive: Receive) -> Receive:
    """A receive that gives ``first`` again, then carries on."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return first

    return replay


class ObserveRequests:
    """Correlation ID in and out, request count and latency by route, one database deadline."""

    def __init__(self, app: ASGIApp, service: str, db_deadline_seconds: float | None) -> None:
        self.app = app
        self.service = service
        self.db_deadline = db_deadline_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", [])).get(CORRELATION_HEADER.lower().encode(), b"")
        correlation_id = (given.decode("latin-1") or uuid.uuid4().hex)[:128]
        clear_context()
        bind_context(correlation_id=correlation_id)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        header = (CORRELATION_HEADER.lower().encode(), correlation_id.encode("latin-1"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        started = time.perf_counter()
        # One deadline for every database call a request makes, retries included, so that an
        # unreachable database gives a prompt 503 rather than a sum of timeouts.
        deadline = (
            pymongo.timeout(self.db_deadline) if self.db_deadline else contextlib.nullcontext()
        )
        try:
            with deadline:
                await self.app(scope, receive, send_with_id)
        finally:
            # An error that escapes the app's handlers becomes a 500 outside: counted as one.
            template = getattr(scope.get("route"), "path", "unmatched")
            # Probes and scrapes are not what users get: counted, they outnumber real requests
            # and dilute the error-rate and latency SLIs.
            if template not in OPERATIONS_PATHS:
                method = scope.get("method", "")
                HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
                HTTP_LATENCY.labels(self.service, method, template).observe(
                    time.perf_counter() - started
                )


def create_app(
    *,
    service: str,
    title: str,
    version: str = "0.1.0",
    description: str = "",
    components: Sequence[Component] = (),
    workers: Sequence[Component] = (),
    roles: Collection[str] = PROCESS_ROLES,
    readiness: Sequence[ReadinessCheck] = (),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    larger_bodies: dict[str, int] | None = None,
    openapi_tags: list[dict[str, Any]] | None = None,
    public_rate_limit: RateLimiter | None = None,
    db_deadline_seconds: float | None = None,
) -> FastAPI:
    """A FastAPI app with the platform's endpoints, middleware and error format.

    ``components`` start in order before the first request and stop in reverse on shutdown
    (uvicorn turns SIGTERM into that shutdown); ``workers`` (the consumer group, background
    jobs) start after them in a process whose ``roles`` include ``workers``. Without the ``api``
    role the process answers only its probes and ``/metrics``.
    """
    running = [*components, *(workers if WORKERS in roles else ())]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        started: list[Component] = []
        try:
            for component in running:
                await component.start()
                started.append(component)
            log.info("service_started")
            yield
        finally:
            log.info("service_stopping")
            for component in reversed(started):
                try:
                    await component.stop()
                except Exception:
                    log.exception("component_stop_failed", component=type(component).__name__)

    # Swagger UI (/docs) and ReDoc (/redoc) with their scripts and styles served from
    # DOCS_ASSETS, never a CDN: government networks often have no internet.
    app = FastAPIOffline(
        title=title,
        version=version,
        description=description,
        lifespan=lifespan,
        openapi_tags=openapi_tags,
        responses=COMMON_PROBLEMS,
        static_url=DOCS_ASSETS,
        # Swagger UI would otherwise fetch a validity badge from validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas["Problem"] = Problem.model_json_schema()
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
    if API not in roles:
        app.add_middleware(OperationsOnly)

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: the database and the broker answer",
        responses={
            503: {
                "description": "A dependency does not answer (`checks` names it)",
                **PROBLEM_RESPONSE,
            }
        },
    )
    async def readyz() -> Response:
        failures: dict[str, str] = {}
        for check in readiness:
            try:
                await asyncio.wait_for(check(), timeout=3)
            except Exception as exc:
                failures[getattr(check, "__name__", "check")] = repr(exc)
        if failures:
            return problem(503, "not_ready", "a dependency does not answer", checks=failures)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", include_in_schema=True)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(part) for part in error["loc"]),
                "code": error["type"],
                "message": error["msg"],
            }
            for error in exc.errors()
        ]
        if any(error["code"] == "json_invalid" for error in errors):
            return problem(
                400, "malformed_json", "the request body is not valid JSON", errors=errors
            )
        return problem(
            422, "validation_failed", "the request does not match the schema", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return problem(exc.status_code, code, str(exc.detail))

    @app.exception_handler(ProblemError)
    async def on_problem(_: Request, exc: ProblemError) -> JSONResponse:
        response = problem(exc.status, exc.code, exc.detail, **exc.extra)
        response.headers.update(exc.headers)
        return response

    # Registered for PyMongoError rather than Exception: Starlette re-raises after any handler
    # for Exception, which would turn a clean 503 into a logged server error.
    @app.exception_handler(PyMongoError)
    async def on_database_error(_: Request, exc: PyMongoError) -> JSONResponse:
        if is_unavailable(exc):
            log.warning("database_unavailable", error=repr(exc))
            response = problem(503, "service_unavailable", "the database does not answer; retry")
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        log.error("database_error", exc_info=exc)
        return problem(500, "internal_error", "an unexpected error occurred")

    @app.exception_handler(DependencyUnavailable)
    async def on_dependency_unavailable(_: Request, exc: DependencyUnavailable) -> JSONResponse:
        log.warning("dependency_unavailable", error=str(exc))
        response = problem(503, "service_unavailable", f"{exc}; retry")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(Exception)
    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        return problem(500, "internal_error", "an unexpected error occurred")

    # Plain ASGI middleware rather than @app.middleware("http"): each of those runs the rest of
    # the app in a task of its own behind memory streams, which cost intake about a sixth of
    # its CPU per submission.
    if public_rate_limit is not None:
        app.add_middleware(LimitAnonymous, service=service, limiter=public_rate_limit)
    app.add_middleware(ObserveRequests, service=service, db_deadline_seconds=db_deadline_seconds)
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, larger=larger_bodies)
    return app


def correlation_id(request: Request) -> str:
    """The correlation ID of the request being served (from its header, or minted)."""
    value: str = getattr(request.state, "correlation_id", "") or uuid.uuid4().hex
    return value


_BEARER = HTTPBearer(auto_error=False, description="JWT with role, agency_id and unit_id claims")


def authentication(verifier: TokenVerifier) -> Callable[..., Actor | None]:
    """A dependency giving the caller named by a bearer token, or None without one.

    A token that is present but invalid is a 401, never silently anonymous.
    """

    def caller(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
    ) -> Actor | None:
        if credentials is None:
            return None
        try:
            return verifier.verify(credentials.credentials)
        except AuthenticationError as exc:
            raise ProblemError(
                401, exc.code, exc.message, headers={"WWW-Authenticate": "Bearer"}
            ) from exc

    return caller


def signed_in(actor: Actor | None) -> Actor:
    """The caller, or a 401 when the endpoint needs one."""
    if actor is None:
        raise ProblemError(
            401,
            "authentication_required",
            "this endpoint needs a bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return actor


def require_role(actor: Actor | None, *roles: Role) -> Actor:
    """The caller, when signed in with one of ``roles``; 401 or 403 otherwise."""
    caller = signed_in(actor)
    if caller.role not in roles:
        raise ProblemError(
            403, "role_not_allowed", f"needs one of: {', '.join(r.value for r in roles)}"
        )
    return caller


AGENCY_ROLES = (Role.AGENCY_ADMIN, Role.UNIT_OFFICER)


def require_agency(actor: Actor | None, agency_id: str, *roles: Role) -> Actor:
    """The caller, when signed in with one of ``roles`` and, for the agency side, belonging to
    ``agency_id`` (national roles are not bound to an agency); 401 or 403 otherwise."""
    caller = require_role(actor, *roles)
    if caller.role in AGENCY_ROLES and caller.agency_id != agency_id:
        raise ProblemError(
            403, "not_your_agency", f"this belongs to {agency_id}; you are of {caller.agency_id}"
        )
    return caller
