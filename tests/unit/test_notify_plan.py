"""Who hears what: recipients, channels, preferences, templates in both locales, and the anonim
reporter kept from the agency side."""

import email.policy
import random
import re
from datetime import UTC, datetime, time, timedelta
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from schemas.complaint import ComplaintStatus, LifecycleAction, ReporterContact
from schemas.events import (
    ComplaintSubmittedV1,
    RecipientRole,
    SlaBreached,
    SlaStage,
    SlaWarningIssued,
)
from services.notify import rendering
from services.notify.channels import Outgoing, compose_email
from services.notify.domain import (
    ANONYMOUS_DISPLAY,
    Audience,
    ComplaintFile,
    Officer,
    PlannedMessage,
    Preferences,
    calls_for_messages,
    file_from,
    holder_fields,
    plan,
)
from services.notify.policy import KINDS, QuietHours, backoff, first_send_at
from services.notify.rendering import LOCALES, TemplateRenderer
from services.notify.signing import InvalidDelivery, ReplayGuard, signed_headers, verify
from tests import factories

CID = "LPR-AAAAA-BBBBB"
AGENCY = "dinas-pupr-kota-ambon"
SECRETS = ("Siti Rahma", "siti@example.id", "6281234567890")
LIAISON = Officer(officer_id="budi", agency_id=AGENCY, name="Budi", email="budi@pupr.ambon.go.id")
UNIT_OFFICER = Officer(
    officer_id="rina", agency_id=AGENCY, unit_id="bina-marga", name="Rina", phone="+62811000001"
)
SUPERVISOR = Officer(
    officer_id="kadis", agency_id=AGENCY, roles=("supervisor",), name="Kepala Dinas"
)
OFFICERS = Audience(
    officers=(LIAISON, UNIT_OFFICER, SUPERVISOR), webhook_agencies=frozenset({AGENCY})
)
renderer = TemplateRenderer()


def submitted(
    *, anonymous: bool = False, reporter: ReporterContact | None = None, **more: Any
) -> ComplaintSubmittedV1:
    """The submission with its contact details in clear (as notify opens version 2's)."""
    contact = reporter or ReporterContact(name=SECRETS[0], email=SECRETS[1], phone="+" + SECRETS[2])
    return factories.submitted_v1(CID, anonymous=anonymous, reporter=contact, **more)


def filed(event: ComplaintSubmittedV1) -> ComplaintFile:
    return file_from(event, event.reporter)


def held(file: ComplaintFile, unit: str | None = None) -> ComplaintFile:
    return ComplaintFile(
        **{**file.__dict__, "agency_id": AGENCY, "agency_name": "Dinas PUPR", "unit_id": unit}
    )


def changed(action: LifecycleAction, to: ComplaintStatus, **more: Any) -> Any:
    return factories.status_changed(
        CID, action=action, to_status=to, **{"agency_id": AGENCY, **more}
    )


def text_of(message: PlannedMessage) -> str:
    rendered = renderer.render(message.template, message.context, message.locale)
    return rendered.subject + "\n" + rendered.body


def test_submission_gives_the_complainant_the_tracking_id_on_their_channel_and_inbox() -> None:
    event = submitted(reporter_account="citizen-7")
    messages = plan(event, filed(event), Audience())
    assert {(m.recipient, m.channel) for m in messages} == {
        ("complainant", "email"),
        ("citizen-7", "inbox"),
    }
    assert CID in text_of(messages[0]) and "24-11-2026 12:00 WIT" in text_of(messages[0])


def test_sms_when_the_reporter_gave_only_a_phone() -> None:
    event = submitted(reporter=ReporterContact(phone="+62811111111"))
    [message] = plan(event, filed(event), Audience())
    assert (message.channel, message.address) == ("sms", "+62811111111")


def test_forwarding_tells_the_complainant_the_officers_and_the_agency_app() -> None:
    file = held(filed(submitted()))
    messages = plan(
        changed(LifecycleAction.FORWARD, ComplaintStatus.FORWARDED_TO_AGENCY), file, OFFICERS
    )
    assert {(m.recipient_role, m.recipient, m.channel) for m in messages} == {
        (RecipientRole.COMPLAINANT, "complainant", "email"),
        (RecipientRole.AGENCY, "budi", "inbox"),
        (RecipientRole.AGENCY, "budi", "email"),
        (RecipientRole.AGENCY, f"agency:{AGENCY}", "webhook"),
    }


