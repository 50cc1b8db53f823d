"""Complaint submission, the stored record and how lifecycle transitions change it. No I/O."""

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.complaint import (
    MAX_ATTACHMENTS,
    STANDARD_ID_PATTERN,
    TRACKING_ALPHABET,
    AttachmentMeta,
    Channel,
    ComplaintStatus,
    GeoPoint,
    ReporterContact,
    ReportType,
    Role,
    ServiceExperience,
)
from schemas.envelope import EventPayload
from schemas.events import (
    ComplaintRouted,
    ComplaintStatusChanged,
    ComplaintSubmitted,
    SlaDeadlineSet,
    StandardChecked,
)
from schemas.regions import (
    OUTSIDE_KM,
    REGION_CODE_PATTERN,
    is_known,
    locate,
    province_of,
    region_name,
)
from services.intake.categories import is_known_category
from services.intake.duplicates import Report, category_group, regency_of
from services.intake.lifecycle import ComplaintState, Transition


def new_tracking_id() -> str:
    """A random, unguessable tracking ID such as ``LPR-7KQ2M-9XA4B``."""
    chars = "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(10))
    return f"LPR-{chars[:5]}-{chars[5:]}"


def fingerprint_of(request: BaseModel) -> str:
    """Hash of a request, to tell a retry (same key, same request) from another request sent
    under the same Idempotency-Key."""
    return hashlib.sha256(request.model_dump_json().encode()).hexdigest()


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class ComplaintCreate(BaseModel):
    """What a citizen (or an integrated app) submits."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=5, max_length=200, examples=["Antrean puskesmas tidak dilayani"])
    body: str = Field(min_length=10, max_length=20_000, description="What happened, where, when.")
    category: str = Field(
        min_length=2,
        max_length=100,
        pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$",
        description="Dotted category code, most general first: one of the platform's "
        "categories (GET /open311/v2/services.json lists them) or their group.",
        examples=["kesehatan.puskesmas"],
    )
    region_code: str = Field(
        # Not a real default: left out, it is resolved from ``location``, and without one the
        # empty code fails the pattern. The schema shows no default (one that breaks its own
        # pattern makes the OpenAPI document invalid).
        default="",
        validate_default=True,
        pattern=REGION_CODE_PATTERN,
        description="Kemendagri code of where it happened (province, regency/city, ...). "
        "Required unless ``location`` is given: then, when left out, it is resolved to the "
        "region whose seat is nearest.",
        examples=["81.71"],
        json_schema_extra=_no_default,
    )
    report_type: ReportType = Field(examples=[ReportType.PENGADUAN])
    anonymous: bool = Field(
        default=False, description="anonim: hide me from the agency and public."
    )
    confidential: bool = Field(
        default=False, description="rahasia: keep this report out of public view."
    )
    location: GeoPoint | None = Field(default=None, description="Where it happened, if known.")
    service_standard_id: str | None = Field(
        default=None,
        pattern=STANDARD_ID_PATTERN,
        description="The SIPP service standard this complaint concerns, if any.",
    )
    experience: ServiceExperience | None = Field(
        default=None, description="How long the service took and what it cost, as experienced."
    )
    chosen_agency_id: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9-]{2,80}$",
        description="The agency the reporter wants; honoured when it handles this category "
        "and region, otherwise flagged for the national admin.",
    )
    address: str | None = Field(default=None, min_length=3, max_length=300)
    attachments: list[AttachmentMeta] = Field(
        default_factory=list, max_length=MAX_ATTACHMENTS, description="Photos or documents."
    )
    reporter: ReporterContact = Field(
        description="At least one way to reach the reporter. Privacy notice (GET "
        "/v1/privacy-notice, in Bahasa Indonesia and English): used only to follow up this "
        "report; stored encrypted under a key of the report's own; every view by an officer "
        "is recorded; destroyed INTAKE_CONTACT_RETENTION_DAYS after the report ends, or "
        "sooner at the reporter's request; the reporter may download (GET /v1/me/data) and "
        "erase it (UU 27/2022)."
    )
    channel: Channel = Field(default=Channel.WEB)

    @model_validator(mode="before")
    @classmethod
    def _region_from_location(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("region_code"):
            return data
        try:
            point = GeoPoint.model_validate(data.get("location"))
        except ValidationError:
            return data  # the location's own errors, and region_code's, are reported below
        located = locate(point.lat, point.long)
        if not located.inside:
            return data  # the location's check names the problem
        return {**data, "region_code": located.region_code}

    @field_validator("location")
    @classmethod
    def _in_indonesia(cls, value: GeoPoint | None) -> GeoPoint | None:
        if value is not None and not locate(value.lat, value.long).inside:
            raise ValueError(
                f"the point lies outside Indonesia (no district within {OUTSIDE_KM:.0f} km)"
            )
        return value

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if not is_known_category(value):
            raise ValueError("unknown category; GET /open311/v2/services.json lists them")
        return value

    @field_validator("region_code", mode="before")
    @classmethod
    def _given_or_located(cls, value: Any) -> Any:
        if value == "":
            raise PydanticCustomError(
                "missing", "give region_code, or a location to resolve it from"
            )
        return value

    @field_validator("region_code")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if province_of(value) is None:
            raise ValueError("region code names no Indonesian province")
        if not is_known(value):
            raise ValueError(f"region code names no regency or city of {region_name(value[:2])}")
        return value

    @field_validator("reporter")
    @classmethod
    def _reachable(cls, value: ReporterContact) -> ReporterContact:
        if value.email is None and value.phone is None:
            raise ValueError("give an email address or a phone number to receive the tracking ID")
        return value

    def fingerprint(self) -> str:
        """Hash of the request, to tell a retried submission from a different one with the same
        Idempotency-Key."""
        return fingerprint_of(self)


def location_flags(create: ComplaintCreate) -> list[dict[str, str]]:
    """What a verifier should look at in where a report says it happened: a location that lies
    in another region than the code given (the code stands; the verifier decides)."""
    if create.location is None:
        return []
    located = locate(create.location.lat, create.location.long)
    given = create.region_code
    depth = min(len(given), 5)  # regency level at most: the points decide no deeper
    if not located.inside or located.region_code[:depth] == given[:depth]:
        return []
    return [
        {
            "code": "location_mismatch",
            "detail": f"the location lies in {located.name} ({located.region_code}), "
            f"{located.distance_km} km from the nearest district point; region_code "
            f"{given} is {region_name(given)}",
        }
    ]


def submitted_event(
    complaint_id: str,
    create: ComplaintCreate,
    submitted_at: datetime,
    *,
    sealed_reporter: str | None,
    reporter_account: str | None = None,
    integration_client: str | None = None,
) -> ComplaintSubmitted:
    """The fact intake publishes once the complaint is stored; the reporter's contact details
    only as ``sealed_reporter``, sealed under the report's data key."""
    return ComplaintSubmitted(
        complaint_id=complaint_id,
        title=create.title,
        body=create.body,
        category=create.category,
        region_code=create.region_code,
        report_type=create.report_type,
        anonymous=create.anonymous,
        confidential=create.confidential,
        sealed_reporter=sealed_reporter,
        channel=create.channel,
        service_standard_id=create.service_standard_id,
        experience=create.experience,
        chosen_agency_id=create.chosen_agency_id,
        reporter_account=reporter_account,
        integration_client=integration_client,
        submitted_at=submitted_at,
    )


