"""HTTP API of integration clients: register an agency's app (its key shown once), list and
revoke them, and read what each filed. The national admin manages every agency's clients, an
agency admin their own; auditors read."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from kernel.http import PROBLEM_RESPONSE, ProblemError, require_role
from schemas.complaint import Actor, Role
from services.intake.clients import (
    CLIENT_ID_PATTERN,
    ClientExists,
    ClientRegistry,
    IntegrationClient,
)
from services.intake.directory import AgencyDirectory
from services.intake.service import IntakeService

ClientId = Annotated[str, Path(pattern=CLIENT_ID_PATTERN, examples=["jaki-app"])]
PROBLEM = PROBLEM_RESPONSE


class ClientCreate(BaseModel):
    """An app to register."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    client_id: str = Field(pattern=CLIENT_ID_PATTERN, examples=["jaki-app"])
    agency_id: str = Field(pattern=r"^[a-z0-9-]{2,80}$", description="The agency it belongs to.")
    name: str = Field(min_length=2, max_length=200, examples=["JAKI (Pemprov DKI Jakarta)"])
    per_minute: int = Field(default=120, ge=1, le=60_000, description="Submissions a minute.")
    burst: int = Field(default=60, ge=1, le=10_000, description="Submissions at once.")


class ClientPublic(BaseModel):
    """A registered client, never its key."""

    client_id: str
    agency_id: str
    name: str
    per_minute: int
    burst: int
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class ClientRegistered(ClientPublic):
    """A new client with its key: shown this once, store it in the app's secret store."""

    api_key: str = Field(description="Send as the X-API-Key header (Open311: api_key).")


class ClientSubmission(BaseModel):
    """One report a client filed."""

    tracking_id: str
    submitted_at: datetime
    channel: str
    category: str
    status: str


def _public(doc: dict[str, Any]) -> dict[str, Any]:
    return {"client_id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}


def _manages(actor: Actor, agency_id: str) -> None:
    if actor.role is Role.AGENCY_ADMIN and actor.agency_id != agency_id:
        raise ProblemError(403, "not_your_agency", "an agency admin manages its own clients")


def clients_router(
    registry: ClientRegistry,
    directory: AgencyDirectory,
    service: IntakeService,
    caller: Callable[..., Actor | None],
) -> APIRouter:
    """Routes for managing integration clients."""
    api = APIRouter(prefix="/v1/integration-clients", tags=["integration clients"])
    Caller = Annotated[Actor | None, Depends(caller)]

    @api.post(
        "",
        status_code=201,
        response_model=ClientRegistered,
        summary="Register an app; its API key is in this response only",
        responses={
            403: {"description": "Not the national admin or this agency's admin", **PROBLEM},
            409: {"description": "The client ID is taken", **PROBLEM},
            422: {"description": "Unknown agency or bad fields", **PROBLEM},
        },
    )
    async def register(body: ClientCreate, actor: Caller) -> dict[str, Any]:
        admin = require_role(actor, Role.NATIONAL_ADMIN, Role.AGENCY_ADMIN)
        _manages(admin, body.agency_id)
        if await directory.find(body.agency_id) is None:
            raise ProblemError(
                422, "unknown_agency", f"the directory lists no agency {body.agency_id}"
            )
        client = IntegrationClient(**body.model_dump())
        try:
            key = await registry.register(
                client, created_by=f"{admin.role.value}:{admin.subject}", at=datetime.now(UTC)
            )
        except ClientExists as exc:
            raise ProblemError(409, "client_exists", f"{body.client_id} is registered") from exc
        stored = await registry.get(body.client_id)
        assert stored is not None
        return {**_public(stored), "api_key": key}

    @api.get("", response_model=list[ClientPublic], summary="Registered clients")
    async def listed(
        actor: Caller, agency_id: Annotated[str | None, Query(max_length=80)] = None
    ) -> list[dict[str, Any]]:
        viewer = require_role(actor, Role.NATIONAL_ADMIN, Role.AGENCY_ADMIN, Role.AUDITOR)
        if viewer.role is Role.AGENCY_ADMIN:
            agency_id = viewer.agency_id
        return [_public(doc) for doc in await registry.list(agency_id)]

    @api.delete(
        "/{client_id}",
        response_model=ClientPublic,
        summary="Revoke a client's key",
        responses={404: {"description": "No such live client", **PROBLEM}},
    )
    async def revoke(client_id: ClientId, actor: Caller) -> dict[str, Any]:
        admin = require_role(actor, Role.NATIONAL_ADMIN, Role.AGENCY_ADMIN)
        doc = await registry.get(client_id)
        if doc is None:
            raise ProblemError(404, "client_not_found", f"no client {client_id}")
        _manages(admin, doc["agency_id"])
        who = f"{admin.role.value}:{admin.subject}"
        if not await registry.revoke(client_id, at=datetime.now(UTC), by=who):
            raise ProblemError(404, "client_not_found", f"{client_id} is revoked already")
        revoked = await registry.get(client_id)
        assert revoked is not None
        return _public(revoked)

    @api.get(
        "/{client_id}/submissions",
        response_model=list[ClientSubmission],
        summary="What a client filed, newest first (the audit of an app)",
        responses={404: {"description": "No such client", **PROBLEM}},
    )
    async def submissions(
        client_id: ClientId,
        actor: Caller,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    ) -> list[dict[str, Any]]:
        viewer = require_role(actor, Role.NATIONAL_ADMIN, Role.AGENCY_ADMIN, Role.AUDITOR)
        doc = await registry.get(client_id)
        if doc is None:
            raise ProblemError(404, "client_not_found", f"no client {client_id}")
        _manages(viewer, doc["agency_id"])
        records = await service.submitted_by_client(client_id, limit=limit, offset=offset)
        return [
            {
                "tracking_id": r["_id"],
                "submitted_at": r["submitted_at"],
                "channel": r["channel"],
                "category": r["category"],
                "status": r["status"],
            }
            for r in records
        ]

    return api


async def client_of(registry: ClientRegistry, key: str, request: Request) -> IntegrationClient:
    """The client a key belongs to, within its own rate limit; 401 (or 429 for an address that
    keeps guessing) when the key is not a live client's."""
    client = await registry.authenticate(key)
    if client is None:
        address = request.client.host if request.client else "unknown"
        wait = registry.refused(address)
        if wait > 0:
            raise ProblemError(429, "rate_limited", "too many bad keys", headers=_retry(wait))
        raise ProblemError(401, "invalid_api_key", "the API key is not a live client's")
    wait = registry.wait(client)
    if wait > 0:
        raise ProblemError(
            429, "rate_limited", f"{client.client_id} is over its limit", headers=_retry(wait)
        )
    return client


def _retry(wait: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, int(wait + 0.999)))}
