"""What each kind of viewer may see of a complaint. No I/O.

- The reporter (their own complaint) and the national admin see everything, contact included.
- The agency side and auditors never see contact details, and see the reporter's name only
  when the report is not anonim.
- Anyone holding the tracking ID sees its status, nothing about the reporter.
- The public sees non-rahasia reports once verified, with no reporter data at all.
"""

import re
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from schemas.complaint import (
    Actor,
    AttachmentMeta,
    ComplaintStatus,
    GeoPoint,
    LifecycleAction,
    ReportType,
    Role,
)
from schemas.events import PublicComplaintSnapshot, PublicHistoryEntry

PUBLIC_STATUSES = frozenset(
    {
        ComplaintStatus.FORWARDED_TO_AGENCY,
        ComplaintStatus.FORWARDED_TO_UNIT,
        ComplaintStatus.BOUNCED,
        ComplaintStatus.IN_FOLLOW_UP,
        ComplaintStatus.ANSWERED,
        ComplaintStatus.REOPENED,
        ComplaintStatus.ESCALATED,
        ComplaintStatus.CLOSED,
        ComplaintStatus.MERGED,
    }
)
# Texts the public may read in a report's history: what the agency did and answered.
PUBLIC_TEXT_ACTIONS = frozenset({LifecycleAction.FOLLOW_UP.value, LifecycleAction.ANSWER.value})
FULL_VIEWERS = frozenset({Role.NATIONAL_ADMIN})


class AgencyView(BaseModel):
    """The agency a complaint is assigned to."""

    id: str
    name: str | None


class DeadlineView(BaseModel):
    """The deadline currently running on a complaint."""

    stage: str
    due_at: AwareDatetime
    working_days: int | None = Field(description="None when the limit counts calendar days.")
    calendar_days: int | None = Field(
        default=None, description="The limit in calendar days (the 60-day ceiling)."
    )
    time_zone: str


class ReporterView(BaseModel):
    """The reporter as this viewer may see them."""

    name: str | None
    email: str | None = None
    phone: str | None = None


class HistoryEntryView(BaseModel):
    """One transition (the actor by role only)."""

    action: str
    from_status: ComplaintStatus | None
    to_status: ComplaintStatus
    actor_role: Role
    at: AwareDatetime
    reason: str | None
    text: str | None


class RatingView(BaseModel):
    """The complainant's judgement of the answer."""

    score: int
    comment: str | None
    rated_at: AwareDatetime


class StandardView(BaseModel):
    """The standard in force when the complaint was filed, and the promises it broke."""

    standard_id: str
    standard_version: int
    promised_days: int | None
    promised_fee_idr: int | None
    waited_days: int | None
    paid_idr: int | None
    violations: list[str]


class DuplicateView(BaseModel):
    """A likely duplicate and how alike the two are (0-1)."""

    tracking_id: str
    score: float


class ComplaintStatusView(BaseModel):
    """Tracking-ID lookup without a token: where it stands. No reporter data."""

    tracking_id: str
    status: ComplaintStatus
    title: str
    category: str
    region_code: str
    report_type: ReportType
    anonymous: bool
    confidential: bool
    submitted_at: AwareDatetime
    updated_at: AwareDatetime
    agency: AgencyView | None
    deadline: DeadlineView | None = Field(description="The earliest deadline running.")
    deadlines: list[DeadlineView] = Field(description="Every stage's deadline, earliest first.")
    merged_into: str | None


class RouteProposalView(BaseModel):
    """Where routing proposes to send a complaint of an agency in manual mode."""

    agency_id: str
    agency_name: str
    unit_id: str | None
    rule_id: str
    reason: str
    confidence: str | None
    proposed_at: AwareDatetime


class FlagView(BaseModel):
    """Something in a report a verifier should look at; the report is filed all the same."""

    code: str = Field(examples=["location_mismatch"])
    detail: str


class ComplaintDetail(ComplaintStatusView):
    """The whole complaint for those with authority over it."""

    body: str
    channel: str
    needs_examination: bool | None
    unit_id: str | None
    reporter: ReporterView | None
    supporters: int
    rating: RatingView | None
    location: GeoPoint | None
    address: str | None
    attachments: list[AttachmentMeta]
    possible_duplicates: list[DuplicateView] = Field(
        description="Shown to admins and the agency side, who decide on merging."
    )
    merged_from: list[str]
    reporter_choice: str | None = Field(
        default=None,
        description="'declined': the reporter's chosen agency does not handle this; admin check.",
    )
    standard: StandardView | None = Field(description="Set once the SLA service checked it.")
    route_proposal: RouteProposalView | None = Field(
        default=None,
        description="Routing's proposal awaiting the national admin (agencies in manual mode); "
        "forward without an agency_id to confirm it. Shown to the national admin and auditors.",
    )
    flags: list[FlagView] = Field(
        default_factory=list,
        description="What the verifier should check (a location that contradicts region_code).",
    )
    history: list[HistoryEntryView]