def new_record(
    complaint_id: str,
    create: ComplaintCreate,
    submitted_at: datetime,
    *,
    idempotency_key: str | None,
    reporter_id: str | None,
    integration_client: str | None = None,
) -> dict[str, Any]:
    """The stored complaint. ``reporter_id`` is the citizen account that submitted it, if any;
    ``integration_client`` the registered app that filed it for someone."""
    record: dict[str, Any] = {
        "_id": complaint_id,
        **create.model_dump(mode="json"),
        # Equality keys for the duplicate check's indexed lookup.
        "regency": regency_of(create.region_code),
        "category_group": category_group(create.category),
        "reporter_id": reporter_id,
        "status": ComplaintStatus.SUBMITTED.value,
        "submitted_at": submitted_at,
        "updated_at": submitted_at,
        "version": 1,
        "agency": None,
        "unit_id": None,
        "bounced_agencies": [],
        "needs_examination": None,
        "answered_at": None,
        "closed_by": None,
        "deadlines": {},
        "supporters": 0,
        "rating": None,
        "possible_duplicates": [],
        "merged_into": None,
        "merged_from": [],
        # No "followers" until a merge brings some: an empty array in the multikey followers
        # index made every two concurrent submissions a write conflict on the embedded database.
        "history": [
            {
                "action": "submit",
                "from_status": None,
                "to_status": ComplaintStatus.SUBMITTED.value,
                "actor_role": Role.CITIZEN.value,
                "at": submitted_at,
                "reason": None,
                "text": None,
            }
        ],
    }
    if idempotency_key is not None:
        record["idempotency"] = {"key": idempotency_key, "fingerprint": create.fingerprint()}
    if integration_client is not None:
        record["integration_client"] = integration_client
    flags = location_flags(create)
    if flags:
        record["flags"] = flags
    return record


def state_of(record: dict[str, Any]) -> ComplaintState:
    """The lifecycle state of a stored complaint."""
    agency = record.get("agency") or {}
    return ComplaintState(
        status=ComplaintStatus(record["status"]),
        reporter_id=record.get("reporter_id"),
        report_type=ReportType(record["report_type"]),
        agency_id=agency.get("id"),
        agency_name=agency.get("name"),
        unit_id=record.get("unit_id"),
        agency_units=tuple(record.get("agency_units", ())),
        bounced_agencies=tuple(record.get("bounced_agencies", ())),
        answered_at=record.get("answered_at"),
        closed_by=Role(record["closed_by"]) if record.get("closed_by") else None,
        needs_examination=record.get("needs_examination"),
    )


