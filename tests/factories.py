"""Valid events with sensible defaults; a test overrides only what it is about."""

import csv
import io
from datetime import UTC, datetime
from typing import Any

from kernel.sealing import DataKey
from schemas.complaint import (
    Channel,
    ComplaintStatus,
    LifecycleAction,
    ReporterContact,
    ReportType,
    Role,
)
from schemas.events import (
    ComplaintRouted,
    ComplaintStatusChanged,
    ComplaintSubmitted,
    ComplaintSubmittedV1,
    SlaDeadlineSet,
    SlaStage,
    StandardChecked,
)
from services.intake.domain import new_tracking_id
from services.standards.importing import COLUMNS

__all__ = [
    "DATA_KEYS",
    "NOW",
    "deadline_set",
    "new_tracking_id",
    "routed",
    "status_changed",
    "submitted",
    "submitted_v1",
]

# The data key of every report these factories sealed contact details for, by complaint ID:
# what intake's key store would hold (``tests.receivers.KeyVault`` serves them to notify).
DATA_KEYS: dict[str, DataKey] = {}

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # a Tuesday in every Indonesian zone


def submitted(complaint_id: str | None = None, **overrides: Any) -> ComplaintSubmitted:
    """A complaint from Ambon, reachable by email (``reporter=`` for other contact details),
    sealed under a data key of its own as intake publishes it."""
    fields = _submission(complaint_id, overrides)
    contact = fields.pop("reporter").model_dump(mode="json")
    if any(contact.values()) and "sealed_reporter" not in fields:
        key = DATA_KEYS.setdefault(fields["complaint_id"], DataKey.new())
        fields["sealed_reporter"] = key.seal(contact)
    return ComplaintSubmitted(**fields)


def submitted_v1(complaint_id: str | None = None, **overrides: Any) -> ComplaintSubmittedV1:
    """The same complaint as version 1 published it: contact details in clear."""
    return ComplaintSubmittedV1(**_submission(complaint_id, overrides))


def _submission(complaint_id: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "complaint_id": complaint_id or new_tracking_id(),
        "title": "Jalan rusak",
        "body": "Jalan di depan pasar rusak",
        "category": "infrastruktur.jalan",
        "region_code": "81.71",
        "report_type": ReportType.PENGADUAN,
        "anonymous": False,
        "confidential": False,
        "reporter": ReporterContact(name="Siti Rahma", email="siti@example.id"),
        "channel": Channel.WEB,
        "submitted_at": NOW,
    }
    return {**fields, **overrides}


def routed(complaint_id: str | None = None, **overrides: Any) -> ComplaintRouted:
    """Assigned to the Ambon city health office (WIT)."""
    fields: dict[str, Any] = {
        "complaint_id": complaint_id or new_tracking_id(),
        "agency_id": "dinkes-kota-ambon",
        "agency_name": "Dinas Kesehatan Kota Ambon",
        "time_zone": "Asia/Jayapura",
        "rule_id": "kesehatan-ambon",
        "reason": "rule kesehatan-ambon matched",
        "routed_at": NOW,
    }
    return ComplaintRouted(**{**fields, **overrides})


def deadline_set(complaint_id: str | None = None, **overrides: Any) -> SlaDeadlineSet:
    """First follow-up due five working days after NOW, end of day WIT."""
    fields: dict[str, Any] = {
        "complaint_id": complaint_id or new_tracking_id(),
        "stage": SlaStage.FIRST_FOLLOW_UP,
        "agency_id": "dinkes-kota-ambon",
        "started_at": NOW,
        "due_at": datetime(2026, 12, 1, 14, 59, 59, tzinfo=UTC),
        "working_days": 5,
        "time_zone": "Asia/Jayapura",
    }
    return SlaDeadlineSet(**{**fields, **overrides})


def status_changed(complaint_id: str | None = None, **overrides: Any) -> ComplaintStatusChanged:
    """The system forwarding a pengaduan to the Ambon city health office."""
    fields: dict[str, Any] = {
        "complaint_id": complaint_id or new_tracking_id(),
        "action": LifecycleAction.FORWARD,
        "from_status": ComplaintStatus.SUBMITTED,
        "to_status": ComplaintStatus.FORWARDED_TO_AGENCY,
        "actor_role": Role.SYSTEM,
        "agency_id": "dinkes-kota-ambon",
        "unit_id": None,
        "report_type": ReportType.PENGADUAN,
        "needs_examination": None,
        "reason": None,
        "text": None,
        "changed_at": NOW,
    }
    return ComplaintStatusChanged(**{**fields, **overrides})


def standard_checked(complaint_id: str | None = None, **overrides: Any) -> StandardChecked:
    """The SLA service's check of a complaint against the standard in force."""
    fields: dict[str, Any] = {
        "complaint_id": complaint_id or new_tracking_id(),
        "standard_id": "dinkes-kota-ambon.penerbitan-surat-izin-praktik-bidan",
        "standard_version": 1,
        "promised_days": 5,
        "promised_fee_idr": 0,
        "waited_days": 3,
        "paid_idr": 50_000,
        "violations": ["fee"],
        "checked_at": NOW,
    }
    return StandardChecked(**{**fields, **overrides})


def standard_row(**changes: str) -> dict[str, str]:
    """One row of a SIPP import file (every column filled), with ``changes``."""
    base = {
        "agency_id": "pemkot-padang",
        "agency_name": "Pemerintah Kota Padang",
        "unit_id": "disdukcapil",
        "region_code": "13.71",
        "service_name": "Penerbitan Kartu Keluarga",
        "decree_number": "SK Walikota 7/2026",
        "effective_date": "2026-02-01",
        "pledge": "Kami siap melayani dengan sepenuh hati",
        "requirements": "Formulir F-1.01\nKTP-el kepala keluarga",
        "procedure": "1. Isi formulir; 2. Verifikasi; 3. Cetak KK",
        "completion_time_amount": "1",
        "completion_time_unit": "working_days",
        "fee_free": "ya",
        "fee_amount_idr": "",
        "fee_basis": "UU 24/2013",
        "product": "Kartu Keluarga",
        "complaint_handling": "SP4N-LAPOR! dan loket pengaduan",
        "legal_basis": "UU 24/2013; Perpres 96/2018",
        "facilities": "Loket; Ruang tunggu",
        "staff_competence": "Operator SIAK bersertifikat",
        "internal_supervision": "Kepala Dinas",
        "staff_count": "6",
        "service_guarantee": "Selesai satu hari kerja",
        "security_guarantee": "Data kependudukan dilindungi",
        "performance_evaluation": "Survei kepuasan tiap triwulan",
    }
    return base | changes


def standards_csv(rows: list[dict[str, str]], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()
