"""Open311 GeoReport v2 (and the mySociety ``servicerequestupdates`` extension). No I/O.

Services are the platform's complaint categories plus every published service standard
(SIPP). Each service has metadata: the Kemendagri ``region_code`` attribute (routing needs it;
resolved from lat/long when left out) and ``report_type``. Statuses are the spec's
``open``/``closed``; the update feed carries the richer mySociety states. Errors are the
spec's list of ``{code, description}``.
"""

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from schemas.complaint import ComplaintStatus, LifecycleAction, ReportType
from schemas.regions import is_known, locate

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
DEFAULT_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
STANDARD_CATEGORY = "pelayanan"
CLOSED = frozenset({ComplaintStatus.CLOSED, ComplaintStatus.REJECTED, ComplaintStatus.MERGED})
DESCRIPTION_LIMIT = 4000
TITLE_LENGTH = 80

# mySociety extension states for each lifecycle action.
UPDATE_STATES = {
    LifecycleAction.FORWARD: "OPEN",
    LifecycleAction.FORWARD_TO_UNIT: "INTERNAL_REFERRAL",
    LifecycleAction.BOUNCE: "NOT_COUNCILS_RESPONSIBILITY",
    LifecycleAction.REROUTE: "INTERNAL_REFERRAL",
    LifecycleAction.FOLLOW_UP: "IN_PROGRESS",
    LifecycleAction.ANSWER: "ACTION_SCHEDULED",
    LifecycleAction.REPLY: "REOPENED",
    LifecycleAction.ESCALATE: "IN_PROGRESS",
    LifecycleAction.CLOSE: "FIXED",
    LifecycleAction.AUTO_CLOSE: "FIXED",
    LifecycleAction.REJECT: "CLOSED",
    LifecycleAction.MERGE: "DUPLICATE",
    LifecycleAction.DEFER: "OPEN",
    LifecycleAction.COMPLETE: "OPEN",
}


class Open311Error(Exception):
    """An error in the spec's format: HTTP status and description."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass(frozen=True)
class Service:
    """One requestable service."""

    code: str
    name: str
    description: str
    group: str
    keywords: tuple[str, ...] = ()
    category: str = STANDARD_CATEGORY
    standard_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The ``GET /services`` entry."""
        return {
            "service_code": self.code,
            "service_name": self.name,
            "description": self.description,
            "metadata": True,
            "type": "realtime",
            "keywords": ",".join(self.keywords),
            "group": self.group,
        }


def catalog(
    categories: Iterable[Mapping[str, Any]], standards: Iterable[Mapping[str, Any]]
) -> list[Service]:
    """Category services first, then one service per published standard."""
    services = [
        Service(
            code=row["code"],
            name=row["name"],
            description=row["name"],
            group=row["group"],
            keywords=tuple(row.get("keywords", ())),
            category=row["code"],
        )
        for row in categories
    ]
    services += [
        Service(
            code=row["_id"],
            name=row["service_name"],
            description=f"{row['service_name']} ({row['agency_id']})",
            group=f"Standar pelayanan: {row['agency_id']}",
            standard_id=row["_id"],
        )
        for row in standards
    ]
    return services


def definition(service: Service) -> dict[str, Any]:
    """``GET /services/{code}``: the attributes a request of this service carries."""
    return {
        "service_code": service.code,
        "attributes": [
            {
                "variable": True,
                "code": "region_code",
                "datatype": "string",
                "required": False,
                "datatype_description": "Kemendagri region code, e.g. 81.71 (Kota Ambon); "
                "resolved from lat/long when left out",
                "order": 1,
                "description": "Wilayah (provinsi/kabupaten/kota/kecamatan/desa)",
            },
            {
                "variable": True,
                "code": "report_type",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "Default: pengaduan",
                "order": 2,
                "description": "Jenis laporan",
                "values": [{"key": t.value, "name": t.value} for t in ReportType],
            },
        ],
    }


@dataclass(frozen=True)
class NewRequest:
    """A POSTed service request, ready to become a complaint."""

    service: Service
    body: dict[str, Any] = field(repr=False)