class PublicComplaint(BaseModel):
    """A non-rahasia report as the public sees it."""

    tracking_id: str
    status: ComplaintStatus
    title: str
    body: str
    category: str
    region_code: str
    report_type: ReportType
    submitted_at: AwareDatetime
    updated_at: AwareDatetime
    agency: AgencyView | None
    location: GeoPoint | None
    supporters: int
    merged_into: str | None
    history: list[HistoryEntryView]


def is_own(record: dict[str, Any], viewer: Actor) -> bool:
    """The viewer is the citizen who submitted this complaint."""
    return (
        viewer.role is Role.CITIZEN
        and record.get("reporter_id") is not None
        and record["reporter_id"] == viewer.subject
    )


def may_view(record: dict[str, Any], viewer: Actor) -> bool:
    """Whether the viewer may see this complaint in full (the role/agency matrix)."""
    agency = (record.get("agency") or {}).get("id")
    match viewer.role:
        case Role.NATIONAL_ADMIN | Role.AUDITOR:
            return True
        case Role.AGENCY_ADMIN:
            return agency is not None and agency == viewer.agency_id
        case Role.UNIT_OFFICER:
            return (
                agency == viewer.agency_id
                and record.get("unit_id") is not None
                and record["unit_id"] == viewer.unit_id
            )
        case Role.CITIZEN:
            # Reporters of a merged duplicate follow the complaint it was merged into.
            return is_own(record, viewer) or viewer.subject in record.get("followers", [])
    return False


def scope_filter(viewer: Actor) -> dict[str, Any]:
    """The MongoDB filter of the complaints a viewer may list (same matrix as ``may_view``)."""
    match viewer.role:
        case Role.NATIONAL_ADMIN | Role.AUDITOR:
            return {}
        case Role.AGENCY_ADMIN:
            return {"agency.id": viewer.agency_id}
        case Role.UNIT_OFFICER:
            return {"agency.id": viewer.agency_id, "unit_id": viewer.unit_id}
        case Role.CITIZEN:
            return {"$or": [{"reporter_id": viewer.subject}, {"followers": viewer.subject}]}
    return {"_id": None}


def public_filter() -> dict[str, Any]:
    """Reports the public may see."""
    return {"confidential": False, "status": {"$in": sorted(s.value for s in PUBLIC_STATUSES)}}


def title_matching(words: str) -> dict[str, Any]:
    """The filter of reports whose title holds ``words`` (any case, taken literally)."""
    return {"title": {"$regex": re.escape(words), "$options": "i"}}


def is_public(record: dict[str, Any]) -> bool:
    """Same rule as ``public_filter`` for one record."""
    return not record["confidential"] and ComplaintStatus(record["status"]) in PUBLIC_STATUSES


def _reporter(record: dict[str, Any], viewer: Actor) -> ReporterView | None:
    contact = record.get("reporter") or {}
    if not contact:
        return None  # erased (or never given): nobody to show
    if viewer.role in FULL_VIEWERS or is_own(record, viewer):
        return ReporterView(
            name=contact.get("name"), email=contact.get("email"), phone=contact.get("phone")
        )
    if record["anonymous"]:
        return None
    return ReporterView(name=contact.get("name"))


def _history(record: dict[str, Any], *, public: bool) -> list[HistoryEntryView]:
    entries = []
    for entry in record.get("history", []):
        text = entry.get("text")
        if public and entry["action"] not in PUBLIC_TEXT_ACTIONS:
            text = None
        entries.append(
            HistoryEntryView(
                action=entry["action"],
                from_status=entry.get("from_status"),
                to_status=entry["to_status"],
                actor_role=entry["actor_role"],
                at=entry["at"],
                reason=None if public else entry.get("reason"),
                text=text,
            )
        )
    return entries


def _common(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "tracking_id": record["_id"],
        "status": record["status"],
        "title": record["title"],
        "category": record["category"],
        "region_code": record["region_code"],
        "report_type": record["report_type"],
        "submitted_at": record["submitted_at"],
        "updated_at": record["updated_at"],
        "agency": record.get("agency"),
        "merged_into": record.get("merged_into"),
    }


