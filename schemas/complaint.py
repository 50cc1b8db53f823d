"""Shared vocabulary of a complaint: report types, statuses, channels, reporter contact."""

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

# Crockford base32 without I, L, O, U: easy to read out over the phone; 10 characters, 50 bits.
TRACKING_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TRACKING_ID_PATTERN = r"^LPR-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$"
# A service standard is named by its agency and a slug of the service: "<agency>.<service>".
STANDARD_ID_PATTERN = r"^[a-z0-9-]{2,80}\.[a-z0-9-]{1,120}$"


class ReportType(StrEnum):
    """What the citizen is filing (SP4N-LAPOR! report types)."""

    PENGADUAN = "pengaduan"
    ASPIRASI = "aspirasi"
    PERMINTAAN_INFORMASI = "permintaan_informasi"


class ComplaintStatus(StrEnum):
    """Where a complaint stands in the SP4N-LAPOR! lifecycle."""

    SUBMITTED = "submitted"
    DEFERRED = "deferred"
    REJECTED = "rejected"
    FORWARDED_TO_AGENCY = "forwarded_to_agency"
    FORWARDED_TO_UNIT = "forwarded_to_unit"
    BOUNCED = "bounced"
    IN_FOLLOW_UP = "in_follow_up"
    ANSWERED = "answered"
    REOPENED = "reopened"
    ESCALATED = "escalated"
    CLOSED = "closed"
    MERGED = "merged"


class LifecycleAction(StrEnum):
    """What someone (or the system) does to a complaint."""

    DEFER = "defer"
    COMPLETE = "complete"
    REJECT = "reject"
    FORWARD = "forward"
    FORWARD_TO_UNIT = "forward_to_unit"
    BOUNCE = "bounce"
    REROUTE = "reroute"
    FOLLOW_UP = "follow_up"
    ANSWER = "answer"
    REPLY = "reply"
    CLOSE = "close"
    AUTO_CLOSE = "auto_close"
    ESCALATE = "escalate"
    MERGE = "merge"


class Role(StrEnum):
    """Who acts: the actors of SP4N-LAPOR!, plus the platform itself."""

    CITIZEN = "citizen"
    NATIONAL_ADMIN = "national_admin"
    AGENCY_ADMIN = "agency_admin"
    UNIT_OFFICER = "unit_officer"
    AUDITOR = "auditor"
    SYSTEM = "system"

    @property
    def described(self) -> str:
        """The role in a sentence, with its article: "an agency admin", "a citizen"."""
        words = self.value.replace("_", " ")
        return f"{'an' if words[0] in 'aeiou' else 'a'} {words}"


@dataclass(frozen=True)
class Actor:
    """Who acts, with the agency or unit they belong to (for authority checks)."""

    role: Role
    subject: str
    agency_id: str | None = None
    unit_id: str | None = None


class RejectionReason(StrEnum):
    """Why a report is not handled (it is archived with the reason, never lost)."""

    OUT_OF_SCOPE = "out_of_scope"  # court cases, legislation, corruption, criminal matters
    INCOMPLETE = "incomplete"
    DUPLICATE = "duplicate"
    NOT_A_REPORT = "not_a_report"
    ABUSIVE = "abusive"


class Channel(StrEnum):
    """How a report reached the platform."""

    WEB = "web"
    SMS = "sms"
    MOBILE = "mobile"
    SOCIAL = "social"
    INTEGRATION = "integration"


class GeoPoint(BaseModel):
    """WGS84 coordinates of where it happened (within Indonesia's bounding box)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lat: float = Field(ge=-11.5, le=6.5, examples=[-3.6954])
    long: float = Field(ge=94.0, le=141.5, examples=[128.1814])


ATTACHMENT_TYPES = ("image/jpeg", "image/png", "application/pdf")
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 5


class AttachmentMeta(BaseModel):
    """A photo or document kept in object storage; intake stores only its description."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    filename: str = Field(min_length=1, max_length=200, pattern=r"^[^/\\\x00]+$")
    content_type: str = Field(description="image/jpeg, image/png or application/pdf")
    size_bytes: int = Field(ge=1, le=MAX_ATTACHMENT_BYTES)
    url: str = Field(max_length=2_000, pattern=r"^https://[^\s]+$")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")

    @field_validator("content_type")
    @classmethod
    def _allowed_type(cls, value: str) -> str:
        if value not in ATTACHMENT_TYPES:
            raise ValueError(f"content_type must be one of {', '.join(ATTACHMENT_TYPES)}")
        return value


class ServiceExperience(BaseModel):
    """What the reporter went through with the service the complaint is about."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    waited_days: int | None = Field(
        default=None, ge=0, le=3650, description="Calendar days from application to result."
    )
    paid_idr: int | None = Field(default=None, ge=0, le=10_000_000_000, description="Rupiah paid.")


class ReporterContact(BaseModel):
    """How to reach the reporter. Personal data: never leaves the internal topics and stores."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    name: str | None = Field(default=None, min_length=1, max_length=200, examples=["Siti Rahma"])
    email: EmailStr | None = Field(default=None, examples=["siti@example.id"])
    phone: str | None = Field(
        default=None,
        pattern=r"^\+?[0-9]{8,15}$",
        description="Digits only, optional leading +.",
        examples=["+6281234567890"],
    )
