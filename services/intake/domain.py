"""Complaint submission rules and how intake reflects other services' outcomes. No I/O."""

import hashlib
import secrets
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from schemas.complaint import (
    TRACKING_ALPHABET,
    Channel,
    ComplaintStatus,
    ReporterContact,
    ReportType,
)
from schemas.envelope import EventPayload
from schemas.events import ComplaintRouted, ComplaintSubmitted, SlaDeadlineSet
from schemas.regions import REGION_CODE_PATTERN, province_of


def new_tracking_id() -> str:
    """A random, unguessable tracking ID such as ``LPR-7KQ2M-9XA4B``."""
    chars = "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(10))
    return f"LPR-{chars[:5]}-{chars[5:]}"


class ComplaintCreate(BaseModel):
    """What a citizen (or an integrated app) submits."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=5, max_length=200, examples=["Antrean puskesmas tidak dilayani"])
    body: str = Field(min_length=10, max_length=20_000, description="What happened, where, when.")
    category: str = Field(
        min_length=2,
        max_length=100,
        pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)*$",
        description="Dotted category code, most general first.",
        examples=["kesehatan.puskesmas"],
    )
    region_code: str = Field(
        pattern=REGION_CODE_PATTERN,
        description="Kemendagri code of where it happened (province, regency/city, ...).",
        examples=["81.71"],
    )
    report_type: ReportType = Field(examples=[ReportType.PENGADUAN])
    anonymous: bool = Field(
        default=False, description="anonim: hide me from the agency and public."
    )
    confidential: bool = Field(
        default=False, description="rahasia: keep this report out of public view."
    )
    reporter: ReporterContact = Field(description="At least one way to reach the reporter.")
    channel: Channel = Field(default=Channel.WEB)

    @field_validator("region_code")
    @classmethod
    def _known_province(cls, value: str) -> str:
        if province_of(value) is None:
            raise ValueError("region code names no Indonesian province")
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
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


def submitted_event(
    complaint_id: str, create: ComplaintCreate, submitted_at: datetime
) -> ComplaintSubmitted:
    """The fact intake publishes once the complaint is stored."""
    return ComplaintSubmitted(
        complaint_id=complaint_id,
        title=create.title,
        body=create.body,
        category=create.category,
        region_code=create.region_code,
        report_type=create.report_type,
        anonymous=create.anonymous,
        confidential=create.confidential,
        reporter=create.reporter,
        channel=create.channel,
        submitted_at=submitted_at,
    )


def new_record(
    complaint_id: str, create: ComplaintCreate, submitted_at: datetime, idempotency_key: str | None
) -> dict[str, Any]:
    """The stored complaint."""
    record: dict[str, Any] = {
        "_id": complaint_id,
        **create.model_dump(mode="json"),
        "status": ComplaintStatus.SUBMITTED.value,
        "submitted_at": submitted_at,
        "updated_at": submitted_at,
        "agency": None,
        "deadline": None,
        "history": [
            {"status": ComplaintStatus.SUBMITTED.value, "at": submitted_at, "by": "reporter"}
        ],
    }
    if idempotency_key is not None:
        record["idempotency"] = {"key": idempotency_key, "fingerprint": create.fingerprint()}
    return record


def reflect(payload: EventPayload) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The update (``$set`` fields, history entry) intake applies for another service's outcome.

    Events of one complaint arrive in order on one partition, so each is applied as it comes.
    """
    if isinstance(payload, ComplaintRouted):
        return (
            {
                "status": ComplaintStatus.FORWARDED_TO_AGENCY.value,
                "agency": {"id": payload.agency_id, "name": payload.agency_name},
                "updated_at": payload.routed_at,
            },
            {
                "status": ComplaintStatus.FORWARDED_TO_AGENCY.value,
                "at": payload.routed_at,
                "by": "routing",
                "reason": payload.reason,
            },
        )
    if isinstance(payload, SlaDeadlineSet):
        return (
            {
                "deadline": {
                    "stage": payload.stage.value,
                    "due_at": payload.due_at,
                    "working_days": payload.working_days,
                    "time_zone": payload.time_zone,
                }
            },
            None,
        )
    raise TypeError(f"intake does not reflect {type(payload).__name__}")


class AgencyView(BaseModel):
    """The agency a complaint is assigned to."""

    id: str
    name: str


class DeadlineView(BaseModel):
    """The deadline currently running on a complaint."""

    stage: str
    due_at: AwareDatetime
    working_days: int
    time_zone: str


class ComplaintStatusView(BaseModel):
    """What the tracking-ID lookup shows. No reporter contact details."""

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
    deadline: DeadlineView | None

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "ComplaintStatusView":
        """Project a stored complaint."""
        return cls(tracking_id=record["_id"], **{k: record.get(k) for k in _VIEW_FIELDS})


_VIEW_FIELDS = [name for name in ComplaintStatusView.model_fields if name != "tracking_id"]