def transition_update(
    record: dict[str, Any],
    transitions: Transition | Sequence[Transition],
) -> dict[str, Any]:
    """The MongoDB update that records one transition, or several made one after the other
    (guarded by the record's version)."""
    steps = [transitions] if isinstance(transitions, Transition) else list(transitions)
    last = steps[-1]
    state = last.state
    agency = None if state.agency_id is None else {"id": state.agency_id, "name": state.agency_name}
    fields: dict[str, Any] = {
        "status": state.status.value,
        "agency": agency,
        "unit_id": state.unit_id,
        "agency_units": list(state.agency_units),
        "bounced_agencies": list(state.bounced_agencies),
        "report_type": state.report_type.value,
        "needs_examination": state.needs_examination,
        "answered_at": state.answered_at,
        "closed_by": state.closed_by.value if state.closed_by else None,
        "updated_at": last.at,
    }
    history = [
        {
            "action": step.action.value,
            "from_status": step.from_status.value,
            "to_status": step.to_status.value,
            "actor_role": step.actor.role.value,
            "actor_id": step.actor.subject,
            "at": step.at,
            "reason": step.reason,
            "text": step.text,
        }
        for step in steps
    ]
    return {"$set": fields, "$push": {"history": {"$each": history}}, "$inc": {"version": 1}}


def route_proposal(routed: ComplaintRouted) -> dict[str, Any]:
    """What a manual-mode decision proposes, kept on the complaint for the national admin."""
    return {
        "agency_id": routed.agency_id,
        "agency_name": routed.agency_name,
        "unit_id": routed.unit_id,
        "rule_id": routed.rule_id,
        "reason": routed.reason,
        "confidence": routed.confidence,
        "proposed_at": routed.routed_at,
    }


def status_changed_event(complaint_id: str, transition: Transition) -> ComplaintStatusChanged:
    """The fact every transition publishes (no personal data: the actor's role, not who)."""
    state = transition.state
    return ComplaintStatusChanged(
        complaint_id=complaint_id,
        action=transition.action,
        from_status=transition.from_status,
        to_status=transition.to_status,
        actor_role=transition.actor.role,
        agency_id=state.agency_id,
        agency_name=state.agency_name,
        unit_id=state.unit_id,
        report_type=state.report_type,
        needs_examination=state.needs_examination,
        reason=transition.reason,
        text=transition.text,
        changed_at=transition.at,
    )


def annotation(payload: EventPayload) -> tuple[str, dict[str, Any]]:
    """The complaint another service's finding is about, and the update that shows it there."""
    if isinstance(payload, SlaDeadlineSet):
        return payload.complaint_id, deadline_update(payload)
    if isinstance(payload, StandardChecked):
        dumped = payload.model_dump(mode="python", exclude={"complaint_id"})
        return payload.complaint_id, {"$set": {"standard": dumped}}
    raise TypeError(f"not a finding about a complaint: {type(payload).__name__}")


Update = tuple[str, dict[str, Any]]  # a complaint's tracking ID, and a MongoDB update of it


def merged_updates(updates: Sequence[Update]) -> list[Update]:
    """Consecutive ``$set``-only updates of one complaint folded into one, with the effect of
    applying them in turn (a later value of a field wins): a complaint's deadlines come two at
    a time, and every write of a complaint rewrites each of its index entries."""
    merged: list[Update] = []
    for complaint_id, update in updates:
        if merged and merged[-1][0] == complaint_id and _foldable(merged[-1][1], update):
            merged[-1] = (complaint_id, {"$set": {**merged[-1][1]["$set"], **update["$set"]}})
        else:
            merged.append((complaint_id, update))
    return merged


def _foldable(first: dict[str, Any], then: dict[str, Any]) -> bool:
    if set(first) != {"$set"} or set(then) != {"$set"}:
        return False
    # One $set may not name a field and a field inside it ("a" and "a.b"): keep those apart.
    paths = set(first["$set"]) | set(then["$set"])
    return not any(other.startswith(path + ".") for path in paths for other in paths)


def deadline_update(payload: SlaDeadlineSet) -> dict[str, Any]:
    """Record a stage's deadline from the SLA service (a re-route replaces it)."""
    return {
        "$set": {
            f"deadlines.{payload.stage.value}": {
                "stage": payload.stage.value,
                "due_at": payload.due_at,
                "working_days": payload.working_days,
                "calendar_days": payload.calendar_days,
                "time_zone": payload.time_zone,
            }
        }
    }


def duplicate_report(record: dict[str, Any]) -> Report:
    """What duplicate detection compares of a stored (or about to be stored) complaint."""
    location = record.get("location")
    return Report(
        tracking_id=record["_id"],
        category=record["category"],
        region_code=record["region_code"],
        text=f"{record['title']} {record['body']}",
        submitted_at=record["submitted_at"],
        point=(location["lat"], location["long"]) if location else None,
    )