def test_disposition_reaches_the_units_officers() -> None:
    file = held(filed(submitted()), unit="bina-marga")
    event = changed(
        LifecycleAction.FORWARD_TO_UNIT, ComplaintStatus.FORWARDED_TO_UNIT, unit_id="bina-marga"
    )
    messages = plan(event, file, OFFICERS)
    assert {(m.recipient, m.channel) for m in messages} == {
        ("rina", "inbox"),
        ("rina", "sms"),
        (f"agency:{AGENCY}", "webhook"),
    }
    assert "bina-marga" in text_of(messages[0])


@pytest.mark.parametrize(
    ("action", "to", "template"),
    [
        (LifecycleAction.DEFER, ComplaintStatus.DEFERRED, "complaint_deferred"),
        (LifecycleAction.REJECT, ComplaintStatus.REJECTED, "complaint_rejected"),
        (LifecycleAction.FOLLOW_UP, ComplaintStatus.IN_FOLLOW_UP, "complaint_follow_up"),
        (LifecycleAction.ANSWER, ComplaintStatus.ANSWERED, "complaint_answered"),
        (LifecycleAction.CLOSE, ComplaintStatus.CLOSED, "complaint_closed"),
        (LifecycleAction.AUTO_CLOSE, ComplaintStatus.CLOSED, "complaint_closed"),
        (LifecycleAction.REPLY, ComplaintStatus.REOPENED, "complaint_reopened"),
    ],
)
def test_the_complainant_hears_of_each_step(
    action: LifecycleAction, to: ComplaintStatus, template: str
) -> None:
    file = held(filed(submitted()))
    messages = plan(
        changed(action, to, text="Tim sudah ke lokasi", reason="alasan"), file, OFFICERS
    )
    [mine] = [m for m in messages if m.recipient_role is RecipientRole.COMPLAINANT]
    assert mine.template == template


def test_supporters_of_a_public_report_hear_of_progress_but_not_of_a_rahasia_one() -> None:
    public = held(filed(submitted()))
    public = ComplaintFile(**{**public.__dict__, "supporters": ("fan-1", "fan-2")})
    event = changed(LifecycleAction.ANSWER, ComplaintStatus.ANSWERED, text="Sudah diperbaiki")
    supporters = [
        m for m in plan(event, public, Audience()) if m.recipient_role is RecipientRole.SUPPORTER
    ]
    assert {(m.recipient, m.channel) for m in supporters} == {
        ("fan-1", "inbox"),
        ("fan-2", "inbox"),
    }
    secret = ComplaintFile(**{**public.__dict__, "confidential": True})
    assert not [
        m for m in plan(event, secret, Audience()) if m.recipient_role is RecipientRole.SUPPORTER
    ]


def test_warnings_go_to_whoever_holds_it_and_breaches_climb() -> None:
    at_unit = held(filed(submitted()), unit="bina-marga")
    warning = SlaWarningIssued(
        complaint_id=CID,
        stage=SlaStage.COMPLETION,
        agency_id=AGENCY,
        holder="unit",
        due_at=factories.NOW + timedelta(days=1),
        issued_at=factories.NOW,
    )
    assert {m.recipient for m in plan(warning, at_unit, OFFICERS)} == {"rina"}
    breach = SlaBreached(
        complaint_id=CID,
        stage=SlaStage.COMPLETION,
        agency_id=AGENCY,
        holder="unit",
        due_at=factories.NOW,
        breached_at=factories.NOW,
        level=1,
        escalate_to="agency_admin",
    )
    assert {m.recipient for m in plan(breach, at_unit, OFFICERS)} == {"budi"}
    beyond = breach.model_copy(update={"escalate_to": "national_admin"})
    [escalation] = plan(beyond, at_unit, OFFICERS)
    assert (escalation.recipient, escalation.template) == ("kadis", "supervisor_escalation")
    assert "penyelesaian" in text_of(escalation)


def test_the_agency_side_never_sees_an_anonymous_reporters_identity() -> None:
    file = held(filed(submitted(anonymous=True)))
    for event in (
        changed(LifecycleAction.FORWARD, ComplaintStatus.FORWARDED_TO_AGENCY),
        changed(LifecycleAction.REPLY, ComplaintStatus.REOPENED, text="Belum beres"),
    ):
        for message in plan(event, file, OFFICERS):
            if message.recipient_role is RecipientRole.COMPLAINANT:
                assert message.channel == "email"  # only the channel the reporter gave
                continue
            body = text_of(message) + repr(message.context)
            assert all(secret not in body for secret in SECRETS)
            assert ANONYMOUS_DISPLAY in body


