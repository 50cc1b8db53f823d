"""HTTP adapter of the standards registry."""

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel

from kernel.http import ProblemError, correlation_id, require_role
from schemas.complaint import STANDARD_ID_PATTERN, Actor, Role
from services.standards.domain import InternalManagement, ServiceDelivery, StandardCreate
from services.standards.service import StandardsService

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


class StandardView(BaseModel):
    """A stored standard with all 14 components."""

    standard_id: str
    agency_id: str
    service_name: str
    decree_number: str
    effective_date: date
    pledge: str | None
    delivery: ServiceDelivery
    management: InternalManagement
    version: int
    status: str
    published_at: datetime

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "StandardView":
        """Project a stored document."""
        return cls(standard_id=doc["_id"], **{k: v for k, v in doc.items() if k != "_id"})


def router(service: StandardsService, caller: Callable[..., Actor | None]) -> APIRouter:
    """Routes bound to one StandardsService; writing needs the agency's admin (or national)."""
    api = APIRouter(prefix="/v1", tags=["standards"])
    Caller = Annotated[Actor | None, Depends(caller)]

    @api.post(
        "/standards",
        status_code=201,
        response_model=StandardView,
        summary="Publish a service standard (a new version if the service exists)",
        responses={
            400: {"description": "Malformed JSON", **PROBLEM},
            401: {"description": "No or invalid token", **PROBLEM},
            403: {"description": "Not the national admin or this agency's admin", **PROBLEM},
            413: {"description": "Body too large", **PROBLEM},
            422: {"description": "Validation failed, per field", **PROBLEM},
        },
    )
    async def publish(
        create: StandardCreate, request: Request, response: Response, actor: Caller
    ) -> StandardView:
        author = require_role(actor, Role.NATIONAL_ADMIN, Role.AGENCY_ADMIN)
        if author.role is Role.AGENCY_ADMIN and author.agency_id != create.agency_id:
            raise ProblemError(403, "not_your_agency", "agencies publish their own standards")
        doc = await service.publish(create, correlation_id=correlation_id(request))
        response.headers["Location"] = f"/v1/standards/{doc['_id']}"
        return StandardView.from_doc(doc)

    @api.get(
        "/standards/{standard_id}",
        response_model=StandardView,
        summary="One service standard",
        responses={404: {"description": "No such standard", **PROBLEM}},
    )
    async def get(
        standard_id: Annotated[str, Path(pattern=STANDARD_ID_PATTERN)],
    ) -> StandardView:
        doc = await service.get(standard_id)
        if doc is None:
            raise ProblemError(404, "standard_not_found", f"no standard {standard_id}")
        return StandardView.from_doc(doc)

    @api.get("/standards", response_model=list[StandardView], summary="List service standards")
    async def list_standards(
        agency_id: Annotated[str | None, Query(pattern=r"^[a-z0-9-]{2,80}$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[StandardView]:
        docs = await service.list(agency_id=agency_id, limit=limit, offset=offset)
        return [StandardView.from_doc(doc) for doc in docs]

    return api
