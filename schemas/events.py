"""Event payloads of the complaint lifecycle and of the standards registry.

Past-tense facts. Each names its type and schema version; a breaking change adds a new version.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from schemas.complaint import (
    Channel,
    ComplaintStatus,
    LifecycleAction,
    ReporterContact,
    ReportType,
    Role,
    ServiceExperience,
)
from schemas.envelope import EventPayload
from schemas.regions import REGION_CODE_PATTERN
from schemas.topics import (
    AGENCY_DIRECTORY,
    COMPLAINT_EVENTS,
    NOTIFICATION_EVENTS,
    PUBLIC_COMPLAINTS,
    STANDARD_EVENTS,
    UNDELIVERABLE_NOTIFICATIONS,
    TopicSpec,
)

ComplaintId = str


class ComplaintEvent(EventPayload):
    """An event about one complaint: keyed, and ordered, by complaint ID."""

    complaint_id: ComplaintId = Field(description="The complaint's tracking ID.")

    def subject(self) -> str:
        return self.complaint_id


class ComplaintSubmission(ComplaintEvent):
    """What every version of ``complaint.submitted`` says of a report accepted and stored."""

    title: str = Field(max_length=200)
    body: str = Field(max_length=20_000)
    category: str = Field(max_length=100, description="Category code, e.g. 'kesehatan.bpjs'.")
    region_code: str = Field(pattern=REGION_CODE_PATTERN, description="Kemendagri region code.")
    report_type: ReportType
    anonymous: bool = Field(description="anonim: hide the reporter from the agency and the public.")
    confidential: bool = Field(description="rahasia: keep the report out of every public view.")
    channel: Channel
    service_standard_id: str | None = Field(
        default=None, description="The SIPP service standard the complaint concerns, if any."
    )
    experience: ServiceExperience | None = Field(
        default=None, description="Days waited and rupiah paid, as the reporter experienced."
    )
    chosen_agency_id: str | None = Field(
        default=None, description="The agency the reporter asked for, if any."
    )
    reporter_account: str | None = Field(
        default=None,
        description="The citizen account that submitted it (an opaque ID, for the in-app "
        "inbox and the reporter's notification preferences); none for SMS and integrations.",
    )
    integration_client: str | None = Field(
        default=None,
        description="The registered integration client (an agency's app) that filed it, if any.",
    )
    submitted_at: AwareDatetime


class ComplaintSubmitted(ComplaintSubmission):
    """A citizen's report was accepted and stored. Version 2: the reporter's contact details are
    sealed under the report's own data key, which only intake holds (and gives to notify); when
    the reporter's data is erased the key is destroyed, and every copy of this event, in the
    topic, in dead letters and in backups, no longer opens."""

    NAME = "complaint.submitted"
    VERSION = 2

    sealed_reporter: str | None = Field(
        default=None,
        description="The reporter's contact details (name, email, phone as JSON), a Fernet "
        "token under the report's data key; none when no contact was given.",
    )


class ComplaintSubmittedV1(ComplaintSubmission):
    """Deprecated: ``complaint.submitted`` with the reporter's contact details in clear, as
    published before version 2. No longer published; consumers still take it, for records
    stored on the topic before the upgrade."""

    NAME = "complaint.submitted"
    VERSION = 1

    reporter: ReporterContact


class ComplaintRouted(ComplaintEvent):
    """The complaint was assigned to the agency with authority over it."""

    NAME = "complaint.routed"
    VERSION = 1

    agency_id: str
    agency_name: str
    time_zone: str = Field(description="IANA zone of the agency: deadlines end in its local time.")
    rule_id: str = Field(description="The routing rule that matched, or 'fallback'.")
    reason: str = Field(description="Why this agency, in words an admin can check.")
    reporter_choice: Literal["honoured", "declined"] | None = Field(
        default=None,
        description="Whether the reporter's chosen agency was honoured; 'declined' flags the "
        "complaint for the national admin.",
    )
    unit_id: str | None = Field(
        default=None, description="The unit a rule sends it to straight away, if any."
    )
    agency_units: list[str] = Field(
        default_factory=list,
        description="The agency's units (a hand-over must name one of them); empty if unknown.",
    )
    alternatives: list[str] = Field(
        default_factory=list, description="Rules that also matched, best first."
    )
    confidence: Literal["high", "medium", "low"] | None = Field(
        default=None,
        description="high: the rule outranked every alternative on priority; medium: on "
        "specificity only; low: a tie broken by rule ID, or the fallback.",
    )
    directory_version: int | None = Field(
        default=None, description="Version of the rule table that decided."
    )
    proposal: bool = Field(
        default=False,
        description="Only proposed: the agency is in manual mode and the national admin "
        "confirms or changes the route by hand.",
    )
    routed_at: AwareDatetime


class ComplaintStatusChanged(ComplaintEvent):
    """A lifecycle transition: who (by role), what, from which status to which, and why."""

    NAME = "complaint.status_changed"
    VERSION = 1

    action: LifecycleAction
    from_status: ComplaintStatus
    to_status: ComplaintStatus
    actor_role: Role = Field(description="The actor's role; never who, to keep reporters safe.")
    agency_id: str | None
    unit_id: str | None
    report_type: ReportType
    needs_examination: bool | None = Field(
        description="Examination class chosen at verification (pengaduan only); drives deadlines."
    )
    reason: str | None = Field(max_length=2_000)
    text: str | None = Field(max_length=20_000, description="Follow-up, answer or reply text.")
    changed_at: AwareDatetime
    agency_name: str | None = Field(
        default=None,
        description="The name of the agency that holds the complaint after the change, as the "
        "directory gives it.",
    )


class ComplaintMerged(ComplaintEvent):
    """Another report of the same problem was merged into this complaint; its reporter and
    supporters follow this one from now on."""

    NAME = "complaint.merged"
    VERSION = 1

    merged_complaint_id: str
    merged_at: AwareDatetime


class ComplaintSupported(ComplaintEvent):
    """A citizen supports a public report: they hear about its progress from now on."""

    NAME = "complaint.supported"
    VERSION = 1

    supporter_account: str = Field(description="The supporter's citizen account (opaque ID).")
    supported_at: AwareDatetime


class ComplaintReporterErased(ComplaintEvent):
    """The reporter's personal data was erased, at the reporter's request, the national
    admin's, or because its retention period ended (UU 27/2022 (PDP), Pasal 8 and 43-44): the
    report's data key is destroyed, every service forgets who filed the report and how to reach
    them; the report, its course and the agencies' figures stay, as if filed anonim."""

    NAME = "complaint.reporter_erased"
    VERSION = 1

    erased_at: AwareDatetime
    requested_by: str = Field(
        description="Who asked: 'reporter', 'national_admin', or 'retention' (the period for "
        "keeping contact details after closure ended)."
    )


