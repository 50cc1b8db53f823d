"""Who hears what, through which channel, with which template. No I/O.

Anonim reporters are never named to an agency: the agency's copy says "Anonim" whatever the
stored contact holds.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from schemas.complaint import ReporterContact
from schemas.envelope import EventPayload
from schemas.events import (
    ComplaintRouted,
    ComplaintSubmitted,
    RecipientRole,
    SlaDeadlineSet,
    SlaStage,
)

ANONYMOUS_DISPLAY = "Anonim"
STAGE_LABELS = {
    SlaStage.FIRST_FOLLOW_UP: "tindak lanjut pertama",
    SlaStage.COMPLETION: "penyelesaian",
}
AGENCY_CHANNEL = "inbox"


@dataclass(frozen=True)
class ComplaintContact:
    """What notify keeps about a complaint in order to address people about it."""

    complaint_id: str
    title: str
    category: str
    region_code: str
    report_type: str
    anonymous: bool
    reporter: ReporterContact
    agency_id: str | None = None
    agency_name: str | None = None


@dataclass(frozen=True)
class PlannedMessage:
    """One message to one recipient on one channel."""

    recipient_role: RecipientRole
    recipient: str
    channel: str
    address: str | None
    template: str
    context: dict[str, Any] = field(default_factory=dict)

    def key(self, event_id: str) -> str:
        """One message per (event, recipient, channel): the dedup key."""
        return f"{event_id}:{self.recipient_role.value}:{self.recipient}:{self.channel}"


def complainant_channel(reporter: ReporterContact) -> tuple[str, str | None]:
    """The reporter's own channel: email when given, else SMS, else the in-app inbox."""
    if reporter.email is not None:
        return "email", str(reporter.email)
    if reporter.phone is not None:
        return "sms", reporter.phone
    return "inbox", None


def contact_from(submitted: ComplaintSubmitted) -> ComplaintContact:
    """What to remember of a submitted complaint."""
    return ComplaintContact(
        complaint_id=submitted.complaint_id,
        title=submitted.title,
        category=submitted.category,
        region_code=submitted.region_code,
        report_type=submitted.report_type.value,
        anonymous=submitted.anonymous,
        reporter=submitted.reporter,
    )


def plan(payload: EventPayload, contact: ComplaintContact | None) -> list[PlannedMessage]:
    """The messages an event calls for."""
    if contact is None:
        return []
    base: dict[str, Any] = {
        "tracking_id": contact.complaint_id,
        "title": contact.title,
        "category": contact.category,
        "region_code": contact.region_code,
        "report_type": contact.report_type,
    }
    channel, address = complainant_channel(contact.reporter)
    if isinstance(payload, ComplaintSubmitted):
        return [
            PlannedMessage(
                RecipientRole.COMPLAINANT,
                "complainant",
                channel,
                address,
                "complaint_submitted",
                {**base, "submitted_at": _local(payload.submitted_at, "Asia/Jakarta")},
            )
        ]
    if isinstance(payload, ComplaintRouted) and not payload.proposal:
        # A proposal reaches nobody outside the national admin until it is confirmed.
        routed = {**base, "agency_name": payload.agency_name}
        reporter_display = (
            ANONYMOUS_DISPLAY if contact.anonymous else (contact.reporter.name or "(tanpa nama)")
        )
        return [
            PlannedMessage(
                RecipientRole.COMPLAINANT,
                "complainant",
                channel,
                address,
                "complaint_forwarded",
                routed,
            ),
            PlannedMessage(
                RecipientRole.AGENCY,
                payload.agency_id,
                AGENCY_CHANNEL,
                None,
                "agency_new_assignment",
                {**routed, "reporter_display": reporter_display},
            ),
        ]
    if isinstance(payload, SlaDeadlineSet) and payload.agency_id is not None:
        return [
            PlannedMessage(
                RecipientRole.AGENCY,
                payload.agency_id,
                AGENCY_CHANNEL,
                None,
                "agency_deadline_set",
                {
                    **base,
                    "stage_label": STAGE_LABELS[payload.stage],
                    "due_local": _local(payload.due_at, payload.time_zone),
                    "working_days": payload.working_days,
                },
            )
        ]
    return []


def _local(moment: datetime, time_zone: str) -> str:
    local = moment.astimezone(ZoneInfo(time_zone))
    return local.strftime("%d-%m-%Y %H:%M ") + (local.tzname() or time_zone)
