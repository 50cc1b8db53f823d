"""Notify on the real broker and database, delivering to a real SMTP server, an SMS gateway and
an agency app over HTTP: once per event, recipient and channel; retries, then dead letters;
signed webhooks; digests; a slow channel holding up no other; privacy of anonim reporters."""

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from devstack.mailsink import MailSink
from schemas.complaint import ComplaintStatus, LifecycleAction, ReporterContact, Role
from schemas.envelope import Event
from schemas.events import (
    NotificationFailed,
    NotificationSent,
    NotificationUndeliverable,
    SlaBreached,
    SlaStage,
)
from schemas.topics import COMPLAINT_EVENTS, NOTIFICATION_EVENTS, UNDELIVERABLE_NOTIFICATIONS
from services.intake.domain import new_tracking_id
from services.notify.app import create_app
from services.notify.channels import email_message_id
from services.notify.config import NotifySettings
from services.notify.store import FILES
from tests import factories
from tests.conftest import service_env
from tests.receivers import AgencyApp, SmsGateway
from tests.support import (
    as_event,
    bearer,
    eventually,
    payloads,
    publish,
    read_topic,
    running,
    serving,
)

SECRETS = ("Siti Rahma", "siti@example.id", "6281234567890")
ADMIN = bearer(Role.NATIONAL_ADMIN, "admin")
AGENCY = "dinas-pupr-kota-ambon"
AGENCY_ADMIN = bearer(Role.AGENCY_ADMIN, "kabid", agency=AGENCY)
WEBHOOK_SECRET = "w" * 40
SMS_TOKEN = "gateway-token"
MAX_ATTEMPTS = 3


@pytest.fixture(scope="module")
def mail() -> Iterator[MailSink]:
    sink = MailSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def gateway() -> SmsGateway:
    return SmsGateway(token=SMS_TOKEN)


@pytest.fixture(scope="module")
def agency_app() -> AgencyApp:
    return AgencyApp(secret=WEBHOOK_SECRET)


@pytest.fixture(scope="module")
async def urls(gateway: SmsGateway, agency_app: AgencyApp) -> AsyncIterator[dict[str, str]]:
    async with serving(gateway.app()) as sms, serving(agency_app.app()) as hooks:
        yield {"sms": f"{sms}/send", "hook": f"{hooks}/hook"}


@pytest.fixture(scope="module")
async def client(
    bootstrap: str,
    mongo_url: str,
    db_suffix: str,
    mail: MailSink,
    urls: dict[str, str],
    intake_keys: str,
) -> AsyncIterator[httpx.AsyncClient]:
    settings = NotifySettings(
        **service_env(bootstrap, mongo_url, f"it_notify_{db_suffix}"),  # type: ignore[arg-type]
        notify_intake_url=intake_keys,
        outbox_poll_seconds=0.2,
        notify_smtp_host="127.0.0.1",
        notify_smtp_port=mail.port,
        notify_smtp_starttls=False,
        notify_sms_gateway_url=urls["sms"],
        notify_sms_gateway_token=SMS_TOKEN,
        notify_max_attempts=MAX_ATTEMPTS,
        notify_backoff_base_seconds=0.4,
        notify_backoff_cap_seconds=2,
        notify_dispatch_poll_seconds=0.1,
        notify_digest_window_seconds=1.5,
        notify_send_timeout_seconds=8,
    )
    async with running(create_app(settings)) as client:
        officer = {"agency_id": AGENCY, "name": "Budi Liaison", "email": "budi@pupr.ambon.go.id"}
        assert (
            await client.put("/v1/officers/budi", json=officer, headers=ADMIN)
        ).status_code == 200
        boss = {"agency_id": AGENCY, "name": "Kadis", "roles": ["supervisor"], "phone": "+62811999"}
        assert (await client.put("/v1/officers/kadis", json=boss, headers=ADMIN)).status_code == 200
        hook = {"url": urls["hook"], "secret": WEBHOOK_SECRET}
        assert (
            await client.put(f"/v1/webhooks/{AGENCY}", json=hook, headers=AGENCY_ADMIN)
        ).status_code == 204
        yield client