class SlaStage(StrEnum):
    """A clock the SLA service runs on a complaint."""

    VERIFICATION = "verification"
    FIRST_FOLLOW_UP = "first_follow_up"
    COMPLETION = "completion"
    REPLY_WINDOW = "reply_window"
    CEILING = "ceiling"


class SlaDeadlineSet(ComplaintEvent):
    """A deadline was computed for one stage of a complaint."""

    NAME = "sla.deadline_set"
    VERSION = 1

    stage: SlaStage
    agency_id: str | None = Field(description="None for the verification clock (national desk).")
    started_at: AwareDatetime
    due_at: AwareDatetime = Field(description="End of the last working day, as a UTC instant.")
    working_days: int | None = Field(
        ge=0, description="The limit in working days; None for a limit counted in calendar days."
    )
    calendar_days: int | None = Field(
        default=None,
        ge=0,
        description="The limit in calendar days (the 60-day ceiling); None for working days.",
    )
    time_zone: str

    @model_validator(mode="after")
    def _one_kind_of_day(self) -> "SlaDeadlineSet":
        if (self.working_days is None) == (self.calendar_days is None):
            raise ValueError("a deadline counts either working_days or calendar_days")
        return self


class StandardChecked(ComplaintEvent):
    """The published standard in force when the complaint was filed, attached to it, and
    whether the reported experience breaks its promises."""

    NAME = "sla.standard_checked"
    VERSION = 1

    standard_id: str
    standard_version: int
    promised_days: int | None
    promised_fee_idr: int | None
    waited_days: int | None
    paid_idr: int | None
    violations: list[Literal["completion_time", "fee"]]
    checked_at: AwareDatetime


class SlaWarningIssued(ComplaintEvent):
    """A deadline is near (by default the working day before)."""

    NAME = "sla.warning_issued"
    VERSION = 1

    stage: SlaStage
    agency_id: str | None
    holder: str = Field(description="Who must act: verifier, agency, unit or complainant.")
    due_at: AwareDatetime
    issued_at: AwareDatetime


class SlaBreached(ComplaintEvent):
    """A deadline passed; the complaint is escalated to ``escalate_to`` (level 1)."""

    NAME = "sla.breached"
    VERSION = 1

    stage: SlaStage
    agency_id: str | None
    holder: str
    due_at: AwareDatetime
    breached_at: AwareDatetime
    level: int = Field(ge=1)
    escalate_to: str = Field(description="Next level: agency_admin, national_admin, ombudsman.")


