"""HTTP API of routing: the rule table (read by anyone, edited by the national admin with
versions and an audit trail), a dry run of a decision, and the decisions made."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import AwareDatetime, BaseModel, ValidationError

from kernel import http
from schemas.complaint import STANDARD_ID_PATTERN, TRACKING_ID_PATTERN, Actor, ReportType, Role
from schemas.regions import REGION_CODE_PATTERN
from services.routing.domain import (
    ID_PATTERN,
    Agency,
    AgencyBody,
    Directory,
    Rule,
    RuleBody,
    Subject,
    decide,
    put_agency,
    put_rule,
    remove_rule,
)
from services.routing.service import DirectoryEditor
from services.routing.store import RoutingStore, VersionConflict

RuleId = Annotated[str, Path(pattern=ID_PATTERN)]
AgencyId = Annotated[str, Path(pattern=ID_PATTERN)]
IfMatch = Annotated[
    str | None,
    Header(
        description="The directory version the edit is based on (its ETag); a mismatch is 412.",
        pattern=r'^(W/)?"?\d{1,9}"?$',
    ),
]
PROBLEM = http.PROBLEM_RESPONSE
EDIT_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or invalid token", **PROBLEM},
    403: {"description": "Only the national admin edits routing", **PROBLEM},
    412: {"description": "The directory changed since the version in If-Match", **PROBLEM},
    422: {"description": "The edit would make the directory inconsistent", **PROBLEM},
}


class Explanation(BaseModel):
    """What routing would decide now, and why."""

    agency_id: str
    agency_name: str
    unit_id: str | None
    rule_id: str
    reason: str
    alternatives: list[str]
    confidence: str
    proposal: bool
    directory_version: int


def routing_router(
    *,
    store: RoutingStore,
    editor: DirectoryEditor,
    caller: Callable[..., Any],
) -> APIRouter:
    """The /v1 routes of routing."""
    api = APIRouter(prefix="/v1", tags=["routing"])
    Caller = Annotated[Actor | None, Depends(caller)]

    def admin(actor: Actor | None) -> Actor:
        http.require_role(actor, Role.NATIONAL_ADMIN)
        assert actor is not None
        return actor

    async def edit(
        actor: Actor,
        change: dict[str, Any],
        apply: Callable[[Directory], Directory],
        if_match: str | None,
        response: Response,
    ) -> Directory:
        expected = int(if_match.removeprefix("W/").strip('"')) if if_match else None
        try:
            following = await editor.change(
                apply, change=change, actor=actor, expected_version=expected
            )
        except VersionConflict as exc:
            raise http.ProblemError(
                412,
                "directory_changed",
                f"the directory is at version {exc.current}; re-read it and edit again",
                current_version=exc.current,
            ) from exc
        except ValidationError as exc:
            raise http.ProblemError(
                422,
                "inconsistent_directory",
                "the edit would make the directory inconsistent",
                errors=[
                    {"field": ".".join(map(str, e["loc"])), "message": e["msg"]}
                    for e in exc.errors(include_url=False, include_context=False)
                ],
            ) from exc
        response.headers["ETag"] = f'"{following.version}"'
        return following

    @api.get("/directory", response_model=Directory, summary="Agencies and routing rules in force")
    async def directory(response: Response) -> Directory:
        current = await store.directory(fresh=True)
        response.headers["ETag"] = f'"{current.version}"'
        return current

    @api.put(
        "/rules/{rule_id}",
        response_model=Directory,
        summary="Add or replace a routing rule (a new directory version)",
        responses=EDIT_ERRORS,
    )
    async def put_rule_route(
        rule_id: RuleId, body: RuleBody, actor: Caller, response: Response, if_match: IfMatch = None
    ) -> Directory:
        editor_actor = admin(actor)
        rule = Rule(rule_id=rule_id, **body.model_dump())
        change = {"kind": "rule_put", "rule_id": rule_id, "rule": rule.model_dump(mode="json")}
        return await edit(editor_actor, change, lambda d: put_rule(d, rule), if_match, response)

    @api.delete(
        "/rules/{rule_id}",
        response_model=Directory,
        summary="Remove a routing rule (a new directory version)",
        responses={**EDIT_ERRORS, 404: {"description": "No such rule", **PROBLEM}},
    )
    async def delete_rule(
        rule_id: RuleId, actor: Caller, response: Response, if_match: IfMatch = None
    ) -> Directory:
        editor_actor = admin(actor)
        if (await store.directory(fresh=True)).find_rule(rule_id) is None:
            raise http.ProblemError(404, "rule_not_found", f"no rule {rule_id}")
        change = {"kind": "rule_removed", "rule_id": rule_id}
        return await edit(
            editor_actor, change, lambda d: remove_rule(d, rule_id), if_match, response
        )

    @api.put(
        "/agencies/{agency_id}",
        response_model=Directory,
        summary="Add or replace an agency: its units and whether its routing is manual",
        responses=EDIT_ERRORS,
    )
    async def put_agency_route(
        agency_id: AgencyId,
        body: AgencyBody,
        actor: Caller,
        response: Response,
        if_match: IfMatch = None,
    ) -> Directory:
        editor_actor = admin(actor)
        agency = Agency(agency_id=agency_id, **body.model_dump())
        change = {
            "kind": "agency_put",
            "agency_id": agency_id,
            "agency": agency.model_dump(mode="json"),
        }
        return await edit(editor_actor, change, lambda d: put_agency(d, agency), if_match, response)

    @api.get("/directory/versions", summary="Audit trail: who changed the rules, when, how")
    async def versions(
        actor: Caller,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        before: Annotated[int | None, Query(ge=1, le=10**9)] = None,
    ) -> list[dict[str, Any]]:
        http.require_role(actor, Role.NATIONAL_ADMIN, Role.AUDITOR)
        return [_version_view(doc) for doc in await store.versions(limit=limit, before=before)]

    @api.get("/directory/versions/{version}", summary="The rule table as it was at a version")
    async def version(
        version: Annotated[int, Path(ge=1, le=10**9)], actor: Caller
    ) -> dict[str, Any]:
        http.require_role(actor, Role.NATIONAL_ADMIN, Role.AUDITOR)
        found = await store.version(version)
        if found is None:
            raise http.ProblemError(404, "version_not_found", f"no directory version {version}")
        return _version_view(found) | {"directory": found["directory"]}

    @api.get(
        "/directory/explain",
        response_model=Explanation,
        summary="Dry run: where a complaint like this would go now, and why",
    )
    async def explain(
        category: Annotated[str, Query(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$", max_length=100)],
        region_code: Annotated[str, Query(pattern=REGION_CODE_PATTERN)],
        report_type: ReportType = ReportType.PENGADUAN,
        service_standard_id: Annotated[str | None, Query(pattern=STANDARD_ID_PATTERN)] = None,
        at: AwareDatetime | None = None,
    ) -> Explanation:
        subject = Subject(
            category=category,
            region_code=region_code,
            report_type=report_type,
            service_standard_id=service_standard_id,
            at=at or datetime.now(UTC),
        )
        decision = decide(await store.directory(fresh=True), subject)
        return Explanation(
            agency_id=decision.agency.agency_id,
            agency_name=decision.agency.name,
            unit_id=decision.unit_id,
            rule_id=decision.rule_id,
            reason=decision.reason,
            alternatives=list(decision.alternatives),
            confidence=decision.confidence,
            proposal=decision.proposal,
            directory_version=decision.directory_version,
        )

    @api.get("/decisions/{complaint_id}", summary="The routing decision on a complaint, explained")
    async def decision(
        complaint_id: Annotated[str, Path(pattern=TRACKING_ID_PATTERN)], actor: Caller
    ) -> dict[str, object]:
        http.require_role(actor, Role.NATIONAL_ADMIN, Role.AUDITOR)
        found = await store.decision(complaint_id)
        if found is None:
            raise http.ProblemError(404, "decision_not_found", f"no decision on {complaint_id}")
        found["complaint_id"] = found.pop("_id")
        return found

    return api


def _version_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": doc["_id"],
        "changed_at": doc["changed_at"],
        "changed_by": doc["changed_by"],
        "change": doc["change"],
    }