def test_a_named_reporter_is_shown_to_the_agency() -> None:
    file = held(filed(submitted()))
    message = next(
        m
        for m in plan(
            changed(LifecycleAction.FORWARD, ComplaintStatus.FORWARDED_TO_AGENCY), file, OFFICERS
        )
        if m.recipient == "budi"
    )
    assert SECRETS[0] in text_of(message)


def test_preferences_choose_channel_locale_and_opt_out_of_optional_messages() -> None:
    event = submitted(reporter_account="citizen-7")
    file = held(filed(event))
    prefers_sms = Audience(complainant_preferences=Preferences(channels=("sms",), locale="en"))
    [sms, _inbox] = plan(
        changed(LifecycleAction.FOLLOW_UP, ComplaintStatus.IN_FOLLOW_UP, text="x"),
        file,
        prefers_sms,
    )
    assert (sms.channel, sms.locale) == ("sms", "en") and "Follow-up" in text_of(sms)
    quiet = Audience(complainant_preferences=Preferences(updates=False))
    assert (
        plan(
            changed(LifecycleAction.FOLLOW_UP, ComplaintStatus.IN_FOLLOW_UP, text="x"), file, quiet
        )
        == []
    )
    # The answer is mandatory: an opt-out does not silence it.
    assert plan(changed(LifecycleAction.ANSWER, ComplaintStatus.ANSWERED, text="x"), file, quiet)


def test_keys_are_per_event_recipient_and_channel() -> None:
    file = held(filed(submitted()))
    keys = {
        m.key("evt-1")
        for m in plan(
            changed(LifecycleAction.FORWARD, ComplaintStatus.FORWARDED_TO_AGENCY), file, OFFICERS
        )
    }
    assert keys == {
        "evt-1:complainant:complainant:email",
        "evt-1:agency:budi:email",
        "evt-1:agency:budi:inbox",
        f"evt-1:agency:agency:{AGENCY}:webhook",
    }


def test_the_file_follows_the_holder() -> None:
    to_unit = changed(
        LifecycleAction.FORWARD_TO_UNIT, ComplaintStatus.FORWARDED_TO_UNIT, unit_id="bina-marga"
    )
    assert holder_fields(to_unit) == {"agency_id": AGENCY, "unit_id": "bina-marga"}
    back = changed(LifecycleAction.FORWARD, ComplaintStatus.FORWARDED_TO_AGENCY, unit_id=None)
    assert holder_fields(back) == {"agency_id": AGENCY, "unit_id": None}
    # A re-route by hand names an agency routing never did: its name replaces the old one.
    by_hand = changed(
        LifecycleAction.REROUTE,
        ComplaintStatus.FORWARDED_TO_AGENCY,
        agency_id="dinas-pupr-kota-padang",
        agency_name="Dinas PUPR Kota Padang",
    )
    assert holder_fields(by_hand) == {
        "agency_id": "dinas-pupr-kota-padang",
        "unit_id": None,
        "agency_name": "Dinas PUPR Kota Padang",
    }


def test_every_template_renders_in_both_locales() -> None:
    context = {
        "tracking_id": CID,
        "title": "Jalan rusak",
        "category": "infrastruktur.jalan",
        "region_code": "81.71",
        "report_type": "pengaduan",
        "agency_name": "Dinas PUPR",
        "submitted_at": "x",
        "reason": "r",
        "text": "t",
        "due_local": "d",
        "into": "LPR-X",
        "status": "answered",
        "reporter_display": "Anonim",
        "by_rule": False,
        "unit_id": "u",
        "stage_label": "s",
        "level": 1,
        "escalate_to": "e",
        "working_days": 5,
        "items": ["a", "b"],
    }
    names = set(renderer.templates("id"))
    assert names == set(renderer.templates("en")) == set(KINDS) | {"digest"}
    for locale in LOCALES:
        for name in names:
            rendered = renderer.render(name, context, locale)
            assert rendered.subject and rendered.body, (locale, name)
    assert "Laporan" in renderer.render("complaint_submitted", context, "id").subject
    assert "report" in renderer.render("complaint_submitted", context, "en").subject


