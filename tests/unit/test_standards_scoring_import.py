"""Completeness scores and zones, and the bulk import's row-level checks."""

import io
from typing import Any

import pytest
from openpyxl import Workbook

from services.standards.domain import StandardCreate
from services.standards.importing import COLUMNS, UnreadableFile, parse, read_rows, to_row
from services.standards.scoring import Thresholds, agency_scores, score
from tests.factories import standard_row, standards_csv
from tests.unit.test_standards_domain import full_standard

ZONES = Thresholds(green=90, yellow=60)


def xlsx_bytes(rows: list[dict[str, Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(COLUMNS))
    for item in rows:
        sheet.append([item.get(c) for c in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_complete_published_standard_is_green_and_placeholders_count_as_missing() -> None:
    complete = StandardCreate.model_validate(full_standard())
    assert score("s", complete, published=True, zones=ZONES).zone == "green"
    assert score("s", complete, published=True, zones=ZONES).score == 100
    drafted = score("s", complete, published=False, zones=ZONES)
    assert drafted.missing == ("publikasi",) and drafted.score < 100
    sloppy = full_standard(pledge="-")
    sloppy["management"] |= {"staff_competence": "-", "internal_supervision": "belum ada"}
    sloppy["delivery"] |= {"complaint_handling": "n/a"}
    graded = score("s", StandardCreate.model_validate(sloppy), published=True, zones=ZONES)
    assert set(graded.missing) == {
        "kompetensi pelaksana",
        "pengawasan internal",
        "penanganan pengaduan, saran dan masukan",
        "maklumat pelayanan",
    }
    assert graded.zone == "yellow" and graded.score == 75.0


def test_agency_score_is_the_mean_with_counts_per_zone() -> None:
    good = score("a.x", StandardCreate.model_validate(full_standard()), published=True, zones=ZONES)
    poor = score(
        "a.y", StandardCreate.model_validate(full_standard()), published=False, zones=ZONES
    )
    poor = type(poor)(poor.standard_id, 40.0, "red", poor.missing)
    [agency] = agency_scores([("a", good), ("a", poor)], ZONES)
    assert (agency.standards, agency.score, agency.zone) == (2, 70.0, "yellow")
    assert agency.by_zone == {"green": 1, "yellow": 0, "red": 1}


@pytest.mark.parametrize("kind", ["csv", "csv;", "xlsx"])
def test_good_files_parse_into_standards(kind: str) -> None:
    rows = [
        standard_row(),
        standard_row(
            service_name="Penerbitan Akta Kelahiran", fee_free="tidak", fee_amount_idr="10000"
        ),
    ]
    if kind == "xlsx":
        content, media = (
            xlsx_bytes(rows),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        content, media = standards_csv(rows, delimiter=kind[3:] or ","), "text/csv"
    standards, errors = parse(read_rows(content, media))
    assert errors == []
    [(row_1, kk), (row_2, akta)] = standards
    assert (row_1, row_2) == (2, 3)
    assert kk.delivery.procedure == ["Isi formulir", "Verifikasi", "Cetak KK"]
    assert kk.delivery.requirements == ["Formulir F-1.01", "KTP-el kepala keluarga"]
    assert kk.delivery.fee.free is True and akta.delivery.fee.amount_idr == 10_000
    assert kk.management.legal_basis == ["UU 24/2013", "Perpres 96/2018"]


def test_every_bad_row_is_named_with_its_field_and_nothing_is_returned() -> None:
    rows = [
        standard_row(),
        standard_row(service_name="Akta", effective_date="31-02-2026"),
        {},  # a blank line is skipped, but the rows after it keep their numbers
        standard_row(service_name="Surat Pindah", completion_time_unit="weeks", fee_free="mungkin"),
        standard_row(service_name="Penerbitan Kartu Keluarga"),  # the same service as row 2
        standard_row(service_name="KIA", region_code="13.99", staff_count="banyak"),
    ]
    standards, errors = parse(read_rows(standards_csv(rows), "text/csv"))
    assert standards == []
    found = {(e.row, e.field) for e in errors}
    assert {
        (3, "effective_date"),
        (5, "completion_time_unit"),
        (5, "fee_free"),
        (6, "service_name"),
        (7, "region_code"),
        (7, "staff_count"),
    } <= found
    assert all(e.row != 2 for e in errors)
    assert next(e for e in errors if e.row == 6).message == "the same service as row 2"


@pytest.mark.parametrize(
    ("content", "media", "message"),
    [
        (b"\xff\xfe\x00garbage", "text/csv", "UTF-8"),
        (b"agency_id,service_name\nx,y\n", "text/csv", "missing columns"),
        (standards_csv([standard_row()]).replace(b"pledge", b"janji"), "text/csv", "janji"),
        (b"PK\x03\x04 not really a zip", "application/octet-stream", "xlsx"),
        (b"{}", "application/json", "text/csv or an .xlsx"),
        (b"", "text/csv", "empty"),
    ],
)
def test_unreadable_files_are_refused_whole(content: bytes, media: str, message: str) -> None:
    with pytest.raises(UnreadableFile, match=message):
        read_rows(content, media)


@pytest.mark.parametrize("free", [True, False])
def test_a_standard_written_as_a_row_reads_back_as_the_same_standard(free: bool) -> None:
    original = StandardCreate.model_validate(full_standard())
    if not free:
        fee = {"free": False, "amount_idr": 150_000, "basis": "Perda 3/2025"}
        delivery = original.delivery.model_copy(update={"fee": type(original.delivery.fee)(**fee)})
        original = original.model_copy(update={"delivery": delivery})
    row = to_row(original.model_dump(mode="json"))
    assert set(row) == set(COLUMNS)
    [(_, read)], errors = parse([row])
    assert errors == []
    assert read == original
