"""Who hears what: channels, templates, and the anonim reporter kept from the agency."""

from schemas.complaint import ReporterContact
from schemas.events import ComplaintSubmitted, RecipientRole
from services.notify.domain import ANONYMOUS_DISPLAY, complainant_channel, contact_from, plan
from services.notify.rendering import TemplateRenderer
from tests import factories


def submitted(*, anonymous: bool, reporter: ReporterContact) -> ComplaintSubmitted:
    return factories.submitted("LPR-AAAAA-BBBBB", anonymous=anonymous, reporter=reporter)


ROUTED = factories.routed(
    "LPR-AAAAA-BBBBB", agency_id="dinas-pupr-kota-ambon", agency_name="Dinas PUPR Kota Ambon"
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
    deadline = factories.deadline_set("LPR-AAAAA-BBBBB", agency_id="dinas-pupr-kota-ambon")
    [message] = plan(deadline, contact_from(event))
    body = TemplateRenderer().render(message.template, message.context).body
    assert "01-12-2026 23:59 WIT" in body
    assert "5 hari kerja" in body
    assert "tindak lanjut pertama" in body


def test_dedup_key_is_per_event_recipient_and_channel() -> None:
    event = submitted(anonymous=False, reporter=ReporterContact(email="s@x.id"))
    keys = {m.key("evt-1") for m in plan(ROUTED, contact_from(event))}
    assert keys == {
        "evt-1:complainant:complainant:email",
        "evt-1:agency:dinas-pupr-kota-ambon:inbox",
    }
