"""What intake accepts from a citizen, and what it refuses before touching storage."""

import re
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.complaint import TRACKING_ID_PATTERN
from services.intake.domain import ComplaintCreate, location_flags, new_tracking_id

pytestmark = pytest.mark.reliability

VALID: dict[str, Any] = {
    "title": "Antrean puskesmas",
    "body": "Antrean tidak dilayani sejak pagi",
    "category": "kesehatan.puskesmas",
    "region_code": "81.71",
    "report_type": "pengaduan",
    "reporter": {"phone": "+6281234567890"},
}


PHOTO: dict[str, Any] = {
    "filename": "lubang.jpg",
    "content_type": "image/jpeg",
    "size_bytes": 2_000_000,
    "url": "https://files.lapor.example/lubang.jpg",
}


def errors_for(**changes: Any) -> list[tuple[str, str]]:
    body = {**VALID, **changes}
    with pytest.raises(ValidationError) as caught:
        ComplaintCreate.model_validate(body)
    return [(".".join(map(str, e["loc"])), e["type"]) for e in caught.value.errors()]


def test_attachments_within_limits_are_accepted() -> None:
    create = ComplaintCreate.model_validate({**VALID, "attachments": [PHOTO] * 5})
    assert len(create.attachments) == 5


def test_a_valid_complaint_is_accepted_with_defaults() -> None:
    create = ComplaintCreate.model_validate(VALID)
    assert create.anonymous is False and create.confidential is False
    assert create.channel.value == "web"


@pytest.mark.parametrize(
    ("changes", "field", "kind"),
    [
        ({"title": {"$gt": ""}}, "title", "string_type"),
        ({"category": {"$ne": None}}, "category", "string_type"),
        ({"category": "$where"}, "category", "string_pattern_mismatch"),
        ({"reporter": {"email": {"$gt": ""}}}, "reporter.email", "string_type"),
        ({"$where": "sleep(1000)"}, "$where", "extra_forbidden"),
        ({"report_type": "gugatan"}, "report_type", "enum"),
        ({"region_code": "99"}, "region_code", "value_error"),
        ({"region_code": "81-71"}, "region_code", "string_pattern_mismatch"),
        ({"title": "x" * 201}, "title", "string_too_long"),
        ({"reporter": {"name": "Anon"}}, "reporter", "value_error"),
        ({"anonymous": "maybe"}, "anonymous", "bool_parsing"),
        ({"attachments": [PHOTO] * 6}, "attachments", "too_long"),
        (
            {"attachments": [{**PHOTO, "size_bytes": 10 * 1024 * 1024 + 1}]},
            "attachments.0.size_bytes",
            "less_than_equal",
        ),
        (
            {"attachments": [{**PHOTO, "content_type": "application/x-msdownload"}]},
            "attachments.0.content_type",
            "value_error",
        ),
        (
            {"attachments": [{**PHOTO, "filename": "../../etc/passwd"}]},
            "attachments.0.filename",
            "string_pattern_mismatch",
        ),
        (
            {"attachments": [{**PHOTO, "url": "javascript:alert(1)"}]},
            "attachments.0.url",
            "string_pattern_mismatch",
        ),
        (
            {"attachments": [{**PHOTO, "exif": {"$gt": ""}}]},
            "attachments.0.exif",
            "extra_forbidden",
        ),
    ],
)
def test_bad_fields_are_refused_by_name(changes: dict[str, Any], field: str, kind: str) -> None:
    assert (field, kind) in errors_for(**changes)


def test_missing_fields_are_each_named() -> None:
    with pytest.raises(ValidationError) as caught:
        ComplaintCreate.model_validate({})
    missing = {e["loc"][0] for e in caught.value.errors() if e["type"] == "missing"}
    assert missing == {"title", "body", "category", "region_code", "report_type", "reporter"}


def test_tracking_ids_are_well_formed_and_distinct() -> None:
    ids = {new_tracking_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(TRACKING_ID_PATTERN, i) for i in ids)


def test_fingerprint_tells_different_requests_apart() -> None:
    a = ComplaintCreate.model_validate(VALID)
    b = ComplaintCreate.model_validate({**VALID, "title": "Antrean puskesmas 2"})
    assert a.fingerprint() == ComplaintCreate.model_validate(VALID).fingerprint()
    assert a.fingerprint() != b.fingerprint()


def test_without_region_code_the_location_places_the_complaint() -> None:
    # A point in Kota Ambon; another near Bukittinggi, Sumatera Barat.
    ambon = ComplaintCreate.model_validate(
        {**VALID, "region_code": "", "location": {"lat": -3.70, "long": 128.17}}
    )
    assert ambon.region_code == "81.71"
    near = {k: v for k, v in VALID.items() if k != "region_code"}
    bukittinggi = ComplaintCreate.model_validate(
        {**near, "location": {"lat": -0.30, "long": 100.37}}
    )
    assert bukittinggi.region_code == "13.75"
    # A region the reporter names wins over the point.
    named = ComplaintCreate.model_validate({**VALID, "location": {"lat": -0.30, "long": 100.37}})
    assert named.region_code == "81.71"


def test_a_regency_code_must_exist_where_the_regencies_are_known() -> None:
    with pytest.raises(ValidationError, match="no regency or city of Maluku"):
        ComplaintCreate.model_validate({**VALID, "region_code": "81.99"})
    with pytest.raises(ValidationError) as caught:
        ComplaintCreate.model_validate({**{k: v for k, v in VALID.items() if k != "region_code"}})
    [error] = caught.value.errors()
    assert (error["loc"], error["type"]) == (("region_code",), "missing")
    assert "location" in error["msg"]


def test_an_unknown_category_is_refused_by_name_and_a_group_is_accepted() -> None:
    assert errors_for(category="foo.bar_baz") == [("category", "value_error")]
    assert ComplaintCreate.model_validate({**VALID, "category": "pelayanan"}).category == (
        "pelayanan"
    )


def test_a_point_outside_indonesia_is_refused_on_the_location() -> None:
    kuala_lumpur = {"lat": 3.139, "long": 101.6869}
    assert errors_for(location=kuala_lumpur) == [("location", "value_error")]
    assert ("location", "value_error") in errors_for(location=kuala_lumpur, region_code="")


def test_a_location_in_another_region_than_the_code_is_flagged_for_the_verifier() -> None:
    bandung = {"lat": -6.9175, "long": 107.6191}
    placed = ComplaintCreate.model_validate({**VALID, "region_code": "", "location": bandung})
    assert placed.region_code == "32.73"
    assert location_flags(placed) == []
    contradicted = ComplaintCreate.model_validate({**VALID, "location": bandung})
    assert contradicted.region_code == "81.71"  # the code given stands
    [flag] = location_flags(contradicted)
    assert flag["code"] == "location_mismatch"
    assert "Kota Bandung (32.73)" in flag["detail"] and "Kota Ambon" in flag["detail"]
    ambon = {"lat": -3.6954, "long": 128.1814}
    assert location_flags(ComplaintCreate.model_validate({**VALID, "location": ambon})) == []
