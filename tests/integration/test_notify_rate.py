"""Rate limits count per person: one complainant past the limit waits; the others do not."""

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from devstack.mailsink import MailSink
from schemas.complaint import ComplaintStatus, ReporterContact, Role
from schemas.events import ComplaintReporterErased
from schemas.topics import COMPLAINT_EVENTS
from services.intake.domain import new_tracking_id
from services.notify.app import create_app
from services.notify.config import NotifySettings
from services.notify.store import MESSAGES, QUEUE, RATES, NotifyStore
from tests import factories
from tests.conftest import service_env
from tests.support import as_event, bearer, eventually, publish, running

ADMIN = bearer(Role.NATIONAL_ADMIN, "admin")


@pytest.fixture(scope="module")
def mail() -> Iterator[MailSink]:
    sink = MailSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
async def client(
    bootstrap: str, mongo_url: str, db_suffix: str, mail: MailSink, intake_keys: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = NotifySettings(
        **service_env(bootstrap, mongo_url, f"it_notify_rate_{db_suffix}"),  # type: ignore[arg-type]
        notify_intake_url=intake_keys,
        notify_smtp_host="127.0.0.1",
        notify_smtp_port=mail.port,
        notify_smtp_starttls=False,
        notify_dispatch_poll_seconds=0.1,
        notify_rate_per_hour=2,
    )
    async with running(create_app(settings)) as client:
        yield client


async def test_a_busy_complainant_waits_and_nobody_else_does(
    client: httpx.AsyncClient, bootstrap: str, mongo: AsyncMongoClient[Any], db_suffix: str
) -> None:
    busy, quiet = "sering@example.id", "jarang@example.id"
    complaints = [(new_tracking_id(), busy) for _ in range(3)] + [(new_tracking_id(), quiet)]
    events = []
    for cid, email in complaints:
        events.append(as_event(factories.submitted(cid, reporter=ReporterContact(email=email))))
        forward = factories.status_changed(cid, to_status=ComplaintStatus.FORWARDED_TO_AGENCY)
        events.append(as_event(forward))
    await publish(bootstrap, COMPLAINT_EVENTS.name, events)

    async def log(cid: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (
            await client.get(f"/v1/messages/{cid}", headers=ADMIN)
        ).json()
        return found

    async def settled() -> dict[str, dict[str, str]] | None:
        states = {
            cid: {m["template"]: m["status"] for m in await log(cid)} for cid, _ in complaints
        }
        done = all(s.get("complaint_submitted") == "sent" for s in states.values())
        forwarded = [s.get("complaint_forwarded") for s in states.values()]
        return states if done and forwarded.count("sent") >= 3 else None

    states = await eventually(settled, timeout=30)
    # Receipts are urgent: all four went out. Of the busy complainant's three optional
    # "forwarded" messages, two fit the hour's limit and the third waits; the other
    # complainant's went out at once.
    assert all(s["complaint_submitted"] == "sent" for s in states.values())
    busy_forwarded = [
        states[cid]["complaint_forwarded"] for cid, email in complaints if email == busy
    ]
    assert sorted(busy_forwarded) == ["pending", "sent", "sent"]
    assert states[complaints[-1][0]]["complaint_forwarded"] == "sent"
    # The queue gauge counts what waits, from the queue: the one held back, nothing sent.
    counts = await NotifyStore(mongo[f"it_notify_rate_{db_suffix}"]).queue_counts()
    assert counts.get(("email", "pending")) == 1
    assert {status for _, status in counts} <= {"pending", "retrying", "sending"}


async def test_the_log_and_the_rate_counters_hold_no_address_in_clear(
    client: httpx.AsyncClient,
    bootstrap: str,
    mongo: AsyncMongoClient[Any],
    mail: MailSink,
    db_suffix: str,
) -> None:
    """The message log and the hourly counters are kept for days: the complainant's address is
    sealed in the one and a keyed fingerprint in the other, and the mail still reaches them."""
    email, phone = "rahasia.sekali@example.id", "+6281299990000"
    cid = new_tracking_id()
    contact = ReporterContact(email=email, phone=phone)
    forward = factories.status_changed(cid, to_status=ComplaintStatus.FORWARDED_TO_AGENCY)
    await publish(
        bootstrap,
        COMPLAINT_EVENTS.name,
        [as_event(factories.submitted(cid, reporter=contact)), as_event(forward)],
    )

    async def sent() -> list[dict[str, Any]] | None:
        found = (await client.get(f"/v1/messages/{cid}", headers=ADMIN)).json()
        done = [m for m in found if m["status"] == "sent" and m["channel"] == "email"]
        return found if len(done) == 2 else None

    shown = await eventually(sent, timeout=30)
    assert {m["address"] for m in shown if m["channel"] == "email"} == {email}  # the admin's view
    assert any(email in r.to for r in mail.received)
    db = mongo[f"it_notify_rate_{db_suffix}"]
    raw = json.dumps(
        [
            await db[MESSAGES].find({"complaint_id": cid}).to_list(None),
            await db[RATES].find({}).to_list(None),
            await db[QUEUE].find({}).to_list(None),
        ],
        default=str,
    )
    assert email not in raw and phone not in raw and "6281299990000" not in raw


async def test_an_erasure_cancels_what_still_waits_for_the_reporter(
    client: httpx.AsyncClient, bootstrap: str, mongo: AsyncMongoClient[Any], db_suffix: str
) -> None:
    """A message held back by the rate limit is never sent once the reporter's data is
    erased, and no message of that complaint keeps their address."""
    email = "antre.lalu.hapus@example.id"
    complaints = [new_tracking_id() for _ in range(3)]
    events = []
    for cid in complaints:
        events.append(as_event(factories.submitted(cid, reporter=ReporterContact(email=email))))
        forward = factories.status_changed(cid, to_status=ComplaintStatus.FORWARDED_TO_AGENCY)
        events.append(as_event(forward))
    await publish(bootstrap, COMPLAINT_EVENTS.name, events)

    async def held_back() -> str | None:
        """The complaint whose "forwarded" waits behind the limit, once the other two went."""
        logs = {
            cid: (await client.get(f"/v1/messages/{cid}", headers=ADMIN)).json()
            for cid in complaints
        }
        forwarded = {
            cid: next((m["status"] for m in log if m["template"] == "complaint_forwarded"), None)
            for cid, log in logs.items()
        }
        if sorted(map(str, forwarded.values())) != ["pending", "sent", "sent"]:
            return None
        return next(cid for cid, status in forwarded.items() if status == "pending")

    waiting = await eventually(held_back, timeout=30)
    erased = ComplaintReporterErased(
        complaint_id=waiting, erased_at=datetime.now(UTC), requested_by="reporter"
    )
    await publish(bootstrap, COMPLAINT_EVENTS.name, [as_event(erased)])

    async def cancelled() -> list[dict[str, Any]] | None:
        log: list[dict[str, Any]] = (
            await client.get(f"/v1/messages/{waiting}", headers=ADMIN)
        ).json()
        statuses = {m["template"]: m["status"] for m in log}
        return log if statuses.get("complaint_forwarded") == "cancelled" else None

    log = await eventually(cancelled, timeout=30)
    assert all(m["address"] is None for m in log)
    # (A sent message's entry waits for the next clean-up; it holds no address either.)
    dropped = [m["id"] for m in log if m["status"] == "cancelled"]
    queued = await mongo[f"it_notify_rate_{db_suffix}"][QUEUE].count_documents(
        {"_id": {"$in": dropped}}
    )
    assert dropped and queued == 0
