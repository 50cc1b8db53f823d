"""Shared vocabulary of a complaint: report types, statuses, channels, reporter contact."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr, Field

# Crockford base32 without I, L, O, U: easy to read out over the phone; 10 characters, 50 bits.
TRACKING_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TRACKING_ID_PATTERN = r"^LPR-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$"


class ReportType(StrEnum):
    """What the citizen is filing (SP4N-LAPOR! report types)."""

    PENGADUAN = "pengaduan"
    ASPIRASI = "aspirasi"
    PERMINTAAN_INFORMASI = "permintaan_informasi"


class ComplaintStatus(StrEnum):
    """Where a complaint stands; the full lifecycle grows from these."""

    SUBMITTED = "submitted"
    FORWARDED_TO_AGENCY = "forwarded_to_agency"


class Channel(StrEnum):
    """How a report reached the platform."""

    WEB = "web"
    SMS = "sms"
    MOBILE = "mobile"
    SOCIAL = "social"
    INTEGRATION = "integration"


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