def _one(form: Mapping[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    if not values:
        return None
    value = values[-1].strip()
    return value or None


def parse_new_request(form: Mapping[str, list[str]], services: Mapping[str, Service]) -> NewRequest:
    """Read a form-encoded ``POST /requests``; raises Open311Error(400) naming what is wrong."""
    code = _one(form, "service_code")
    if code is None:
        raise Open311Error(400, "service_code is required")
    service = services.get(code)
    if service is None:
        raise Open311Error(400, f"unknown service_code {code!r}")
    lat, long, address = _one(form, "lat"), _one(form, "long"), _one(form, "address_string")
    location = None
    if lat is not None or long is not None:
        try:
            location = {"lat": float(lat or ""), "long": float(long or "")}
        except ValueError as exc:
            raise Open311Error(400, "lat and long must both be decimal degrees") from exc
    if location is None and address is None:
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    region = _one(form, "attribute[region_code]")
    if location is not None:
        located = locate(location["lat"], location["long"])
        if not located.inside:
            raise Open311Error(400, "lat/long: the location lies outside Indonesia")
        region = region or located.region_code
    if region is None or not is_known(region):
        raise Open311Error(
            400, "attribute[region_code] must be a Kemendagri region code (or give lat and long)"
        )
    description = _one(form, "description") or ""
    if len(description) > DESCRIPTION_LIMIT:
        raise Open311Error(400, f"description is longer than {DESCRIPTION_LIMIT} characters")
    report_type = _one(form, "attribute[report_type]") or ReportType.PENGADUAN.value
    if report_type not in {t.value for t in ReportType}:
        raise Open311Error(
            400, f"attribute[report_type] must be one of {[t.value for t in ReportType]}"
        )
    name = " ".join(filter(None, (_one(form, "first_name"), _one(form, "last_name")))) or None
    title = (
        description if len(description) <= TITLE_LENGTH else description[: TITLE_LENGTH - 1] + "…"
    )
    body: dict[str, Any] = {
        "title": title or service.name,
        "body": description,
        "category": service.category,
        "region_code": region,
        "report_type": report_type,
        "location": location,
        "address": address,
        "reporter": {"name": name, "email": _one(form, "email"), "phone": _one(form, "phone")},
        "channel": "integration",
        "service_standard_id": service.standard_id,
    }
    return NewRequest(service=service, body=body)


def _w3c(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Open311Error(
            400, f"{name} must be a W3C datetime, e.g. 2026-01-01T00:00:00Z"
        ) from exc
    if moment.tzinfo is None:
        raise Open311Error(400, f"{name} needs a time zone (Z or +07:00)")
    return moment.astimezone(UTC)


def window(start: str | None, end: str | None, *, now: datetime) -> tuple[datetime, datetime]:
    """The requested_datetime range: the last 90 days unless given, never longer than 90."""
    until = _w3c(end, "end_date") if end else now
    since = _w3c(start, "start_date") if start else until - DEFAULT_WINDOW
    if since > until:
        raise Open311Error(400, "start_date is after end_date")
    if until - since > DEFAULT_WINDOW:
        raise Open311Error(400, "the date range may not span more than 90 days")
    return since, until


def statuses(value: str | None) -> set[str]:
    """``status`` filter: open, closed or both (comma-separated)."""
    if value is None:
        return {"open", "closed"}
    wanted = {part.strip().lower() for part in value.split(",") if part.strip()}
    if not wanted or not wanted <= {"open", "closed"}:
        raise Open311Error(400, "status must be open, closed, or both comma-separated")
    return wanted


def status_of(record: Mapping[str, Any]) -> str:
    """The spec's two-valued status."""
    return "closed" if ComplaintStatus(record["status"]) in CLOSED else "open"


def _stamp(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def request_view(
    record: Mapping[str, Any], services: Mapping[str, Service], *, public: bool
) -> dict[str, Any]:
    """One request as the spec shows it; no reporter data; text only for public reports."""
    code = record.get("service_standard_id") or record["category"]
    service = services.get(code)
    notes = None
    for entry in reversed(record.get("history", [])):
        if entry["action"] in (LifecycleAction.FOLLOW_UP.value, LifecycleAction.ANSWER.value):
            notes = entry.get("text")
            break
    location = record.get("location") or {}
    completion = (record.get("deadlines") or {}).get("completion") or {}
    return {
        "service_request_id": record["_id"],
        "status": status_of(record),
        "status_notes": notes if public else None,
        "service_name": service.name if service else code,
        "service_code": code,
        "description": record["body"] if public else None,
        "agency_responsible": (record.get("agency") or {}).get("name"),
        "service_notice": None,
        "requested_datetime": _stamp(record["submitted_at"]),
        "updated_datetime": _stamp(record["updated_at"]),
        "expected_datetime": _stamp(completion.get("due_at")),
        "address": record.get("address") if public else None,
        "address_id": None,
        "zipcode": None,
        "lat": location.get("lat"),
        "long": location.get("long"),
        "media_url": None,
    }


def updates(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``GET /servicerequestupdates`` entries of one public request."""
    out = []
    for index, entry in enumerate(record.get("history", [])[1:], start=1):
        action = LifecycleAction(entry["action"])
        public_text = action in (LifecycleAction.FOLLOW_UP, LifecycleAction.ANSWER)
        out.append(
            {
                "update_id": f"{record['_id']}-{index}",
                "service_request_id": record["_id"],
                "status": UPDATE_STATES.get(action, "OPEN"),
                "updated_datetime": _stamp(entry["at"]),
                "description": entry.get("text") if public_text else None,
                "media_url": None,
            }
        )
    return out


def render(fmt: str, root: str, item: str, items: list[dict[str, Any]]) -> tuple[bytes, str]:
    """A list response in JSON or in the spec's XML shape."""
    if fmt == "json":
        return json.dumps(items, ensure_ascii=False).encode(), "application/json"
    element = ET.Element(root)
    for entry in items:
        _append(element, item, entry)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True), "text/xml; charset=utf-8"


def _append(parent: ET.Element, name: str, value: Any) -> None:
    child = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, list):
                holder = ET.SubElement(child, key)
                for element in inner:
                    _append(holder, key.rstrip("s") or key, element)
            else:
                _append(child, key, inner)
    elif value is None:
        return
    elif isinstance(value, bool):
        child.text = "true" if value else "false"
    else:
        child.text = str(value)


def render_one(fmt: str, root: str, document: dict[str, Any]) -> tuple[bytes, str]:
    """A single-object response (discovery, service definition)."""
    if fmt == "json":
        return json.dumps(document, ensure_ascii=False).encode(), "application/json"
    holder = ET.Element("_")
    _append(holder, root, document)
    return ET.tostring(holder[0], encoding="utf-8", xml_declaration=True), "text/xml; charset=utf-8"


def render_errors(fmt: str, status: int, description: str) -> tuple[bytes, str]:
    """The spec's error list."""
    return render(fmt, "errors", "error", [{"code": status, "description": description}])


def window_contains(stamp: str | None, since: datetime, until: datetime) -> bool:
    """Whether a rendered timestamp lies in the window."""
    return stamp is not None and since <= _w3c(stamp, "updated_datetime") <= until
