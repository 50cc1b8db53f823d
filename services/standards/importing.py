"""Bulk import of service standards from CSV or XLSX: one row per standard, every row checked,
every error named by row and field. No I/O beyond reading the bytes given.

Columns (header row, any order; names are case-insensitive): ``agency_id``, ``agency_name``,
``unit_id``, ``region_code``, ``service_name``, ``decree_number``, ``effective_date``
(YYYY-MM-DD), ``pledge``, ``requirements``, ``procedure`` (items on separate lines, or
separated by ``;``, in order), ``completion_time_amount``, ``completion_time_unit`` (hours,
days, working_days), ``fee_free`` (ya/tidak, yes/no, true/false), ``fee_amount_idr``,
``fee_basis``, ``product``, ``complaint_handling``, ``legal_basis``, ``facilities`` (lists),
``staff_competence``, ``internal_supervision``, ``staff_count``, ``service_guarantee``,
``security_guarantee``, ``performance_evaluation``.
"""

import contextlib
import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook
from pydantic import ValidationError

from services.standards.domain import StandardCreate, standard_id

MAX_ROWS = 2_000
ROW = "#row"
LIST_COLUMNS = ("requirements", "procedure", "legal_basis", "facilities")
COLUMNS = (
    "agency_id",
    "agency_name",
    "unit_id",
    "region_code",
    "service_name",
    "decree_number",
    "effective_date",
    "pledge",
    "requirements",
    "procedure",
    "completion_time_amount",
    "completion_time_unit",
    "fee_free",
    "fee_amount_idr",
    "fee_basis",
    "product",
    "complaint_handling",
    "legal_basis",
    "facilities",
    "staff_competence",
    "internal_supervision",
    "staff_count",
    "service_guarantee",
    "security_guarantee",
    "performance_evaluation",
)
REQUIRED_COLUMNS = frozenset(COLUMNS) - {
    "agency_name",
    "unit_id",
    "region_code",
    "pledge",
    "fee_basis",
}
TRUE, FALSE = {"ya", "yes", "true", "1", "gratis"}, {"tidak", "no", "false", "0", "berbayar"}
# Where each field of the model came from, to name the column in an error.
FIELD_COLUMNS = {
    ("delivery", "completion_time", "amount"): "completion_time_amount",
    ("delivery", "completion_time", "unit"): "completion_time_unit",
    ("delivery", "fee", "free"): "fee_free",
    ("delivery", "fee", "amount_idr"): "fee_amount_idr",
    ("delivery", "fee", "basis"): "fee_basis",
}


@dataclass(frozen=True)
class RowError:
    """What is wrong, where: the spreadsheet row (the header is row 1) and the column."""

    row: int
    field: str
    message: str


class UnreadableFile(ValueError):
    """Not a CSV or XLSX file this importer can read (or no header, or too many rows)."""


def read_rows(content: bytes, media_type: str) -> list[dict[str, str]]:
    """The rows of a CSV or XLSX file as column -> text (empty cells are "")."""
    if "spreadsheetml" in media_type or content[:2] == b"PK":
        table = _xlsx(content)
    elif media_type.startswith("text/csv") or media_type in ("text/plain", "application/csv"):
        table = _csv(content)
    else:
        raise UnreadableFile(f"send text/csv or an .xlsx workbook, not {media_type!r}")
    if not table:
        raise UnreadableFile("the file is empty")
    header = [re.sub(r"\s+", "_", str(h or "").strip().lower()) for h in table[0]]
    missing = sorted(REQUIRED_COLUMNS - set(header))
    if missing:
        raise UnreadableFile(f"missing columns: {', '.join(missing)}")
    unknown = sorted(set(header) - set(COLUMNS) - {""})
    if unknown:
        raise UnreadableFile(f"unknown columns: {', '.join(unknown)}")
    # Keep each row's number in the file (the header is row 1) for the error report.
    rows = [
        (number, row)
        for number, row in enumerate(table[1:], start=2)
        if any(str(cell or "").strip() for cell in row)
    ]
    if len(rows) > MAX_ROWS:
        raise UnreadableFile(f"at most {MAX_ROWS} rows per import")
    return [
        {ROW: str(number)}
        | {name: _text(row[i]) if i < len(row) else "" for i, name in enumerate(header) if name}
        for number, row in rows
    ]


def _csv(content: bytes) -> list[list[Any]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile("a CSV file must be UTF-8") from exc
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel
    with contextlib.suppress(csv.Error):  # one column, or the sniffer gave up: a comma
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    return [list(row) for row in csv.reader(io.StringIO(text), dialect)]


def _xlsx(content: bytes) -> list[list[Any]]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise UnreadableFile("not a readable .xlsx workbook") from exc
    sheet = workbook.worksheets[0]
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    workbook.close()
    return table


def _text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, datetime):
        return cell.date().isoformat()
    if isinstance(cell, date):
        return cell.isoformat()
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _items(text: str) -> list[str]:
    parts = re.split(r"\r?\n|;", text)
    return [re.sub(r"^\s*(\d+[.)]|[-*•])\s*", "", part).strip() for part in parts if part.strip()]