# The clocks that still bind in each status (the SLA service stops the others).
RUNNING_STAGES: dict[ComplaintStatus, frozenset[str]] = {
    ComplaintStatus.SUBMITTED: frozenset({"verification", "ceiling"}),
    ComplaintStatus.DEFERRED: frozenset(),
    ComplaintStatus.FORWARDED_TO_AGENCY: frozenset({"first_follow_up", "completion", "ceiling"}),
    ComplaintStatus.FORWARDED_TO_UNIT: frozenset({"first_follow_up", "completion", "ceiling"}),
    ComplaintStatus.BOUNCED: frozenset({"ceiling"}),
    ComplaintStatus.ESCALATED: frozenset({"first_follow_up", "completion", "ceiling"}),
    ComplaintStatus.IN_FOLLOW_UP: frozenset({"completion", "ceiling"}),
    ComplaintStatus.REOPENED: frozenset({"completion", "ceiling"}),
    ComplaintStatus.ANSWERED: frozenset({"reply_window", "ceiling"}),
}


def _deadlines(record: dict[str, Any]) -> dict[str, Any]:
    binding = RUNNING_STAGES.get(ComplaintStatus(record["status"]), frozenset())
    ordered = sorted(
        (d for stage, d in (record.get("deadlines") or {}).items() if stage in binding),
        key=lambda d: d["due_at"],
    )
    return {"deadline": ordered[0] if ordered else None, "deadlines": ordered}


def status_view(record: dict[str, Any]) -> ComplaintStatusView:
    """For the holder of the tracking ID."""
    return ComplaintStatusView(
        **_common(record),
        anonymous=record["anonymous"],
        confidential=record["confidential"],
        **_deadlines(record),
    )


def detail_view(record: dict[str, Any], viewer: Actor) -> ComplaintDetail:
    """For a viewer ``may_view`` allows."""
    rating = record.get("rating")
    return ComplaintDetail(
        **_common(record),
        anonymous=record["anonymous"],
        confidential=record["confidential"],
        **_deadlines(record),
        body=record["body"],
        channel=record["channel"],
        needs_examination=record.get("needs_examination"),
        unit_id=record.get("unit_id"),
        reporter=_reporter(record, viewer),
        supporters=record.get("supporters", 0),
        rating=RatingView(**rating) if rating else None,
        location=record.get("location"),
        address=record.get("address"),
        attachments=record.get("attachments", []),
        possible_duplicates=[]
        if viewer.role is Role.CITIZEN
        else record.get("possible_duplicates", []),
        merged_from=record.get("merged_from", []),
        reporter_choice=record.get("reporter_choice"),
        standard=record.get("standard"),
        route_proposal=record.get("route_proposal")
        if viewer.role in (Role.NATIONAL_ADMIN, Role.AUDITOR)
        else None,
        flags=record.get("flags", []),
        history=_history(record, public=False),
    )


REPORTER_FIELDS = ("name", "email", "phone")


def disclosed(view: ComplaintDetail, record: dict[str, Any], viewer: Actor) -> tuple[str, ...]:
    """The reporter's personal data this view shows to someone other than the reporter (what
    the access log records); nothing for the reporter's own view."""
    if view.reporter is None or is_own(record, viewer):
        return ()
    return tuple(f for f in REPORTER_FIELDS if getattr(view.reporter, f) is not None)


def public_view(record: dict[str, Any]) -> PublicComplaint:
    """For anyone, of a record ``is_public`` allows."""
    return PublicComplaint(
        **_common(record),
        body=record["body"],
        location=record.get("location"),
        supporters=record.get("supporters", 0),
        history=_history(record, public=True),
    )


def public_snapshot(record: dict[str, Any]) -> PublicComplaintSnapshot:
    """The public stream's event for a record ``is_public`` allows (same rules as the view)."""
    view = public_view(record)
    agency = view.agency
    return PublicComplaintSnapshot(
        complaint_id=view.tracking_id,
        status=view.status,
        title=view.title,
        body=view.body,
        category=view.category,
        region_code=view.region_code,
        report_type=view.report_type,
        agency_id=agency.id if agency else None,
        agency_name=agency.name if agency else None,
        lat=view.location.lat if view.location else None,
        long=view.location.long if view.location else None,
        supporters=view.supporters,
        merged_into=view.merged_into,
        submitted_at=view.submitted_at,
        updated_at=view.updated_at,
        history=[
            PublicHistoryEntry(action=h.action, to_status=h.to_status, at=h.at, text=h.text)
            for h in view.history
        ],
    )
