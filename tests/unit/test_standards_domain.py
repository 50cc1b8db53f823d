"""The 14 components of a service standard and their typed parts."""

from typing import Any

import pytest
from pydantic import ValidationError

from services.standards.domain import (
    CompletionTime,
    StandardCreate,
    TimeUnit,
    completion_days,
    standard_id,
)


def full_standard(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "agency_id": "dinkes-kota-ambon",
        "service_name": "Penerbitan Surat Izin Praktik Bidan",
        "decree_number": "SK Kadis 12/2026",
        "effective_date": "2026-01-02",
        "pledge": "Kami siap melayani",
        "delivery": {
            "requirements": ["KTP", "Ijazah"],
            "procedure": ["Daftar", "Verifikasi", "Terbit"],
            "completion_time": {"amount": 5, "unit": "working_days"},
            "fee": {"free": True},
            "product": "Surat Izin Praktik",
            "complaint_handling": "Lapor via SP4N-LAPOR!",
        },
        "management": {
            "legal_basis": ["UU 25/2009"],
            "facilities": ["Loket"],
            "staff_competence": "D3 Kebidanan",
            "internal_supervision": "Kepala Dinas",
            "staff_count": 3,
            "service_guarantee": "Tepat waktu",
            "security_guarantee": "Data dijaga",
            "performance_evaluation": "Tiap semester",
        },
    }
    body.update(changes)
    return body


def test_all_fourteen_components_are_required() -> None:
    create = StandardCreate.model_validate(full_standard())
    components = set(create.delivery.model_dump()) | set(create.management.model_dump())
    assert len(components) == 14
    with pytest.raises(ValidationError) as caught:
        StandardCreate.model_validate(full_standard(delivery={}, management={}))
    assert len([e for e in caught.value.errors() if e["type"] == "missing"]) == 14


@pytest.mark.parametrize(
    ("fee", "message"),
    [({"free": True, "amount_idr": 5000}, "free service"), ({"free": False}, "paid service")],
)
def test_fee_must_be_consistent(fee: dict[str, Any], message: str) -> None:
    body = full_standard()
    body["delivery"]["fee"] = fee
    with pytest.raises(ValidationError, match=message):
        StandardCreate.model_validate(body)


def test_standard_id_is_stable_per_agency_service() -> None:
    assert standard_id("dinkes-kota-ambon", "Penerbitan Surat Izin Praktik (Bidan)") == (
        "dinkes-kota-ambon.penerbitan-surat-izin-praktik-bidan"
    )
    assert standard_id("a-b", "Pelayanan  KTP-el") == standard_id("a-b", "pelayanan ktp el")


def test_completion_time_in_days_for_the_sla() -> None:
    assert completion_days(CompletionTime(amount=5, unit=TimeUnit.WORKING_DAYS)) == 5
    assert completion_days(CompletionTime(amount=30, unit=TimeUnit.HOURS)) == 2
