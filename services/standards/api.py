"""HTTP adapter of the standards registry: versions (draft -> published -> superseded), bulk
import, scores and zones, the public search, and each standard's complaint feedback."""

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel

from kernel.http import (
    AGENCY_ROLES,
    PROBLEM_RESPONSE,
    ProblemError,
    correlation_id,
    require_agency,
    require_role,
)
from schemas.complaint import STANDARD_ID_PATTERN, Actor, Role
from schemas.regions import REGION_CODE_PATTERN
from services.standards.domain import InternalManagement, ServiceDelivery, StandardCreate
from services.standards.importing import RowError, UnreadableFile, parse, read_rows
from services.standards.scoring import agency_scores, zone_counts
from services.standards.service import NotADraft, StandardsService, VersionNotFound

PROBLEM = PROBLEM_RESPONSE
StandardId = Annotated[str, Path(pattern=STANDARD_ID_PATTERN)]
AgencyQuery = Annotated[str | None, Query(pattern=r"^[a-z0-9-]{2,80}$")]
Status = Literal["draft", "published"]
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed JSON", **PROBLEM},
    401: {"description": "No or invalid token", **PROBLEM},
    403: {"description": "Not the national admin or this agency's admin", **PROBLEM},
    413: {"description": "Body too large", **PROBLEM},
    422: {"description": "Validation failed, per field", **PROBLEM},
}
READERS = (Role.NATIONAL_ADMIN, Role.AGENCY_ADMIN, Role.UNIT_OFFICER, Role.AUDITOR)


class StandardView(BaseModel):
    """A standard in force with all 14 components (the agency's and auditors' view)."""

    standard_id: str
    agency_id: str
    agency_name: str | None = None
    unit_id: str | None = None
    region_code: str | None = None
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
        fields = {k: v for k, v in doc.items() if k in cls.model_fields}
        return cls(standard_id=doc["_id"], **fields)


class PublicStandard(BaseModel):
    """What anyone may read: the service, who delivers it, the pledge and the six service-
    delivery components (never the eight internal ones)."""

    standard_id: str
    agency_id: str
    agency_name: str | None
    unit_id: str | None
    region_code: str | None
    service_name: str
    decree_number: str
    effective_date: date
    pledge: str | None
    delivery: ServiceDelivery
    version: int
    published_at: datetime


class VersionView(BaseModel):
    """One version with its status and who moved it there."""

    standard_id: str
    version: int
    status: str
    created_at: datetime
    created_by: str
    published_at: datetime | None
    published_by: str | None
    superseded_at: datetime | None
    content: StandardCreate


class ScoreView(BaseModel):
    """A standard's completeness score and zone, with what is missing."""

    standard_id: str
    score: float
    zone: str
    missing: list[str]
    complaints: int = 0
    violations: dict[str, int] = {}


class ImportReport(BaseModel):
    """What an import stored."""

    imported: int
    status: Status
    standard_ids: list[str]


