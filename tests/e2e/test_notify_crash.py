"""Notify as a process, killed with SIGKILL in the middle of delivering a batch and restarted:
no message is lost, none is recorded twice, and the only copies a receiver can see twice are
the few that were on the wire at the kill, with the same Message-ID (so the receiver can tell).

Slow (``make test-slow``): a transaction the killed process left open holds the documents it
wrote until the database reaps it (60 s, MongoDB's transactionLifetimeLimitSeconds default,
which SecantusDB follows); deliveries of those messages resume after that.
"""

import asyncio
import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from devstack.infra import EMBEDDED_BROKER_ENV, free_port
from devstack.mailsink import MailSink
from devstack.platform import start_service, wait_ready
from schemas.complaint import ReporterContact
from schemas.events import NotificationSent
from schemas.topics import COMPLAINT_EVENTS, NOTIFICATION_EVENTS
from services.intake.domain import new_tracking_id
from services.notify.channels import email_message_id
from services.notify.store import MESSAGES
from tests import factories
from tests.figures import Figures
from tests.support import as_event, eventually, payloads, publish, read_topic, subjects

pytestmark = pytest.mark.reliability

COMPLAINTS = 60
CONCURRENCY = 2


@pytest.fixture
def mail() -> Iterator[MailSink]:
    sink = MailSink().start()
    sink.slow_down(0.08)  # a batch takes a few seconds: there is a "middle" to kill in
    yield sink
    sink.stop()


@pytest.mark.slow
async def test_kill_9_mid_batch_loses_and_doubles_nothing(
    bootstrap: str,
    mongo_url: str,
    db_suffix: str,
    mongo: AsyncMongoClient[Any],
    mail: MailSink,
    tmp_path: Path,
    figures: Figures,
    intake_keys: str,
) -> None:
    database = f"e2e_notify_crash_{db_suffix}"
    env = {
        **EMBEDDED_BROKER_ENV,
        "MONGO_DATABASE": database,
        "NOTIFY_INTAKE_URL": intake_keys,
        "NOTIFY_SMTP_HOST": "127.0.0.1",
        "NOTIFY_SMTP_PORT": str(mail.port),
        "NOTIFY_SMTP_STARTTLS": "false",
        "NOTIFY_CHANNEL_CONCURRENCY": str(CONCURRENCY),
        "NOTIFY_DISPATCH_POLL_SECONDS": "0.1",
        "NOTIFY_LEASE_SECONDS": "2",
        "OUTBOX_POLL_SECONDS": "0.2",
        "KAFKA_SESSION_TIMEOUT_MS": "3000",
        "HTTP_PUBLIC_RATE_PER_MINUTE": "0",
        "KAFKA_HEARTBEAT_INTERVAL_MS": "300",
    }

    def launch() -> Any:
        server = start_service(
            "notify",
            port=free_port(),
            kafka_bootstrap=bootstrap,
            mongo_url=mongo_url,
            log_dir=tmp_path,
            extra_env=env,
        )
        wait_ready(f"http://127.0.0.1:{server.port}", timeout=60, process=server.process)
        return server

    events = [
        as_event(
            factories.submitted(
                new_tracking_id(), reporter=ReporterContact(email=f"warga{n}@example.id")
            )
        )
        for n in range(COMPLAINTS)
    ]
    first = await asyncio.to_thread(launch)
    await publish(bootstrap, COMPLAINT_EVENTS.name, events)

    async def some_delivered() -> bool:
        return len(mail.received) >= 10

    await eventually(some_delivered, timeout=60, interval=0.02)
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait()
    at_kill = len(mail.received)
    assert at_kill < COMPLAINTS  # it died mid-batch

    second = await asyncio.to_thread(launch)
    try:
        expected = {email_message_id(f"{e.id}:complainant:complainant:email") for e in events}

        async def all_delivered() -> bool:
            return expected <= {r.message_id for r in mail.received}

        await eventually(all_delivered, timeout=150)
        log = mongo[database][MESSAGES]

        async def all_recorded_sent() -> bool:
            # A settle may wait for a transaction the killed process left open (reaped at 60 s).
            return await log.count_documents({"status": "sent"}) == COMPLAINTS

        await eventually(all_recorded_sent, timeout=120)
        await asyncio.sleep(1)  # anything still to come would show up now
    finally:
        second.process.terminate()
        second.process.wait(timeout=30)

    copies = Counter(r.message_id for r in mail.received if r.message_id in expected)
    doubled = {mid: n for mid, n in copies.items() if n > 1}
    # Only a message on the wire at the kill can arrive twice: at most one per sender.
    assert len(doubled) <= CONCURRENCY, doubled
    assert set(copies) == expected  # nothing lost

    assert await log.count_documents({}) == COMPLAINTS  # one record per event and recipient
    seen = await read_topic(
        bootstrap,
        NOTIFICATION_EVENTS.name,
        until=lambda rs: {e.subject for e in events} <= subjects(rs, NotificationSent),
        timeout=30,
    )
    for event in events:
        ids = {s.notification_id for s in payloads(seen, event.subject, NotificationSent)}
        assert len(ids) == 1
    figures.record(
        "faults",
        "kill -9 notify mid-batch",
        messages=COMPLAINTS,
        killed_after=at_kill,
        resent_on_the_wire_same_id=sum(doubled.values()) - len(doubled),
        lost=0,
        duplicated=0,  # records; a copy on the wire at the kill is not a second record
    )