def forwarded(cid: str) -> Event:
    return as_event(
        factories.status_changed(
            cid, agency_id=AGENCY, to_status=ComplaintStatus.FORWARDED_TO_AGENCY
        )
    )


async def log_of(client: httpx.AsyncClient, cid: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await client.get(f"/v1/messages/{cid}", headers=ADMIN)).json()
    return found


async def settled(client: httpx.AsyncClient, cid: str, count: int) -> list[dict[str, Any]]:
    async def done() -> list[dict[str, Any]] | None:
        found = await log_of(client, cid)
        finished = [m for m in found if m["status"] in ("sent", "failed")]
        return found if len(found) >= count and len(finished) == len(found) else None

    result: list[dict[str, Any]] = await eventually(done, timeout=40)
    return result


async def test_each_message_is_delivered_once_and_anonim_stays_hidden_from_the_agency(
    client: httpx.AsyncClient,
    bootstrap: str,
    mail: MailSink,
    agency_app: AgencyApp,
    mongo: AsyncMongoClient[Any],
    db_suffix: str,
) -> None:
    cid = new_tracking_id()
    reporter = ReporterContact(name=SECRETS[0], email=SECRETS[1], phone="+" + SECRETS[2])
    submitted = as_event(factories.submitted(cid, anonymous=True, reporter=reporter))
    forward = forwarded(cid)
    # Redelivered events (a producer retry, a consumer restart) change nothing.
    await publish(bootstrap, COMPLAINT_EVENTS.name, [submitted, forward, submitted, forward])

    messages = await settled(client, cid, 5)
    assert sorted((m["recipient"], m["channel"], m["template"]) for m in messages) == [
        (f"agency:{AGENCY}", "webhook", "agency_new_assignment"),
        ("budi", "email", "agency_new_assignment"),
        ("budi", "inbox", "agency_new_assignment"),
        ("complainant", "email", "complaint_forwarded"),
        ("complainant", "email", "complaint_submitted"),
    ]
    assert all(m["status"] == "sent" for m in messages)
    ids = {m["id"] for m in messages if m["channel"] == "email"}
    delivered = [r for r in mail.received if r.message_id in {email_message_id(i) for i in ids}]
    assert len(delivered) == 3 == len({r.message_id for r in delivered})
    to_officer = next(r for r in delivered if r.to == ("budi@pupr.ambon.go.id",))
    assert "Anonim" in to_officer.body and all(s not in to_officer.body for s in SECRETS)
    [hook] = [a for a in agency_app.accepted if cid.encode() in a["body"]]
    assert b"Anonim" in hook["body"] and all(s.encode() not in hook["body"] for s in SECRETS)

    seen = await read_topic(
        bootstrap,
        NOTIFICATION_EVENTS.name,
        until=lambda rs: len(payloads(rs, cid, NotificationSent)) >= 5,
    )
    sent = payloads(seen, cid, NotificationSent)
    assert len(sent) == 5 == len({s.notification_id for s in sent})
    assert all(SECRETS[1] not in s.model_dump_json() for s in sent)

    # Notify keeps the reporter's contact details as the event brought them: sealed under the
    # report's key, which it never stores (it asks intake for it).
    stored = await mongo[f"it_notify_{db_suffix}"][FILES].find_one({"_id": cid})
    assert stored is not None and set(stored["reporter"]) == {"report_sealed"}
    assert SECRETS[1] not in str(stored)

    officer = bearer(Role.AGENCY_ADMIN, "budi", agency=AGENCY)
    inbox = (await client.get("/v1/inbox", headers=officer)).json()
    assert [m["template"] for m in inbox if m["complaint_id"] == cid] == ["agency_new_assignment"]