class SlaEscalated(ComplaintEvent):
    """A breached deadline is still unmet; it climbs one more level of the chain."""

    NAME = "sla.escalated"
    VERSION = 1

    stage: SlaStage
    agency_id: str | None
    due_at: AwareDatetime
    escalated_at: AwareDatetime
    level: int = Field(ge=2)
    escalate_to: str


class SlaWindowExpired(ComplaintEvent):
    """The complainant's reply window closed with no reply: the complaint closes (intake)."""

    NAME = "sla.window_expired"
    VERSION = 1

    stage: SlaStage
    expired_at: AwareDatetime


class RecipientRole(StrEnum):
    """Who a notification is for."""

    COMPLAINANT = "complainant"
    SUPPORTER = "supporter"
    AGENCY = "agency"
    UNIT = "unit"
    SUPERVISOR = "supervisor"


class NotificationSent(ComplaintEvent):
    """A message was handed over to its channel (the mail server, SMS gateway, webhook
    receiver or inbox accepted it). Version 2: on ``lapor.notification-events.v1``; the body is
    version 1's."""

    NAME = "notification.sent"
    VERSION = 2

    notification_id: str
    recipient_role: RecipientRole
    recipient: str = Field(
        description="Agency, unit or officer ID, or 'complainant'/'supporter'; never a "
        "personal address."
    )
    channel: str
    template: str
    caused_by: str = Field(description="ce_id of the event this notification answers.")
    attempts: int = Field(default=1, ge=1, description="Delivery attempts it took.")
    digest_of: int = Field(
        default=1, ge=1, description="How many messages this one delivered (a digest: more)."
    )
    sent_at: datetime


class NotificationFailed(ComplaintEvent):
    """A message could not be delivered after its last attempt (or was refused for good); it
    is in the delivery dead-letter topic for an operator. Version 2: on
    ``lapor.notification-events.v1``; the body is version 1's."""

    NAME = "notification.failed"
    VERSION = 2

    notification_id: str
    recipient_role: RecipientRole
    recipient: str
    channel: str
    template: str
    caused_by: str
    attempts: int = Field(ge=0)
    error: str = Field(max_length=500, description="The last error, without personal data.")
    failed_at: AwareDatetime


class NotificationSentV1(NotificationSent):
    """Deprecated: ``notification.sent`` as it was published on ``lapor.complaint-events.v1``
    until version 2 moved it to ``lapor.notification-events.v1``. Published again, next to
    version 2, only while ``NOTIFY_PUBLISH_V1_FACTS`` is on, for subscribers still moving."""

    VERSION = 1


class NotificationFailedV1(NotificationFailed):
    """Deprecated: ``notification.failed`` as it was published on ``lapor.complaint-events.v1``;
    published next to version 2 only while ``NOTIFY_PUBLISH_V1_FACTS`` is on."""

    VERSION = 1


def as_v1(
    payload: NotificationSent | NotificationFailed,
) -> NotificationSentV1 | NotificationFailedV1:
    """The deprecated version 1 of a notification fact (same body, the old topic)."""
    if isinstance(payload, NotificationFailed):
        return NotificationFailedV1(**payload.model_dump())
    return NotificationSentV1(**payload.model_dump())


class NotificationUndeliverable(EventPayload):
    """A dead letter of delivery: which message, where it failed, why. Keyed by message ID."""

    NAME = "notification.undeliverable"
    VERSION = 1

    notification_id: str
    complaint_id: str
    channel: str
    template: str
    attempts: int = Field(ge=0)
    error: str = Field(max_length=500)
    failed_at: AwareDatetime

    def subject(self) -> str:
        return self.notification_id


