"""What the portal shows, worked out from what the services answer. No I/O.

Times are shown in the zone of the report's place (WIB, WITA or WIT), deadlines as working days
left on the national calendar, and an officer is offered only the actions the lifecycle rules
give their role from the report's status (the API refuses the others anyway).
"""

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from schemas.complaint import LifecycleAction as A
from schemas.complaint import Role
from schemas.regions import local_time, provinces, regencies, region_name, time_zone_of
from services.intake.lifecycle import NEEDS_REASON, NEEDS_TEXT, RULES
from services.sla.calendar import WorkingCalendar

FALLBACK_ZONE = "Asia/Jakarta"
DUE_SOON_WORKING_DAYS = 2
# What a person can ask of the console with the fields its forms have.
OFFERED = (
    A.FOLLOW_UP,
    A.ANSWER,
    A.FORWARD_TO_UNIT,
    A.BOUNCE,
    A.CLOSE,
    A.DEFER,
    A.REJECT,
    A.FORWARD,
    A.REROUTE,
    A.ESCALATE,
)
ATTACHMENT_ROWS = 2
ATTACHMENT_FIELDS = ("filename", "content_type", "size_kb", "url")
NEW = ("submitted", "forwarded_to_agency", "forwarded_to_unit", "escalated", "bounced")
IN_FOLLOW_UP = ("in_follow_up", "reopened")


def zone_of(report: Mapping[str, Any]) -> str:
    return time_zone_of(str(report.get("region_code", ""))) or FALLBACK_ZONE


def when(moment: str | datetime | None, zone: str) -> str:
    """An API timestamp in the reader's zone: ``02-12-2026 16:00 WITA``."""
    if moment is None:
        return ""
    at = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return local_time(at, zone)


def place(region_code: str) -> str:
    return region_name(region_code) or region_code


def working_days_left(due_at: str, now: datetime, calendar: WorkingCalendar) -> int:
    """Working days from today to the deadline's day, in the deadline's zone; negative once
    it has passed."""
    due = datetime.fromisoformat(due_at)
    zone = due.tzinfo
    today, last = now.astimezone(zone).date(), due.date()
    if due <= now:
        return -max(calendar.working_days_between(last, today), 1)
    return calendar.working_days_between(today, last)


def queue_of(report: Mapping[str, Any], now: datetime, calendar: WorkingCalendar) -> str:
    """Which of the console's queues a report is in: breached, due soon, new, in follow-up,
    or done."""
    deadline = report.get("deadline")
    if deadline and report["status"] not in ("answered", "closed", "rejected", "merged"):
        left = working_days_left(deadline["due_at"], now, calendar)
        if left < 0:
            return "breached"
        if left <= DUE_SOON_WORKING_DAYS:
            return "due_soon"
    if report["status"] in NEW:
        return "new"
    if report["status"] in IN_FOLLOW_UP:
        return "in_follow_up"
    return "done"


def queues(
    reports: Iterable[Mapping[str, Any]], now: datetime, calendar: WorkingCalendar
) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {
        name: [] for name in ("new", "in_follow_up", "due_soon", "breached", "done")
    }
    for report in reports:
        grouped[queue_of(report, now, calendar)].append(report)
    return grouped


def actions_for(role: str | None, status: str) -> list[dict[str, Any]]:
    """The actions the role may take from this status, with what each form must ask for."""
    if role is None:
        return []
    who = Role(role)
    offered = []
    for action in OFFERED:
        if any(who in rule.roles and status in rule.sources for rule in RULES[action]):
            offered.append(
                {
                    "action": action.value,
                    "needs_text": action in NEEDS_TEXT,
                    "needs_reason": action in NEEDS_REASON,
                    "needs_agency": action in (A.FORWARD, A.REROUTE),
                    "needs_unit": action is A.FORWARD_TO_UNIT,
                    "needs_rejection": action is A.REJECT,
                }
            )
    return offered


def citizen_may(action: A, status: str) -> bool:
    return any(Role.CITIZEN in rule.roles and status in rule.sources for rule in RULES[action])


def action_body(action: str, form: Mapping[str, str]) -> dict[str, Any]:
    """The API's action request from a console form (empty fields left out)."""
    body: dict[str, Any] = {"action": action}
    for name in ("text", "reason", "agency_id", "unit_id", "rejection"):
        value = (form.get(name) or "").strip()
        if value:
            body[name] = value
    return body


def report_body(form: Mapping[str, str]) -> dict[str, Any]:
    """The API's submission from the filing form: the portal checks nothing the API checks."""
    report: dict[str, Any] = {
        "title": form.get("title", ""),
        "body": form.get("body", ""),
        "category": form.get("category", ""),
        "report_type": form.get("report_type", ""),
        "anonymous": form.get("anonymous") == "on",
        "confidential": form.get("confidential") == "on",
        "reporter": {
            k: v.strip() for k in ("name", "email", "phone") if (v := form.get(k) or "").strip()
        },
    }
    if (form.get("region_code") or "").strip():
        report["region_code"] = form["region_code"].strip()
    if (form.get("address") or "").strip():
        report["address"] = form["address"].strip()
    attachments = [
        attachment for n in range(1, ATTACHMENT_ROWS + 1) if (attachment := _attachment(form, n))
    ]
    if attachments:
        report["attachments"] = attachments
    lat, long = (form.get("lat") or "").strip(), (form.get("long") or "").strip()
    if lat and long:
        report["location"] = {"lat": number(lat), "long": number(long)}
    return report


def _attachment(form: Mapping[str, str], n: int) -> dict[str, Any] | None:
    """Row ``n`` of the form's attachment descriptions (the file itself is in the agency's
    object storage, as the API expects); None when the row is empty."""
    fields = {k: (form.get(f"attachment_{n}_{k}") or "").strip() for k in ATTACHMENT_FIELDS}
    if not fields["url"]:
        return None
    size = number(fields["size_kb"])
    return {
        "filename": fields["filename"],
        "content_type": fields["content_type"],
        "size_bytes": int(size * 1024) if isinstance(size, float) else size,
        "url": fields["url"],
    }


def number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # the API names the field


def provinces_and_regencies() -> Sequence[tuple[str, str]]:
    """(code, name) of every province and regency/city, for the region picker."""
    rows = [(code, p.name) for code, p in provinces().items()]
    rows += list(regencies().items())
    return sorted(rows)