async def test_a_holder_change_published_again_later_does_not_undo_a_newer_one(
    client: httpx.AsyncClient,
    bootstrap: str,
    mongo: AsyncMongoClient[Any],
    db_suffix: str,
) -> None:
    """A relay that died between publishing and deleting publishes its last events again,
    after whatever came meanwhile: the complaint's file must still name its current holder,
    whose officers hear of its deadlines."""
    cid = new_tracking_id()
    submitted = as_event(factories.submitted(cid, reporter=ReporterContact(email="a@b.id")))
    first = forwarded(cid)
    moved = as_event(
        factories.status_changed(
            cid,
            action=LifecycleAction.FORWARD_TO_UNIT,
            from_status=ComplaintStatus.FORWARDED_TO_AGENCY,
            to_status=ComplaintStatus.FORWARDED_TO_UNIT,
            agency_id=AGENCY,
            unit_id="bidang-jalan",
        )
    )
    await publish(bootstrap, COMPLAINT_EVENTS.name, [submitted, first, moved, first, submitted])
    files = mongo[f"it_notify_{db_suffix}"][FILES]

    async def caught_up() -> dict[str, Any] | None:
        found = await files.find_one({"_id": cid})
        return found if found and len(found.get("applied", ())) == 2 else None

    stored = await eventually(caught_up)
    await asyncio.sleep(1)  # the copies published again come after: they must change nothing
    stored = await files.find_one({"_id": cid})
    assert stored is not None
    assert (stored["agency_id"], stored["unit_id"]) == (AGENCY, "bidang-jalan")
    assert stored["applied"] == [first.id, moved.id]
    receipts = [m for m in await log_of(client, cid) if m["template"] == "complaint_submitted"]
    assert len(receipts) == 1