class PublicHistoryEntry(BaseModel):
    """One step of a public complaint: what happened, when; the agency's texts only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str
    to_status: ComplaintStatus
    at: AwareDatetime
    text: str | None


class PublicComplaintSnapshot(ComplaintEvent):
    """The public state of a complaint after a change (public stream; compacted by key)."""

    NAME = "public.complaint_snapshot"
    VERSION = 1

    status: ComplaintStatus
    title: str
    body: str
    category: str
    region_code: str
    report_type: ReportType
    agency_id: str | None
    agency_name: str | None
    lat: float | None
    long: float | None
    supporters: int
    merged_into: str | None
    submitted_at: AwareDatetime
    updated_at: AwareDatetime
    history: list[PublicHistoryEntry]


class StandardPublished(EventPayload):
    """A service standard was published (latest state per standard, for a compacted topic)."""

    NAME = "standard.published"
    VERSION = 1

    standard_id: str
    agency_id: str
    service_name: str
    version: int = Field(ge=1)
    completion_time_days: int | None = None
    fee_idr: int | None = Field(default=None, description="0 when the service is free.")
    unit_id: str | None = Field(default=None, description="The unit that delivers the service.")
    region_code: str | None = Field(default=None, description="Where the service is delivered.")
    published_at: AwareDatetime

    def subject(self) -> str:
        return self.standard_id

    def publication(self) -> str:
        """Orders the publications of one standard: the one published last is in force (an
        older draft published after a newer version supersedes it), the version number only
        breaking a tie. A string, so that a store can compare it too."""
        moment = self.published_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        return f"{moment}|{self.version:010d}"


class StandardSuperseded(EventPayload):
    """A published version gave way to a newer one (published right after, same key)."""

    NAME = "standard.superseded"
    VERSION = 1

    standard_id: str
    agency_id: str
    version: int = Field(ge=1)
    superseded_by: int = Field(ge=2)
    superseded_at: AwareDatetime

    def subject(self) -> str:
        return self.standard_id


class AgencyUnit(BaseModel):
    """A unit of an agency, as the directory lists it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit_id: str
    name: str


class AgencyPublished(EventPayload):
    """An agency as routing's directory now describes it (latest state per agency, for a
    compacted topic)."""

    NAME = "agency.published"
    VERSION = 1

    agency_id: str
    name: str
    region_code: str = Field(description="Kemendagri code of the agency's seat.")
    time_zone: str = Field(description="Where its working days end (IANA name).")
    units: list[AgencyUnit] = Field(default_factory=list)
    national_desk: bool = Field(
        default=False,
        description="The national admin's own queue: where complaints nobody else has "
        "authority over wait.",
    )
    directory_version: int = Field(ge=1)
    published_at: AwareDatetime

    def subject(self) -> str:
        return self.agency_id


class AgencyWithdrawn(EventPayload):
    """An agency left the directory; complaints it holds keep its name in their history."""

    NAME = "agency.withdrawn"
    VERSION = 1

    agency_id: str
    directory_version: int = Field(ge=1)
    withdrawn_at: AwareDatetime

    def subject(self) -> str:
        return self.agency_id


COMPLAINT_EVENT_TYPES: dict[str, type[EventPayload]] = {
    model.event_type(): model
    for model in (
        ComplaintSubmitted,
        ComplaintSubmittedV1,
        ComplaintRouted,
        ComplaintStatusChanged,
        ComplaintMerged,
        SlaDeadlineSet,
        StandardChecked,
        SlaWarningIssued,
        SlaBreached,
        SlaEscalated,
        SlaWindowExpired,
        ComplaintSupported,
        ComplaintReporterErased,
        NotificationSentV1,
        NotificationFailedV1,
    )
}
PUBLIC_EVENT_TYPES: dict[str, type[EventPayload]] = {
    PublicComplaintSnapshot.event_type(): PublicComplaintSnapshot
}
STANDARD_EVENT_TYPES: dict[str, type[EventPayload]] = {
    StandardPublished.event_type(): StandardPublished,
    StandardSuperseded.event_type(): StandardSuperseded,
}
AGENCY_EVENT_TYPES: dict[str, type[EventPayload]] = {
    AgencyPublished.event_type(): AgencyPublished,
    AgencyWithdrawn.event_type(): AgencyWithdrawn,
}


def topic_for(payload: EventPayload) -> TopicSpec:
    """The one topic each kind of event goes to."""
    return topic_of(type(payload))


def topic_of(kind: type[EventPayload]) -> TopicSpec:
    """The one topic events of this kind go to."""
    if issubclass(kind, PublicComplaintSnapshot):
        return PUBLIC_COMPLAINTS
    if issubclass(kind, NotificationSentV1 | NotificationFailedV1):
        return COMPLAINT_EVENTS
    if issubclass(kind, NotificationSent | NotificationFailed):
        return NOTIFICATION_EVENTS
    if issubclass(kind, ComplaintEvent):
        return COMPLAINT_EVENTS
    if issubclass(kind, StandardPublished | StandardSuperseded):
        return STANDARD_EVENTS
    if issubclass(kind, AgencyPublished | AgencyWithdrawn):
        return AGENCY_DIRECTORY
    if issubclass(kind, NotificationUndeliverable):
        return UNDELIVERABLE_NOTIFICATIONS
    raise TypeError(f"no topic for {kind.__name__}")