def test_quiet_hours_hold_non_urgent_messages_until_morning() -> None:
    quiet = QuietHours(start=time(21), end=time(7), time_zone="Asia/Jayapura")
    late = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)  # 23:30 WIT
    window = timedelta(0)
    assert first_send_at(
        late, KINDS["complaint_follow_up"], quiet, digest_window=window
    ) == datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    assert (
        first_send_at(late, KINDS["complaint_submitted"], quiet, digest_window=window) == late
    )  # urgent
    noon = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 12:00 WIT
    assert quiet.release(noon) == noon
    with pytest.raises(ValueError, match="differ"):
        QuietHours(start=time(7), end=time(7))


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    waits = [backoff(n, base=2, cap=60, rng=rng).total_seconds() for n in range(1, 9)]
    for n, wait in enumerate(waits, start=1):
        ceiling = min(60, 2 * 2 ** (n - 1))
        assert ceiling / 2 <= wait <= ceiling
    assert max(waits) <= 60


def test_webhook_signatures_verify_and_refuse_tampering_staleness_and_replay() -> None:
    body = b'{"delivery_id": "d1"}'
    headers = signed_headers("s" * 32, timestamp=1_000, delivery_id="d1", body=body)
    guard = ReplayGuard()
    assert verify("s" * 32, headers, body, now=1_010, guard=guard) == "d1"
    with pytest.raises(InvalidDelivery, match="replay"):
        verify("s" * 32, headers, body, now=1_020, guard=guard)
    with pytest.raises(InvalidDelivery, match="does not match"):
        verify("s" * 32, headers, body + b" ", now=1_010)
    with pytest.raises(InvalidDelivery, match="does not match"):
        verify("t" * 32, headers, body, now=1_010)
    with pytest.raises(InvalidDelivery, match="tolerance"):
        verify("s" * 32, headers, body, now=1_000 + 301)
    with pytest.raises(InvalidDelivery, match="missing"):
        verify("s" * 32, {}, body, now=1_000)


def test_officers_are_validated() -> None:
    with pytest.raises(ValueError, match="officer_id"):
        Officer(officer_id="x", agency_id=AGENCY, name="X")  # an ID of one character
    with pytest.raises(ValueError, match="roles"):
        Officer(officer_id="xy", agency_id=AGENCY, name="X Y", roles=())


def test_quiet_hours_refuse_unknown_zones_and_offsets_as_validation_errors() -> None:
    # Found by schemathesis: these used to escape as 500s.
    with pytest.raises(ValueError, match="not a known time zone"):
        QuietHours(start=time(21), end=time(7), time_zone="Mars/Olympus")
    with pytest.raises(ValueError, match="without an offset"):
        QuietHours.model_validate({"start": "21:00Z", "end": "07:00", "time_zone": "Asia/Jakarta"})


def test_an_officer_body_checks_the_email_like_the_officer() -> None:
    from services.notify.domain import OfficerBody

    with pytest.raises(ValueError, match="email"):
        OfficerBody.model_validate({"agency_id": AGENCY, "name": "Budi", "email": ""})


@pytest.mark.parametrize("stage", list(SlaStage))
@pytest.mark.parametrize("agency", [AGENCY, None])
def test_a_deadline_notify_skips_unread_is_one_no_file_could_turn_into_a_message(
    stage: SlaStage, agency: str | None
) -> None:
    """Notify reads nothing for an event ``calls_for_messages`` rules out: that is only right if
    no file and no audience would have given it a message."""
    deadline = factories.deadline_set(CID, stage=stage, agency_id=agency)
    file = held(filed(submitted(reporter_account="citizen-7")))
    messages = plan(deadline, file, OFFICERS)
    assert calls_for_messages(deadline) == bool(messages)
    if messages:
        assert {m.recipient for m in messages} == {"budi"}


def test_times_are_in_the_zone_of_the_reports_place() -> None:
    event = submitted()  # Ambon: WIT, 03:00 UTC is noon
    [receipt, *_] = plan(event, filed(event), Audience())
    assert receipt.context["submitted_at"] == "24-11-2026 12:00 WIT"
    padang = submitted(region_code="13.71")
    [receipt, *_] = plan(padang, filed(padang), Audience())
    assert receipt.context["submitted_at"] == "24-11-2026 10:00 WIB"