async def test_a_failing_sms_gateway_is_retried_with_backoff_then_dead_lettered(
    client: httpx.AsyncClient, bootstrap: str, gateway: SmsGateway
) -> None:
    cid, phone = new_tracking_id(), "+62812000111"
    gateway.failing[phone] = 503
    await publish(
        bootstrap,
        COMPLAINT_EVENTS.name,
        [as_event(factories.submitted(cid, reporter=ReporterContact(phone=phone)))],
    )
    [message] = await settled(client, cid, 1)
    assert (message["status"], message["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert [a["outcome"] for a in message["attempt_log"]] == ["retry", "retry", "failed"]
    tries = [at for at, to in gateway.attempts if to == phone]
    gaps = [b - a for a, b in itertools.pairwise(tries)]
    assert len(tries) == MAX_ATTEMPTS and gaps[0] >= 0.2 and gaps[1] >= 0.4  # base 0.4, doubling

    seen = await read_topic(
        bootstrap,
        NOTIFICATION_EVENTS.name,
        until=lambda rs: bool(payloads(rs, cid, NotificationFailed)),
    )
    # The outbox publishes at least once (consumers drop repeats by ce_id): one failure, maybe
    # seen twice after a broker hiccup.
    failures = payloads(seen, cid, NotificationFailed)
    assert {f.notification_id for f in failures} == {message["id"]}
    failed = failures[0]
    assert (failed.attempts, failed.error) == (MAX_ATTEMPTS, "SMS gateway answered 503")
    dead = await read_topic(
        bootstrap,
        UNDELIVERABLE_NOTIFICATIONS.name,
        until=lambda rs: bool(payloads(rs, message["id"], NotificationUndeliverable)),
    )
    letter = payloads(dead, message["id"], NotificationUndeliverable)[0]
    assert letter.complaint_id == cid and phone not in letter.model_dump_json()

    # The gateway is fixed; the national admin re-queues the message and it goes out.
    gateway.failing.pop(phone)
    assert (
        await client.post(f"/v1/deliveries/{message['id']}/retry", headers=AGENCY_ADMIN)
    ).status_code == 403
    again = await client.post(f"/v1/deliveries/{message['id']}/retry", headers=ADMIN)
    assert again.status_code == 200
    [redelivered] = await settled(client, cid, 1)
    assert redelivered["status"] == "sent"
    assert [p["to"] for p in gateway.accepted].count(phone) == 1
    # The log keeps every attempt, who re-queued it, and the count goes on from there.
    assert [a["outcome"] for a in redelivered["attempt_log"]] == [
        "retry",
        "retry",
        "failed",
        "requeued",
        "sent",
    ]
    assert redelivered["attempt_log"][3]["by"] == "national_admin:admin"
    assert redelivered["attempts"] == MAX_ATTEMPTS + 1


async def test_a_refusal_is_not_retried(
    client: httpx.AsyncClient, bootstrap: str, gateway: SmsGateway
) -> None:
    cid, phone = new_tracking_id(), "+62812000222"
    gateway.failing[phone] = 400
    await publish(
        bootstrap,
        COMPLAINT_EVENTS.name,
        [as_event(factories.submitted(cid, reporter=ReporterContact(phone=phone)))],
    )
    [message] = await settled(client, cid, 1)
    assert (message["status"], message["attempts"]) == ("failed", 1)
    assert message["last_error"] == "SMS gateway refused it with 400"


async def test_a_slow_mail_server_holds_up_no_other_channel(
    client: httpx.AsyncClient, bootstrap: str, mail: MailSink, gateway: SmsGateway
) -> None:
    by_mail, by_sms = new_tracking_id(), new_tracking_id()
    mail.slow_down(3)
    try:
        await publish(
            bootstrap,
            COMPLAINT_EVENTS.name,
            [
                as_event(factories.submitted(by_mail, reporter=ReporterContact(email="x@y.id"))),
                as_event(factories.submitted(by_sms, reporter=ReporterContact(phone="+62813777"))),
            ],
        )
        [sms] = await settled(client, by_sms, 1)

        async def logged() -> list[dict[str, Any]] | None:
            return await log_of(client, by_mail) or None  # its partition may come later

        [email] = await eventually(logged)
        assert sms["status"] == "sent"
        assert email["status"] in ("pending", "sending")  # still on the slow server
    finally:
        mail.slow_down(0)
    [email] = await settled(client, by_mail, 1)
    assert email["status"] == "sent"


async def test_a_flood_of_breaches_reaches_the_supervisor_as_one_digest(
    client: httpx.AsyncClient, bootstrap: str, gateway: SmsGateway
) -> None:
    complaints = [new_tracking_id() for _ in range(5)]
    events: list[Event] = []
    for cid in complaints:
        events.append(as_event(factories.submitted(cid, reporter=ReporterContact(email="a@b.id"))))
        events.append(forwarded(cid))
        events.append(
            as_event(
                SlaBreached(
                    complaint_id=cid,
                    stage=SlaStage.COMPLETION,
                    agency_id=AGENCY,
                    holder="agency",
                    due_at=factories.NOW,
                    breached_at=factories.NOW,
                    level=2,
                    escalate_to="national_admin",
                )
            )
        )
    await publish(bootstrap, COMPLAINT_EVENTS.name, events)

    async def digested() -> bool:
        return any(p["to"] == "+62811999" for p in gateway.accepted)

    await eventually(digested, timeout=40)
    await asyncio.sleep(2)  # nothing more arrives after the digest
    texts = [p for p in gateway.accepted if p["to"] == "+62811999"]
    assert len(texts) == 1
    assert "5" in texts[0]["text"].splitlines()[0]  # "Ringkasan: 5 pemberitahuan"
    for cid in complaints:
        assert cid in texts[0]["text"]
    logs = [
        m
        for cid in complaints
        for m in await log_of(client, cid)
        if m["recipient"] == "kadis" and m["channel"] == "sms"
    ]
    assert (
        len(logs) == 5
        and {m["digest_of"] for m in logs} == {5}
        and {m["status"] for m in logs} == {"sent"}
    )


async def test_webhook_replays_and_forgeries_are_refused_by_the_receiver(
    client: httpx.AsyncClient, bootstrap: str, agency_app: AgencyApp, urls: dict[str, str]
) -> None:
    cid = new_tracking_id()
    await publish(
        bootstrap,
        COMPLAINT_EVENTS.name,
        [
            as_event(factories.submitted(cid, reporter=ReporterContact(email="a@b.id"))),
            forwarded(cid),
        ],
    )
    await settled(client, cid, 4)
    [genuine] = [a for a in agency_app.accepted if cid.encode() in a["body"]]
    headers = {k: v for k, v in genuine["headers"].items() if k.lower().startswith("x-lapor")}
    async with httpx.AsyncClient() as outsider:
        replayed = await outsider.post(urls["hook"], content=genuine["body"], headers=headers)
        forged = await outsider.post(urls["hook"], content=genuine["body"] + b" ", headers=headers)
    assert (replayed.status_code, forged.status_code) == (401, 401)
    assert agency_app.refused[-2:] == [
        "delivery already accepted (replay)",
        "signature does not match",
    ]


async def test_preferences_inbox_and_who_may_manage_officers(
    client: httpx.AsyncClient, bootstrap: str, mail: MailSink
) -> None:
    citizen = bearer(Role.CITIZEN, "warga-1")
    quiet = {"updates": False, "locale": "en"}
    assert (await client.put("/v1/preferences/me", json=quiet, headers=citizen)).json()[
        "updates"
    ] is False
    cid = new_tracking_id()
    submitted = factories.submitted(
        cid, reporter=ReporterContact(email="w1@x.id"), reporter_account="warga-1"
    )
    await publish(bootstrap, COMPLAINT_EVENTS.name, [as_event(submitted), forwarded(cid)])
    messages = await settled(client, cid, 5)
    mine = sorted(
        (m["recipient"], m["channel"], m["template"], m["locale"])
        for m in messages
        if m["recipient_role"] == "complainant"
    )
    # The receipt is mandatory; the optional "forwarded" message was opted out of.
    assert mine == [
        ("complainant", "email", "complaint_submitted", "en"),
        ("warga-1", "inbox", "complaint_submitted", "en"),
    ]
    inbox = (await client.get("/v1/inbox", headers=citizen)).json()
    assert [m["subject"] for m in inbox] == [f"Your report was received: {cid}"]
    other = bearer(Role.CITIZEN, "warga-2")
    assert (await client.post(f"/v1/inbox/{inbox[0]['id']}/read", headers=other)).status_code == 404
    assert (
        await client.post(f"/v1/inbox/{inbox[0]['id']}/read", headers=citizen)
    ).status_code == 204
    assert (await client.get("/v1/inbox", headers=citizen)).json()[0]["read_at"] is not None

    # Their copy of what notify holds about them (UU 27/2022 Pasal 7): their choices, and
    # what went to their e-mail (address opened) and inbox; no one else's.
    export = await client.get("/v1/me/notification-data", headers=citizen)
    assert export.status_code == 200
    data = export.json()
    assert data["preferences"]["locale"] == "en" and data["messages_truncated"] is False
    assert sorted((m["channel"], m["address"]) for m in data["messages"]) == [
        ("email", "w1@x.id"),
        ("inbox", None),
    ]
    assert {m["complaint_id"] for m in data["messages"]} == {cid}
    assert (await client.get("/v1/me/notification-data", headers=other)).json()["messages"] == []
    assert (await client.get("/v1/me/notification-data", headers=ADMIN)).status_code == 403

    stranger = bearer(Role.AGENCY_ADMIN, "x", agency="pemkot-padang")
    officer = {"agency_id": AGENCY, "name": "Penyusup"}
    assert (
        await client.put("/v1/officers/intruder", json=officer, headers=stranger)
    ).status_code == 403
    assert (
        await client.get(f"/v1/officers?agency_id={AGENCY}", headers=stranger)
    ).status_code == 403
    assert (await client.get(f"/v1/webhooks/{AGENCY}", headers=AGENCY_ADMIN)).json() == {
        "agency_id": AGENCY,
        "url": (await client.get(f"/v1/webhooks/{AGENCY}", headers=ADMIN)).json()["url"],
    }
    weak = await client.put(
        f"/v1/webhooks/{AGENCY}", json={"url": "http://x", "secret": "short"}, headers=ADMIN
    )
    assert weak.status_code == 422
    assert (await client.get(f"/v1/messages/{cid}")).status_code == 401
    audited = (await client.get(f"/v1/messages/{cid}", headers=bearer(Role.AUDITOR, "bpk"))).json()
    assert all("address" not in m for m in audited)
