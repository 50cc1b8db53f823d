"""A service standard (standar pelayanan) with its 14 components (UU 25/2009 art. 21;
Permen PANRB 15/2014). No I/O.

Six service-delivery components are public; eight internal-management components are for the
agency and auditors. Components with structure are typed (completion time, fee, ordered lists).
"""

import re
import unicodedata
from datetime import date
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from schemas.regions import REGION_CODE_PATTERN, is_known

Text = str
_TEXT = Field(min_length=1, max_length=5_000)


class TimeUnit(StrEnum):
    """Units a completion time is promised in."""

    HOURS = "hours"
    DAYS = "days"
    WORKING_DAYS = "working_days"


class CompletionTime(BaseModel):
    """How long the service takes, as promised (e.g. 3 working days)."""

    model_config = ConfigDict(extra="forbid")

    amount: int = Field(ge=1, le=10_000)
    unit: TimeUnit


class Fee(BaseModel):
    """What the service costs: free, or an amount in rupiah with its legal basis."""

    model_config = ConfigDict(extra="forbid")

    free: bool
    amount_idr: int = Field(default=0, ge=0, le=10_000_000_000)
    basis: str | None = Field(
        default=None, max_length=1_000, description="Regulation that sets it."
    )

    @model_validator(mode="after")
    def _consistent(self) -> "Fee":
        if self.free and self.amount_idr != 0:
            raise ValueError("a free service has amount_idr 0")
        if not self.free and self.amount_idr == 0:
            raise ValueError("a paid service needs amount_idr > 0")
        return self


class ServiceDelivery(BaseModel):
    """The six public components (komponen penyampaian pelayanan)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    requirements: list[Text] = Field(min_length=1, max_length=100, description="Persyaratan.")
    procedure: list[Text] = Field(
        min_length=1, max_length=100, description="Sistem, mekanisme dan prosedur, in order."
    )
    completion_time: CompletionTime = Field(description="Jangka waktu penyelesaian.")
    fee: Fee = Field(description="Biaya/tarif.")
    product: Text = _TEXT
    complaint_handling: Text = Field(
        min_length=1, max_length=5_000, description="Penanganan pengaduan, saran dan masukan."
    )


class InternalManagement(BaseModel):
    """The eight internal components (komponen pengelolaan pelayanan)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    legal_basis: list[Text] = Field(min_length=1, max_length=100, description="Dasar hukum.")
    facilities: list[Text] = Field(min_length=1, max_length=100, description="Sarana, prasarana.")
    staff_competence: Text = _TEXT
    internal_supervision: Text = _TEXT
    staff_count: int = Field(ge=1, le=1_000_000, description="Jumlah pelaksana.")
    service_guarantee: Text = _TEXT
    security_guarantee: Text = Field(
        min_length=1, max_length=5_000, description="Jaminan keamanan dan keselamatan pelayanan."
    )
    performance_evaluation: Text = _TEXT


class StandardCreate(BaseModel):
    """An adopted service standard, as an agency enters it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    agency_id: str = Field(pattern=r"^[a-z0-9-]{2,80}$", examples=["dinkes-kota-ambon"])
    agency_name: str | None = Field(
        default=None, min_length=2, max_length=200, examples=["Dinas Kesehatan Kota Ambon"]
    )
    unit_id: str | None = Field(
        default=None, pattern=r"^[a-z0-9-]{2,80}$", description="The unit that delivers it."
    )
    region_code: str | None = Field(
        default=None,
        pattern=REGION_CODE_PATTERN,
        description="Where the service is delivered (Kemendagri code).",
        examples=["81.71"],
    )
    service_name: str = Field(
        min_length=3, max_length=300, examples=["Penerbitan Surat Izin Praktik"]
    )
    decree_number: str = Field(
        min_length=1, max_length=200, description="Nomor SK penetapan.", examples=["SK 12/2026"]
    )
    effective_date: date
    pledge: str | None = Field(default=None, max_length=5_000, description="Maklumat pelayanan.")
    delivery: ServiceDelivery
    management: InternalManagement

    @field_validator("region_code")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is not None and not is_known(value):
            raise ValueError(f"{value} is not a known region")
        return value

    def public(self) -> dict[str, Any]:
        """The part anyone may read: who, what, the pledge and the six delivery components."""
        return self.model_dump(mode="json", exclude={"management"})


def standard_id(agency_id: str, service_name: str) -> str:
    """Stable ID of an agency's service: re-entering the same service updates, not duplicates."""
    ascii_name = unicodedata.normalize("NFKD", service_name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:120]
    return f"{agency_id}.{slug}"


def completion_days(time: CompletionTime) -> int | None:
    """The promise in days for the SLA's standard-violation check (hours round up to a day)."""
    if time.unit is TimeUnit.HOURS:
        return max(1, -(-time.amount // 24))
    return time.amount
