"""Who hears what: channels, templates, and the anonim reporter kept from the agency."""

from datetime import UTC, datetime

from schemas.complaint import Channel, ReporterContact, ReportType
from schemas.events import (
    ComplaintRouted,
    ComplaintSubmitted,
    RecipientRole,
    SlaDeadlineSet,
    SlaStage,
)
from services.notify.domain import ANONYMOUS_DISPLAY, complainant_channel, contact_from, plan
from services.notify.rendering import TemplateRenderer

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def submitted(*, anonymous: bool, reporter: ReporterContact) -> ComplaintSubmitted:
    return ComplaintSubmitted(
        complaint_id="LPR-AAAAA-BBBBB",
        title="Jalan rusak",
        body="Jalan di depan pasar rusak",
        category="infrastruktur.jalan",
        region_code="81.71",
        report_type=ReportType.PENGADUAN,
        anonymous=anonymous,
        confidential=False,
        reporter=reporter,
        channel=Channel.WEB,
        submitted_at=NOW,
    )


ROUTED = ComplaintRouted(
    complaint_id="LPR-AAAAA-BBBBB",
    agency_id="dinas-pupr-kota-ambon",
    agency_name="Dinas PUPR Kota Ambon",
    time_zone="Asia/Jayapura",
    rule_id="jalan-ambon",
    reason="r",
    routed_at=NOW,
)


def test_complainant_is_reached_on_the_channel_they_gave() -> None:
    assert complainant_channel(ReporterContact(email="a@b.id", phone="+62811111111")) == (
        "email",
        "a@b.id",
    )
    assert complainant_channel(ReporterContact(phone="+62811111111")) == ("sms", "+62811111111")
    assert complainant_channel(ReporterContact()) == ("inbox", None)


def test_submission_tells_the_complainant_the_tracking_id() -> None:
    event = submitted(anonymous=False, reporter=ReporterContact(name="Siti", email="s@x.id"))
    [message] = plan(event, contact_from(event))
    rendered = TemplateRenderer().render(message.template, message.context)
    assert message.recipient_role is RecipientRole.COMPLAINANT
    assert "LPR-AAAAA-BBBBB" in rendered.subject
    assert "24-11-2026 10:00 WIB" in rendered.body


def test_agency_never_sees_an_anonymous_reporters_identity() -> None:
    reporter = ReporterContact(name="Siti Rahma", email="siti@example.id", phone="+6281234567890")
    event = submitted(anonymous=True, reporter=reporter)
    messages = plan(ROUTED, contact_from(event))
    agency = [m for m in messages if m.recipient_role is RecipientRole.AGENCY]
    assert len(agency) == 1 and agency[0].address is None
    rendered = TemplateRenderer().render(agency[0].template, agency[0].context)
    text = rendered.subject + rendered.body + repr(agency[0].context)
    for secret in ("Siti", "siti@example.id", "6281234567890"):
        assert secret not in text
    assert ANONYMOUS_DISPLAY in rendered.body


def test_agency_sees_a_named_reporter_who_did_not_ask_for_anonymity() -> None:
    event = submitted(
        anonymous=False, reporter=ReporterContact(name="Siti Rahma", phone="+62811111111")
    )
    agency = next(m for m in plan(ROUTED, contact_from(event)) if m.recipient == ROUTED.agency_id)
    assert "Siti Rahma" in TemplateRenderer().render(agency.template, agency.context).body


def test_deadline_is_announced_in_the_agency_local_time() -> None:
    event = submitted(anonymous=False, reporter=ReporterContact(phone="+62811111111"))
    deadline = SlaDeadlineSet(
        complaint_id="LPR-AAAAA-BBBBB",
        stage=SlaStage.FIRST_FOLLOW_UP,
        agency_id="dinas-pupr-kota-ambon",
        started_at=NOW,
        due_at=datetime(2026, 12, 1, 14, 59, 59, tzinfo=UTC),
        working_days=5,
        time_zone="Asia/Jayapura",
    )
    [message] = plan(deadline, contact_from(event))
    body = TemplateRenderer().render(message.template, message.context).body
    assert "01-12-2026 23:59 WIT" in body and "5 hari kerja" in body


def test_dedup_key_is_per_event_recipient_and_channel() -> None:
    event = submitted(anonymous=False, reporter=ReporterContact(email="s@x.id"))
    keys = {m.key("evt-1") for m in plan(ROUTED, contact_from(event))}
    assert keys == {
        "evt-1:complainant:complainant:email",
        "evt-1:agency:dinas-pupr-kota-ambon:inbox",
    }