def test_an_english_reader_reads_english_labels_for_who_reported() -> None:
    english = Officer(
        officer_id="john",
        agency_id=AGENCY,
        name="John",
        email="john@pupr.ambon.go.id",
        preferences=Preferences(locale="en"),
    )
    audience = Audience(officers=(english,))
    forward = changed(LifecycleAction.FORWARD, ComplaintStatus.FORWARDED_TO_AGENCY)
    unnamed = held(filed(submitted(reporter=ReporterContact(email=SECRETS[1]))))
    anonymous = held(filed(submitted(anonymous=True)))
    for file, shown in ((unnamed, "Reporter: (no name given)"), (anonymous, "Reporter: Anonymous")):
        [message] = [
            m
            for m in plan(forward, file, audience)
            if m.channel == "email" and m.recipient == "john"
        ]
        body = text_of(message)
        assert shown in body
        assert "tanpa nama" not in body and "Anonim" not in body


def test_a_disposition_by_a_rule_is_told_in_the_units_language() -> None:
    file = held(filed(submitted()), unit="bina-marga")
    by_rule = changed(
        LifecycleAction.FORWARD_TO_UNIT,
        ComplaintStatus.FORWARDED_TO_UNIT,
        unit_id="bina-marga",
        actor_role="system",
        reason="rule pupr-ambon-jalan (category 'infrastruktur.jalan', region 81.71) matched",
    )
    [message, *_] = [m for m in plan(by_rule, file, OFFICERS) if m.recipient == "rina"]
    body = text_of(message)
    assert "menurut aturan penerusan" in body
    assert "rule" not in body and "matched" not in body
    by_hand = changed(
        LifecycleAction.FORWARD_TO_UNIT,
        ComplaintStatus.FORWARDED_TO_UNIT,
        unit_id="bina-marga",
        actor_role="agency_admin",
        reason="Jalan kota, wilayah Bina Marga",
    )
    [message, *_] = [m for m in plan(by_hand, file, OFFICERS) if m.recipient == "rina"]
    assert "Catatan: Jalan kota, wilayah Bina Marga" in text_of(message)


def test_a_long_subject_reaches_the_reader_as_written() -> None:
    context = {
        "tracking_id": CID,
        "title": "x",
        "agency_name": "Admin Nasional SP4N-LAPOR! (KemenPANRB)",
    }
    for locale in LOCALES:
        rendered = renderer.render("complaint_forwarded", context, locale)
        outgoing = Outgoing(
            message_id="m-1",
            complaint_id=CID,
            recipient="complainant",
            address="siti@example.id",
            template="complaint_forwarded",
            subject=rendered.subject,
            body=rendered.body,
        )
        raw = compose_email(outgoing, sender="lapor@example.id").as_bytes()
        received = BytesParser(policy=email.policy.default).parsebytes(raw)
        assert received["Subject"] == rendered.subject  # no leading space, nothing folded away


# What a template can say of the reporter: a variable rendered from their file.
REPORTER_VARIABLE = re.compile(r"{{[^}]*\breporter_\w+")


def test_an_erasure_replaces_exactly_the_texts_that_can_name_the_reporter() -> None:
    """Every template that renders the reporter's name is struck whole at erasure, and no
    other text changes (the complainant's own messages name nobody)."""
    from services.notify.domain import ERASED_TEXT, NAMES_THE_REPORTER, struck

    folder = Path(rendering.__file__).parent / "templates"
    for locale in LOCALES:
        texts = {t.stem: t.read_text() for t in (folder / locale).glob("*.j2")}
        naming = {name for name, text in texts.items() if REPORTER_VARIABLE.search(text)}
        assert naming == NAMES_THE_REPORTER, locale
        # Only the body is sealed under the report's key: no subject (first line) names them.
        assert not [n for n, text in texts.items() if REPORTER_VARIABLE.search(text.split("\n")[0])]
    named = held(filed(submitted()))
    [notice] = [
        m
        for m in plan(
            changed(LifecycleAction.FORWARD, ComplaintStatus.FORWARDED_TO_AGENCY), named, OFFICERS
        )
        if m.template in NAMES_THE_REPORTER and m.channel == "email"
    ]
    assert SECRETS[0] in text_of(notice)
    assert struck({"template": notice.template, "body": text_of(notice)}) == {"body": ERASED_TEXT}
    assert SECRETS[0] not in ERASED_TEXT
    assert struck({"template": "complaint_forwarded", "body": "Laporan Anda diteruskan."}) is None