def router(service: StandardsService, caller: Callable[..., Actor | None]) -> APIRouter:
    """Routes bound to one StandardsService; writing needs the agency's admin (or national)."""
    api = APIRouter(prefix="/v1", tags=["standards"])
    Caller = Annotated[Actor | None, Depends(caller)]

    def writer(actor: Actor | None, agency_id: str) -> Actor:
        return require_agency(actor, agency_id, Role.NATIONAL_ADMIN, Role.AGENCY_ADMIN)

    def reader(actor: Actor | None, agency_id: str) -> Actor:
        return require_agency(actor, agency_id, *READERS)

    @api.post(
        "/standards",
        status_code=201,
        response_model=VersionView,
        summary="Add a version of a service standard: a draft, or published at once (default)",
        responses=WRITE_ERRORS,
    )
    async def save(
        create: StandardCreate,
        request: Request,
        response: Response,
        actor: Caller,
        status: Status = "published",
    ) -> VersionView:
        author = writer(actor, create.agency_id)
        doc = await service.save(
            create, author, publish=status == "published", correlation_id=correlation_id(request)
        )
        response.headers["Location"] = (
            f"/v1/standards/{doc['standard_id']}/versions/{doc['version']}"
        )
        return VersionView.model_validate(doc)

    @api.post(
        "/standards/import",
        status_code=201,
        response_model=ImportReport,
        summary="Import standards from a CSV or XLSX file (the request body): all rows or none",
        responses={
            **WRITE_ERRORS,
            415: {"description": "Not a CSV or XLSX file, or missing columns", **PROBLEM},
            422: {"description": "Row errors, each with its row and field", **PROBLEM},
        },
    )
    async def import_file(
        request: Request, actor: Caller, status: Status = "draft"
    ) -> ImportReport:
        author = require_role(actor, Role.NATIONAL_ADMIN, Role.AGENCY_ADMIN)
        media_type = request.headers.get("content-type", "")
        try:
            rows = read_rows(await request.body(), media_type)
        except UnreadableFile as exc:
            raise ProblemError(415, "unreadable_file", str(exc)) from exc
        standards, errors = parse(rows)
        if author.role is Role.AGENCY_ADMIN:
            errors += [
                RowError(row, "agency_id", f"you may import only {author.agency_id}'s standards")
                for row, standard in standards
                if standard.agency_id != author.agency_id
            ]
        if errors:
            raise ProblemError(
                422,
                "import_rejected",
                f"{len(errors)} error(s); nothing was imported",
                errors=[{"row": e.row, "field": e.field, "message": e.message} for e in errors],
            )
        saved = await service.import_all(
            [standard for _, standard in standards],
            author,
            publish=status == "published",
            correlation_id=correlation_id(request),
        )
        return ImportReport(
            imported=len(saved), status=status, standard_ids=[d["standard_id"] for d in saved]
        )

    @api.post(
        "/standards/{standard_id}/versions/{version}/publish",
        response_model=VersionView,
        summary="Publish a draft; the version in force is superseded",
        responses={
            404: {"description": "No such version", **PROBLEM},
            409: {"description": "Not a draft", **PROBLEM},
        },
    )
    async def publish(
        standard_id: StandardId,
        version: Annotated[int, Path(ge=1, le=1_000_000)],
        request: Request,
        actor: Caller,
    ) -> VersionView:
        author = writer(actor, standard_id.split(".", 1)[0])
        try:
            doc = await service.publish_draft(
                standard_id, version, author, correlation_id=correlation_id(request)
            )
        except VersionNotFound as exc:
            raise ProblemError(404, "version_not_found", str(exc)) from exc
        except NotADraft as exc:
            raise ProblemError(409, "not_a_draft", str(exc)) from exc
        return VersionView.model_validate(doc)

    @api.get(
        "/standards/{standard_id}/versions",
        response_model=list[VersionView],
        summary="Every version of a standard with who drafted, published, superseded it",
    )
    async def versions(standard_id: StandardId, actor: Caller) -> list[VersionView]:
        reader(actor, standard_id.split(".", 1)[0])
        history = await service.versions(standard_id)
        if not history:
            raise ProblemError(404, "standard_not_found", f"no standard {standard_id}")
        return [VersionView.model_validate(doc) for doc in history]

    @api.get(
        "/standards/{standard_id}",
        response_model=StandardView,
        summary="A standard in force, all 14 components (the agency, auditors, admins)",
        responses={404: {"description": "No such standard", **PROBLEM}},
    )
    async def get(standard_id: StandardId, actor: Caller) -> StandardView:
        reader(actor, standard_id.split(".", 1)[0])
        return StandardView.from_doc(in_force(await service.get(standard_id), standard_id))

    @api.get(
        "/standards",
        response_model=list[StandardView],
        summary="Standards in force, all components (admins, auditors; an agency its own)",
    )
    async def list_standards(
        actor: Caller,
        agency_id: AgencyQuery = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[StandardView]:
        who = require_role(actor, *READERS)
        if who.role in AGENCY_ROLES:
            agency_id = who.agency_id
        docs = await service.search(agency_id=agency_id, limit=limit, offset=offset)
        return [StandardView.from_doc(doc) for doc in docs]

    @api.get(
        "/public/standards",
        response_model=list[PublicStandard],
        tags=["public"],
        summary="Search published standards by agency, region and keyword (public components)",
    )
    async def public_search(
        agency_id: AgencyQuery = None,
        region_code: Annotated[str | None, Query(pattern=REGION_CODE_PATTERN)] = None,
        q: Annotated[str | None, Query(min_length=2, max_length=100)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    ) -> list[PublicStandard]:
        docs = await service.search(
            agency_id=agency_id, region_code=region_code, keyword=q, limit=limit, offset=offset
        )
        return [_public(doc) for doc in docs]

    @api.get(
        "/public/standards/{standard_id}",
        response_model=PublicStandard,
        tags=["public"],
        summary="One published standard, public components",
        responses={404: {"description": "No such standard", **PROBLEM}},
    )
    async def public_get(standard_id: StandardId) -> PublicStandard:
        return _public(in_force(await service.get(standard_id), standard_id))

    @api.get(
        "/compliance/standards",
        response_model=list[ScoreView],
        summary="Score, zone, missing components and complaint feedback per standard",
    )
    async def standard_scores(actor: Caller, agency_id: AgencyQuery = None) -> list[ScoreView]:
        who = require_role(actor, *READERS)
        if who.role in AGENCY_ROLES:
            agency_id = who.agency_id
        scores = await service.scores(agency_id=agency_id)
        feedback = await service.feedback([s.standard_id for _, s in scores])
        return [
            ScoreView(
                standard_id=s.standard_id,
                score=s.score,
                zone=s.zone,
                missing=list(s.missing),
                complaints=feedback.get(s.standard_id, {}).get("complaints", 0),
                violations=feedback.get(s.standard_id, {}).get("violations", {}),
            )
            for _, s in scores
        ]

    @api.get(
        "/compliance/agencies",
        summary="Mean score, zone and standards per zone of each agency (public)",
        tags=["public"],
    )
    async def agency_compliance(agency_id: AgencyQuery = None) -> dict[str, Any]:
        scores = await service.scores(agency_id=agency_id)
        agencies = agency_scores(scores, service.zones)
        return {
            "thresholds": {"green": service.zones.green, "yellow": service.zones.yellow},
            "standards_by_zone": zone_counts([s for _, s in scores]),
            "agencies": [
                {
                    "agency_id": a.agency_id,
                    "standards": a.standards,
                    "score": a.score,
                    "zone": a.zone,
                    "by_zone": a.by_zone,
                }
                for a in agencies
            ],
        }

    return api


def in_force(doc: dict[str, Any] | None, standard_id: str) -> dict[str, Any]:
    """The standard in force, or the 404 its absence is."""
    if doc is None:
        raise ProblemError(404, "standard_not_found", f"no standard {standard_id}")
    return doc


def _public(doc: dict[str, Any]) -> PublicStandard:
    fields = {k: v for k, v in doc.items() if k in PublicStandard.model_fields}
    return PublicStandard(standard_id=doc["_id"], **fields)
