"""Fault injection on the local stack (``make test-slow``): under a steady load of complaints,
each consuming service is killed with SIGKILL at a random moment and restarted. Afterwards
every complaint intake accepted is stored, routed exactly once, has one clock per stage and one
receipt recorded, and no event is lost. The counts are printed."""

import asyncio
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from devstack import infra
from devstack.mailsink import MailSink
from devstack.platform import Platform, start_platform, start_service, wait_ready
from schemas.events import ComplaintRouted, ComplaintSubmitted
from schemas.topics import COMPLAINT_EVENTS
from tests.support import eventually, read_topic, subjects

ENV = {
    "KAFKA_SESSION_TIMEOUT_MS": "3000",
    "KAFKA_HEARTBEAT_INTERVAL_MS": "300",
    "HTTP_PUBLIC_RATE_PER_MINUTE": "0",
    "OUTBOX_POLL_SECONDS": "0.2",
    "LOG_LEVEL": "WARNING",
}
COMPLAINT = {
    "title": "Lampu jalan mati",
    "body": "Lampu jalan di depan sekolah mati sejak seminggu.",
    "category": "infrastruktur.listrik",
    "region_code": "13.71",
    "report_type": "pengaduan",
    "reporter": {"email": "warga@example.id"},
}
LOAD_SECONDS = 30
RATE = 3  # complaints a second: well within what the stack sustains here
VICTIMS = ("routing", "sla", "notify")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Platform, MailSink]]:
    mail = MailSink().start()
    platform = start_platform(
        log_dir=tmp_path,
        extra_env=ENV
        | {
            "NOTIFY_SMTP_HOST": "127.0.0.1",
            "NOTIFY_SMTP_PORT": str(mail.port),
            "NOTIFY_SMTP_STARTTLS": "false",
            "NOTIFY_LEASE_SECONDS": "5",
        },
        kafka_port=infra.free_port(),
        mongo_port=infra.free_port(),
    )
    yield platform, mail
    platform.stop()
    mail.stop()


async def load(url: str, accepted: list[str], refused: Counter[str]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        end = time.monotonic() + LOAD_SECONDS
        while time.monotonic() < end:
            try:
                response = await client.post("/v1/complaints", json=COMPLAINT)
            except httpx.HTTPError as exc:
                refused[type(exc).__name__] += 1
            else:
                if response.status_code == 201:
                    accepted.append(response.json()["tracking_id"])
                else:
                    refused[str(response.status_code)] += 1
            await asyncio.sleep(1 / RATE)


def kill_and_restart(platform: Platform, name: str, tmp: Path) -> None:
    server = platform.services[name]
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait()
    restarted = start_service(
        name,
        port=server.port,
        kafka_bootstrap=platform.kafka_bootstrap,
        mongo_url=platform.mongo_url,
        log_dir=tmp,
        extra_env=ENV,
    )
    platform.services[name] = restarted
    wait_ready(platform.url(name), timeout=60, process=restarted.process)


@pytest.mark.slow
async def test_kill_9_of_each_service_under_load_loses_and_doubles_nothing(
    stack: tuple[Platform, MailSink], tmp_path: Path
) -> None:
    platform, _ = stack
    accepted: list[str] = []
    refused: Counter[str] = Counter()
    rng = random.Random(int(os.environ.get("FAULT_SEED", "7")))
    loading = asyncio.create_task(load(platform.url("intake"), accepted, refused))
    for victim in VICTIMS:
        await asyncio.sleep(rng.uniform(3, 8))
        await asyncio.to_thread(kill_and_restart, platform, victim, tmp_path)
    await loading
    wanted = set(accepted)

    seen = await read_topic(
        platform.kafka_bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: wanted <= subjects(rs, ComplaintRouted),
        timeout=180,
    )
    submitted = Counter(
        r.key.decode() for r in seen if r.key and r.type == ComplaintSubmitted.event_type()
    )
    routed_ids = Counter(
        (r.key.decode(), r.headers["ce_id"])
        for r in seen
        if r.key and r.type == ComplaintRouted.event_type()
    )
    routed = Counter(key for key, _ in routed_ids)

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.mongo_url)
    try:
        stored = await mongo["lapor_intake"]["complaints"].count_documents(
            {"_id": {"$in": list(wanted)}}
        )
        decisions = await mongo["lapor_routing"]["decisions"].count_documents(
            {"_id": {"$in": list(wanted)}}
        )

        async def clocks_set() -> list[dict[str, Any]] | None:
            found = (
                await mongo["lapor_sla"]["clocks"]
                .find({"complaint_id": {"$in": list(wanted)}}, {"complaint_id": 1, "stage": 1})
                .to_list(None)
            )
            stages = Counter(c["complaint_id"] for c in found)
            return found if all(stages[cid] >= 4 for cid in wanted) else None

        clocks = await eventually(clocks_set, timeout=120)

        async def receipts() -> list[dict[str, Any]] | None:
            found = (
                await mongo["lapor_notify"]["messages"]
                .find(
                    {"complaint_id": {"$in": list(wanted)}, "template": "complaint_submitted"},
                    {"complaint_id": 1, "status": 1},
                )
                .to_list(None)
            )
            sent = [m for m in found if m["status"] == "sent"]
            return found if len(sent) >= len(wanted) else None

        messages = await eventually(receipts, timeout=180)
    finally:
        await mongo.close()

    per_stage = Counter((c["complaint_id"], c["stage"]) for c in clocks)
    receipt_count = Counter(m["complaint_id"] for m in messages)
    print(
        f"\naccepted {len(wanted)}, refused {dict(refused)}; killed {', '.join(VICTIMS)}; "
        f"stored {stored}, routed {len(routed)} (decisions {decisions}), "
        f"duplicate routings {sum(n - 1 for n in routed.values())}, "
        f"clocks {len(per_stage)} (doubled {sum(n > 1 for n in per_stage.values())}), "
        f"receipts {len(receipt_count)} (doubled {sum(n > 1 for n in receipt_count.values())}), "
        f"lost 0 if all equal"
    )
    assert len(wanted) >= LOAD_SECONDS * RATE * 0.8
    assert stored == decisions == len(wanted)  # nothing accepted was lost
    assert all(submitted[cid] >= 1 for cid in wanted)  # every submission was published
    # Routed once: a redelivered "routed" event carries the same ce_id, never a second decision.
    assert set(routed) == wanted and all(n == 1 for n in routed.values())
    assert all(n == 1 for n in per_stage.values())  # one clock per stage
    assert set(receipt_count) == wanted and all(n == 1 for n in receipt_count.values())
