"""Reporters' rights over their data (UU 27/2022 (PDP), Pasal 7: to see and copy it) and the
auditor's view of who saw it."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AwareDatetime, BaseModel, Field

from kernel.http import PROBLEM_RESPONSE, require_role
from schemas.complaint import TRACKING_ID_PATTERN, Actor, Role
from services.intake.access_log import AccessLog
from services.intake.privacy_notice import PATH as NOTICE_PATH
from services.intake.privacy_notice import PrivacyNotice, privacy_notice
from services.intake.service import IntakeService
from services.intake.views import ComplaintDetail, detail_view

# Enough for any one reporter; the export names how many there were when it stops short.
EXPORT_LIMIT = 1000


class ViewerView(BaseModel):
    subject: str
    role: str
    agency_id: str | None
    unit_id: str | None


class AccessEntry(BaseModel):
    """One disclosure of a reporter's data to someone other than the reporter."""

    complaint_id: str
    fields: list[str] = Field(description="What was shown: name, email, phone.")
    viewer: ViewerView
    purpose: str = Field(description="What the viewer gave as X-Access-Purpose.")
    route: str
    at: AwareDatetime


class PersonalDataExport(BaseModel):
    """Everything intake holds about the caller, in one machine-readable document."""

    subject: str
    exported_at: AwareDatetime
    complaints: list[ComplaintDetail] = Field(
        description="Every report the caller filed, with the contact details given."
    )
    complaints_truncated: bool
    seen_by_truncated: bool = Field(
        description="True when there were more disclosures than the export lists (the "
        "auditor's access log has them all)."
    )
    seen_by: list[AccessEntry] = Field(
        description="Who else saw the caller's name or contact details, when and why."
    )


def privacy_router(
    service: IntakeService,
    access_log: AccessLog,
    caller: Callable[..., Actor | None],
    *,
    retention_days: int,
) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["privacy"])
    Caller = Annotated[Actor | None, Depends(caller)]
    notice = privacy_notice(retention_days)

    @api.get(
        NOTICE_PATH.removeprefix("/v1"),
        response_model=PrivacyNotice,
        summary="What a reporter is told before filing: purpose, data, retention, rights",
    )
    async def privacy_notice_of_this_deployment() -> PrivacyNotice:
        return notice

    @api.get(
        "/audit/contact-access",
        response_model=list[AccessEntry],
        summary="Who saw reporters' personal data: by report, by viewer, in a time window",
        responses={
            401: {"description": "No or invalid token", **PROBLEM_RESPONSE},
            403: {"description": "Only auditors read the access log", **PROBLEM_RESPONSE},
        },
    )
    async def contact_access(
        actor: Caller,
        complaint_id: Annotated[str | None, Query(pattern=TRACKING_ID_PATTERN)] = None,
        viewer: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        since: AwareDatetime | None = None,
        until: AwareDatetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[dict[str, Any]]:
        # Only the auditor: the national admin, whose reads are logged, does not read the log.
        require_role(actor, Role.AUDITOR)
        return await access_log.entries(
            complaint_ids=None if complaint_id is None else [complaint_id],
            viewer=viewer,
            since=since,
            until=until,
            limit=limit,
            offset=offset,
        )

    @api.get(
        "/me/data",
        response_model=PersonalDataExport,
        summary="Download everything intake holds about me (JSON)",
        responses={
            401: {"description": "No or invalid token", **PROBLEM_RESPONSE},
            403: {"description": "Only citizens have reports of their own", **PROBLEM_RESPONSE},
        },
    )
    async def my_data(actor: Caller, response: Response) -> PersonalDataExport:
        me = require_role(actor, Role.CITIZEN)
        records = await service.list({"reporter_id": me.subject}, limit=EXPORT_LIMIT + 1, offset=0)
        mine = records[:EXPORT_LIMIT]
        seen = await access_log.entries(
            complaint_ids=[r["_id"] for r in mine], limit=EXPORT_LIMIT + 1
        )
        response.headers["Content-Disposition"] = 'attachment; filename="lapor-my-data.json"'
        return PersonalDataExport(
            subject=me.subject,
            exported_at=datetime.now(UTC),
            complaints=[detail_view(record, me) for record in mine],
            complaints_truncated=len(records) > EXPORT_LIMIT,
            seen_by=[AccessEntry.model_validate(entry) for entry in seen[:EXPORT_LIMIT]],
            seen_by_truncated=len(seen) > EXPORT_LIMIT,
        )

    return api
