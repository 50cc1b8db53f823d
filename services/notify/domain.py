"""Who hears what, through which channel, with which template. No I/O.

Recipients: the complainant (through the channel they gave, plus the in-app inbox when they
submitted from an account), supporters of a public report (inbox), the agency's liaison
officers and its webhook for new assignments, the unit's officers once it is disposed to a unit,
supervisors on escalation. Anonim reporters are never named to the agency side: its copies say
"Anonim" whatever the stored contact holds, and an anonim reporter is only ever contacted
through the channel they gave.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from schemas.complaint import ComplaintStatus, ReporterContact, Role
from schemas.complaint import LifecycleAction as A
from schemas.envelope import EventPayload
from schemas.events import (
    ComplaintMerged,
    ComplaintStatusChanged,
    ComplaintSubmission,
    ComplaintSubmitted,
    RecipientRole,
    SlaBreached,
    SlaDeadlineSet,
    SlaEscalated,
    SlaStage,
    SlaWarningIssued,
)
from schemas.regions import local_time, time_zone_of
from services.notify.policy import KINDS, QuietHours

ANONYMOUS_DISPLAY = "Anonim"
# How an officer's message names a reporter it may not name, in the officer's language.
REPORTER_LABELS = {
    "id": {"anonymous": ANONYMOUS_DISPLAY, "unnamed": "(tanpa nama)"},
    "en": {"anonymous": "Anonymous", "unnamed": "(no name given)"},
}
FALLBACK_ZONE = "Asia/Jakarta"
Channel = Literal["email", "sms", "webhook", "inbox"]
CHANNELS: tuple[Channel, ...] = ("email", "sms", "webhook", "inbox")
Locale = Literal["id", "en"]
OfficerRole = Literal["liaison", "admin", "supervisor"]
# The deadlines an agency's officers hear of when they are set.
AGENCY_DEADLINE_STAGES = frozenset({SlaStage.FIRST_FOLLOW_UP, SlaStage.COMPLETION})
STAGE_LABELS = {
    "id": {
        SlaStage.VERIFICATION: "verifikasi",
        SlaStage.FIRST_FOLLOW_UP: "tindak lanjut pertama",
        SlaStage.COMPLETION: "penyelesaian",
        SlaStage.REPLY_WINDOW: "tanggapan pelapor",
        SlaStage.CEILING: "batas akhir 60 hari",
    },
    "en": {
        SlaStage.VERIFICATION: "verification",
        SlaStage.FIRST_FOLLOW_UP: "first follow-up",
        SlaStage.COMPLETION: "completion",
        SlaStage.REPLY_WINDOW: "complainant's reply",
        SlaStage.CEILING: "60-day ceiling",
    },
}


class Preferences(BaseModel):
    """A recipient's choices. Mandatory messages ignore ``updates`` (no opt-out by law)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: tuple[Channel, ...] = Field(
        default=(), description="Preferred channels among those the recipient has; empty: all."
    )
    locale: Locale = "id"
    quiet_hours: QuietHours | None = None
    updates: bool = Field(
        default=True, description="False: no optional progress messages (opt-out)."
    )


# The channels whose address is a person's own contact details.
CONTACT_CHANNELS: tuple[Channel, ...] = ("email", "sms")


def contact_channels(email: str | None, phone: str | None) -> dict[Channel, str]:
    """The outside channels an email address and a phone number give, best first."""
    found: dict[Channel, str] = {}
    if email is not None:
        found["email"] = str(email)
    if phone is not None:
        found["sms"] = phone
    return found