def _flag(text: str) -> bool | str:
    lowered = text.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    return text  # left for the model to refuse, with its message


def to_standard(row: dict[str, str]) -> dict[str, Any]:
    """The model's shape of one row (values still unchecked)."""
    value = {k: (v if v != "" else None) for k, v in row.items() if k != ROW}
    fee_free = _flag(row.get("fee_free", ""))
    return {
        "agency_id": value.get("agency_id"),
        "agency_name": value.get("agency_name"),
        "unit_id": value.get("unit_id"),
        "region_code": value.get("region_code"),
        "service_name": value.get("service_name"),
        "decree_number": value.get("decree_number"),
        "effective_date": value.get("effective_date"),
        "pledge": value.get("pledge"),
        "delivery": {
            "requirements": _items(row.get("requirements", "")),
            "procedure": _items(row.get("procedure", "")),
            "completion_time": {
                "amount": value.get("completion_time_amount"),
                "unit": value.get("completion_time_unit"),
            },
            "fee": {
                "free": fee_free,
                "amount_idr": value.get("fee_amount_idr") or 0,
                "basis": value.get("fee_basis"),
            },
            "product": value.get("product"),
            "complaint_handling": value.get("complaint_handling"),
        },
        "management": {
            "legal_basis": _items(row.get("legal_basis", "")),
            "facilities": _items(row.get("facilities", "")),
            "staff_competence": value.get("staff_competence"),
            "internal_supervision": value.get("internal_supervision"),
            "staff_count": value.get("staff_count"),
            "service_guarantee": value.get("service_guarantee"),
            "security_guarantee": value.get("security_guarantee"),
            "performance_evaluation": value.get("performance_evaluation"),
        },
    }


def _column(loc: tuple[int | str, ...]) -> str:
    parts = tuple(str(p) for p in loc)
    if parts[:3] in FIELD_COLUMNS:
        return FIELD_COLUMNS[parts[:3]]  # type: ignore[index]
    if len(parts) >= 2 and parts[0] in ("delivery", "management"):
        return parts[1]
    return parts[0] if parts else "row"


def parse(
    rows: list[dict[str, str]],
) -> tuple[list[tuple[int, StandardCreate]], list[RowError]]:
    """Every row checked; (row, standard) for each when all are valid, else every error."""
    standards: list[tuple[int, StandardCreate]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for position, row in enumerate(rows, start=2):
        index = int(row.get(ROW, position))
        try:
            standard = StandardCreate.model_validate(to_standard(row))
        except ValidationError as exc:
            errors += [
                RowError(index, _column(e["loc"]), e["msg"])
                for e in exc.errors(include_url=False, include_context=False)
            ]
            continue
        sid = standard_id(standard.agency_id, standard.service_name)
        if sid in seen:
            errors.append(RowError(index, "service_name", f"the same service as row {seen[sid]}"))
            continue
        seen[sid] = index
        standards.append((index, standard))
    return (standards, errors) if not errors else ([], errors)


def to_row(standard: dict[str, Any]) -> dict[str, str]:
    """One standard as a row of the import file, every column (what ``to_standard`` reads
    back): lists one item per line, the fee's flag as ``ya``/``tidak``."""
    delivery, management = standard["delivery"], standard["management"]

    def text(value: Any) -> str:
        return "" if value is None else str(value)

    fee = delivery["fee"]
    return {
        "agency_id": text(standard.get("agency_id")),
        "agency_name": text(standard.get("agency_name")),
        "unit_id": text(standard.get("unit_id")),
        "region_code": text(standard.get("region_code")),
        "service_name": text(standard.get("service_name")),
        "decree_number": text(standard.get("decree_number")),
        "effective_date": text(standard.get("effective_date")),
        "pledge": text(standard.get("pledge")),
        "requirements": "\n".join(delivery["requirements"]),
        "procedure": "\n".join(delivery["procedure"]),
        "completion_time_amount": text(delivery["completion_time"]["amount"]),
        "completion_time_unit": text(delivery["completion_time"]["unit"]),
        "fee_free": "ya" if fee["free"] else "tidak",
        "fee_amount_idr": "" if fee["free"] else text(fee.get("amount_idr")),
        "fee_basis": text(fee.get("basis")),
        "product": text(delivery["product"]),
        "complaint_handling": text(delivery["complaint_handling"]),
        "legal_basis": "\n".join(management["legal_basis"]),
        "facilities": "\n".join(management["facilities"]),
        "staff_competence": text(management["staff_competence"]),
        "internal_supervision": text(management["internal_supervision"]),
        "staff_count": text(management["staff_count"]),
        "service_guarantee": text(management["service_guarantee"]),
        "security_guarantee": text(management["security_guarantee"]),
        "performance_evaluation": text(management["performance_evaluation"]),
    }