class OfficerBody(BaseModel):
    """An officer without its ID (the body of ``PUT /v1/officers/{officer_id}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agency_id: str = Field(pattern=r"^[a-z0-9-]{2,80}$")
    unit_id: str | None = Field(default=None, pattern=r"^[a-z0-9-]{2,80}$")
    roles: tuple[OfficerRole, ...] = Field(default=("liaison",), min_length=1)
    name: str = Field(min_length=2, max_length=200)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{8,15}$")
    preferences: Preferences = Preferences()


class Officer(OfficerBody):
    """A liaison officer (or admin, or supervisor) of an agency or one of its units."""

    officer_id: str = Field(pattern=r"^[a-z0-9._-]{2,80}$")

    def addresses(self) -> dict[Channel, str]:
        """Where this officer can be reached outside the app, best first."""
        return contact_channels(self.email, self.phone)


@dataclass(frozen=True)
class ComplaintFile:
    """What notify keeps about a complaint in order to address people about it."""

    complaint_id: str
    title: str
    category: str
    region_code: str
    report_type: str
    anonymous: bool
    confidential: bool
    reporter: ReporterContact  # opened: what ``sealed_reporter`` holds while its key exists
    reporter_account: str | None = None
    # The contact details as the event brought them, sealed under the report's data key (none
    # for a report filed before data keys, or without contact details).
    sealed_reporter: str | None = None
    agency_id: str | None = None
    agency_name: str | None = None
    unit_id: str | None = None
    supporters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Audience:
    """Everyone a message could go to, loaded by the adapter for one event."""

    officers: Sequence[Officer] = ()
    webhook_agencies: frozenset[str] = frozenset()
    complainant_preferences: Preferences | None = None
    supporter_preferences: dict[str, Preferences] = field(default_factory=dict)


@dataclass(frozen=True)
class PlannedMessage:
    """One message to one recipient on one channel."""

    recipient_role: RecipientRole
    recipient: str
    channel: Channel
    address: str | None
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    locale: Locale = "id"
    quiet_hours: QuietHours | None = None

    def key(self, event_id: str) -> str:
        """One message per (event, recipient, channel): the dedup key and idempotency key."""
        return f"{event_id}:{self.recipient_role.value}:{self.recipient}:{self.channel}"


def file_from(submitted: ComplaintSubmission, reporter: ReporterContact) -> ComplaintFile:
    """What to remember of a submitted complaint; ``reporter`` is its contact details opened
    (version 2 seals them)."""
    return ComplaintFile(
        complaint_id=submitted.complaint_id,
        title=submitted.title,
        category=submitted.category,
        region_code=submitted.region_code,
        report_type=submitted.report_type.value,
        anonymous=submitted.anonymous,
        confidential=submitted.confidential,
        reporter=reporter,
        reporter_account=submitted.reporter_account,
        sealed_reporter=submitted.sealed_reporter
        if isinstance(submitted, ComplaintSubmitted)
        else None,
    )


def holder_fields(changed: ComplaintStatusChanged) -> dict[str, str | None]:
    """What a status change makes the complaint's file say of who holds it now (the agency's
    name too, when the change carries it: a forward by hand names an agency routing did not)."""
    fields = {"agency_id": changed.agency_id, "unit_id": changed.unit_id}
    if changed.agency_name is not None or changed.agency_id is None:
        fields["agency_name"] = changed.agency_name
    return fields


# The templates whose text names the reporter (to officers, of a report that is not anonim).
NAMES_THE_REPORTER = frozenset({"agency_new_assignment", "unit_new_assignment", "agency_reopened"})
ERASED_TEXT = (
    "[Isi pesan ini dihapus bersama data pelapor. / "
    "This message's text was erased with the reporter's data.]"
)


def struck(message: Mapping[str, Any]) -> dict[str, str] | None:
    """What a rendered message says once its reporter's data is erased; None when it needs no
    change. A text that names the reporter is replaced whole: the same whether or not the
    contact details still open (by then their key is usually destroyed), so a rebuild from the
    log ends where the live log did."""
    if message.get("template") in NAMES_THE_REPORTER:
        return {"body": ERASED_TEXT}
    return None


def complainant_addresses(reporter: ReporterContact) -> dict[Channel, str]:
    """The channels the reporter gave, best first (email, then SMS)."""
    return contact_channels(reporter.email, reporter.phone)


def _choose(
    available: dict[Channel, str | None], preferences: Preferences | None, *, single: bool
) -> list[tuple[Channel, str | None]]:
    """The channels to use: those preferred among the available ones (all preferred ones for
    officers, the first for a complainant), else the first available."""
    wanted = [c for c in (preferences.channels if preferences else ()) if c in available]
    if not wanted:
        wanted = list(available)[:1]
    if single:
        wanted = wanted[:1]
    return [(channel, available[channel]) for channel in wanted]


def _officer_channels(officer: Officer) -> list[tuple[Channel, str | None]]:
    """The in-app inbox (an officer's work queue) always, plus the preferred outside channels
    (by default the first the officer has)."""
    available: dict[Channel, str | None] = dict(officer.addresses())
    return [("inbox", None), *_choose(available, officer.preferences, single=False)]


def calls_for_messages(payload: EventPayload) -> bool:
    """False for an event that calls for no message whatever its complaint's file says, so that
    notify reads nothing for it: the deadlines of the national desk, and those of an agency
    that officers are not told about (two of a complaint's four deadlines at least)."""
    if isinstance(payload, SlaDeadlineSet):
        return payload.agency_id is not None and payload.stage in AGENCY_DEADLINE_STAGES
    return True


def plan(
    payload: EventPayload, file: ComplaintFile | None, audience: Audience
) -> list[PlannedMessage]:
    """The messages an event calls for (``file`` is the complaint as it is after the event)."""
    if file is None:
        return []
    planner = _Planner(file, audience)
    return planner.plan(payload)


class _Planner:
    def __init__(self, file: ComplaintFile, audience: Audience) -> None:
        self.file = file
        self.audience = audience
        # Times a person reads are in the zone of the report's place (WIB, WITA or WIT).
        self.zone = time_zone_of(file.region_code) or FALLBACK_ZONE
        self.base: dict[str, Any] = {
            "tracking_id": file.complaint_id,
            "title": file.title,
            "category": file.category,
            "region_code": file.region_code,
            "report_type": file.report_type,
            "agency_name": file.agency_name or file.agency_id or "",
        }

    def plan(self, payload: EventPayload) -> list[PlannedMessage]:
        if isinstance(payload, ComplaintSubmission):
            at = local_time(payload.submitted_at, self.zone)
            return self.complainant("complaint_submitted", submitted_at=at)
        if isinstance(payload, ComplaintMerged):
            return self.complainant("complaint_merged", into=payload.complaint_id)
        if isinstance(payload, ComplaintStatusChanged):
            return self.status_changed(payload)
        if isinstance(payload, SlaWarningIssued):
            return self.warning(payload)
        if isinstance(payload, SlaBreached | SlaEscalated):
            return self.breach(payload)
        if isinstance(payload, SlaDeadlineSet) and calls_for_messages(payload):
            assert payload.agency_id is not None
            return self.officers(
                "agency_deadline_set",
                RecipientRole.AGENCY,
                agency_id=payload.agency_id,
                unit_id=None,
                roles={"liaison", "admin"},
                stage=payload.stage,
                due_local=local_time(payload.due_at, payload.time_zone),
                working_days=payload.working_days,
            )
        return []

    def status_changed(self, changed: ComplaintStatusChanged) -> list[PlannedMessage]:
        text = {"text": changed.text or "", "reason": changed.reason or ""}
        match changed.action:
            case A.DEFER:
                return self.complainant("complaint_deferred", **text)
            case A.REJECT:
                return self.complainant("complaint_rejected", **text)
            case A.FORWARD | A.REROUTE:
                assert changed.agency_id is not None
                return [
                    *self.complainant("complaint_forwarded"),
                    *self.officers(
                        "agency_new_assignment",
                        RecipientRole.AGENCY,
                        agency_id=changed.agency_id,
                        unit_id=None,
                        roles={"liaison", "admin"},
                        webhook=True,
                    ),
                ]
            case A.FORWARD_TO_UNIT:
                assert changed.agency_id is not None
                # A routing rule's explanation is written for admins, in English: the unit is
                # told in its own language that a rule sent the report.
                by_rule = changed.actor_role is Role.SYSTEM
                return self.officers(
                    "unit_new_assignment",
                    RecipientRole.UNIT,
                    agency_id=changed.agency_id,
                    unit_id=changed.unit_id,
                    roles={"liaison", "admin"},
                    webhook=True,
                    **{**text, "reason": "" if by_rule else text["reason"]},
                    by_rule=by_rule,
                )
            case A.FOLLOW_UP:
                return [
                    *self.complainant("complaint_follow_up", **text),
                    *self.supporters(changed.to_status),
                ]
            case A.ANSWER:
                return [
                    *self.complainant("complaint_answered", **text),
                    *self.supporters(changed.to_status),
                ]
            case A.CLOSE | A.AUTO_CLOSE:
                return [
                    *self.complainant("complaint_closed", **text),
                    *self.supporters(changed.to_status),
                ]
            case A.REPLY:
                holder = self.file.agency_id
                return [
                    *self.complainant("complaint_reopened", **text),
                    *(
                        self.officers(
                            "agency_reopened",
                            RecipientRole.UNIT if self.file.unit_id else RecipientRole.AGENCY,
                            agency_id=holder,
                            unit_id=self.file.unit_id,
                            roles={"liaison", "admin"},
                            webhook=True,
                            **text,
                        )
                        if holder
                        else []
                    ),
                ]
        return []

    def warning(self, warning: SlaWarningIssued) -> list[PlannedMessage]:
        due = local_time(warning.due_at, self.zone)
        if warning.holder == "complainant":
            return self.complainant("complaint_reply_window_closing", due_local=due)
        if warning.agency_id is None or warning.holder not in ("agency", "unit"):
            return []
        at_unit = warning.holder == "unit" and self.file.unit_id is not None
        return self.officers(
            "officer_deadline_warning",
            RecipientRole.UNIT if at_unit else RecipientRole.AGENCY,
            agency_id=warning.agency_id,
            unit_id=self.file.unit_id if at_unit else None,
            roles={"liaison", "admin"},
            stage=warning.stage,
            due_local=due,
        )

    def breach(self, breach: SlaBreached | SlaEscalated) -> list[PlannedMessage]:
        if breach.agency_id is None:
            return []
        context: dict[str, Any] = {
            "stage": breach.stage,
            "level": breach.level,
            "escalate_to": breach.escalate_to,
        }
        if breach.escalate_to == "agency_admin":
            return self.officers(
                "officer_deadline_breached",
                RecipientRole.AGENCY,
                agency_id=breach.agency_id,
                unit_id=None,
                roles={"admin", "liaison"},
                **context,
            )
        return self.officers(
            "supervisor_escalation",
            RecipientRole.SUPERVISOR,
            agency_id=breach.agency_id,
            unit_id=None,
            roles={"supervisor"},
            **context,
        )

    def complainant(self, template: str, **context: Any) -> list[PlannedMessage]:
        preferences = self.audience.complainant_preferences
        if not KINDS[template].mandatory and preferences is not None and not preferences.updates:
            return []
        locale: Locale = preferences.locale if preferences else "id"
        quiet = preferences.quiet_hours if preferences else None
        given: dict[Channel, str | None] = dict(complainant_addresses(self.file.reporter))
        planned = [
            PlannedMessage(
                RecipientRole.COMPLAINANT,
                "complainant",
                channel,
                address,
                template,
                {**self.base, **context},
                locale,
                quiet,
            )
            for channel, address in _choose(given, preferences, single=True)
        ]
        if self.file.reporter_account is not None:
            planned.append(
                PlannedMessage(
                    RecipientRole.COMPLAINANT,
                    self.file.reporter_account,
                    "inbox",
                    None,
                    template,
                    {**self.base, **context},
                    locale,
                )
            )
        return planned

    def supporters(self, status: ComplaintStatus) -> list[PlannedMessage]:
        if self.file.confidential:
            return []
        planned = []
        for account in self.file.supporters:
            preferences = self.audience.supporter_preferences.get(account)
            if preferences is not None and not preferences.updates:
                continue
            planned.append(
                PlannedMessage(
                    RecipientRole.SUPPORTER,
                    account,
                    "inbox",
                    None,
                    "supporter_update",
                    {**self.base, "status": status.value},
                    preferences.locale if preferences else "id",
                )
            )
        return planned

    def officers(
        self,
        template: str,
        role: RecipientRole,
        *,
        agency_id: str,
        unit_id: str | None,
        roles: set[str],
        webhook: bool = False,
        **context: Any,
    ) -> list[PlannedMessage]:
        reporter = None if self.file.anonymous else self.file.reporter.name
        shared = {**self.base, **context, "reporter_name": reporter, "unit_id": unit_id}
        shared["reporter_kind"] = "anonymous" if self.file.anonymous else "unnamed"
        planned: list[PlannedMessage] = []
        for officer in self.audience.officers:
            if officer.agency_id != agency_id or not roles & set(officer.roles):
                continue
            if officer.unit_id != unit_id:  # the unit's own officers, or the agency level's
                continue
            prefs = officer.preferences
            for channel, address in _officer_channels(officer):
                planned.append(
                    PlannedMessage(
                        role,
                        officer.officer_id,
                        channel,
                        address,
                        template,
                        _labelled(shared, prefs.locale),
                        prefs.locale,
                        prefs.quiet_hours,
                    )
                )
        if webhook and agency_id in self.audience.webhook_agencies:
            planned.append(
                PlannedMessage(
                    role,
                    f"agency:{agency_id}",
                    "webhook",
                    None,
                    template,
                    _labelled(shared, "id"),
                )
            )
        return planned


def _labelled(context: dict[str, Any], locale: Locale) -> dict[str, Any]:
    """The context with what depends on the reader's language filled in."""
    labelled = dict(context)
    stage = labelled.get("stage")
    if isinstance(stage, SlaStage):
        labelled |= {"stage": stage.value, "stage_label": STAGE_LABELS[locale][stage]}
    if "reporter_kind" in labelled:
        kind = labelled.pop("reporter_kind")
        labelled["reporter_display"] = (
            labelled.pop("reporter_name") or REPORTER_LABELS[locale][kind]
        )
    return labelled
