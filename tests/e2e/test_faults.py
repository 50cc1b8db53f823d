"""Fault injection on the local stack (``make reliability``; slow): a fresh broker, database and
five service processes per scenario, citizens filing complaints at a steady rate (each retrying
with its Idempotency-Key, as the API asks, after a refusal or a broken connection), and one
fault injected at a random moment (``FAULT_SEED``):

- ``kill``: SIGKILL of a service, restarted at once (intake twice, and each consumer);
- ``pause``: SIGSTOP of the broker or of the database for 30 s, then SIGCONT.

Afterwards, per scenario: every complaint acknowledged is stored (and nothing is stored that no
citizen asked for twice), routed exactly once, has one clock per stage, one receipt recorded,
and counted once against its service standard; while the database is paused intake answers 503
with Retry-After rather than hanging. The counts go to the run's figures table.
"""

import asyncio
import os
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from devstack import infra
from devstack.mailsink import MailSink
from devstack.platform import Platform, start_platform, start_service, wait_ready
from schemas.complaint import Role
from schemas.events import ComplaintRouted, ComplaintSubmitted
from schemas.topics import COMPLAINT_EVENTS
from tests.figures import Figures
from tests.support import bearer, eventually, read_topic, subjects
from tests.unit.test_standards_domain import full_standard

pytestmark = [pytest.mark.slow, pytest.mark.reliability]

ENV = {
    "KAFKA_SESSION_TIMEOUT_MS": "3000",
    "KAFKA_HEARTBEAT_INTERVAL_MS": "300",
    "HTTP_PUBLIC_RATE_PER_MINUTE": "0",
    "OUTBOX_POLL_SECONDS": "0.2",
    # A request's database deadline is twice this: intake answers 503 within ~2 s of an outage.
    "MONGO_TIMEOUT_MS": "1000",
    "LOG_LEVEL": "WARNING",
    "NOTIFY_LEASE_SECONDS": "5",
}
COMPLAINT = {
    "title": "Antrean imunisasi terlalu lama",
    "body": "Kami menunggu empat hari untuk imunisasi anak yang dijanjikan satu hari.",
    "category": "umum",
    "region_code": "81.71",
    "report_type": "pengaduan",
    "reporter": {"email": "warga@example.id"},
}
LOAD_SECONDS = 40
RATE = 3  # complaints a second: well within what the stack sustains here
PAUSE_SECONDS = 30
RETRY_FOR_SECONDS = 120  # how long a citizen keeps retrying one complaint
HTTP_TIMEOUT = 10.0
DINKES = bearer(Role.AGENCY_ADMIN, "faults-dinkes", agency="dinkes-kota-ambon")


@dataclass
class Stack:
    platform: Platform
    env: dict[str, str]
    logs: Path
    standard_id: str = ""

    def server(self, name: str) -> infra.ServerProcess:
        if name in self.platform.services:
            return self.platform.services[name]
        return next(s for s in self.platform.infrastructure if s.name == name)

    def kill_and_restart(self, name: str) -> None:
        server = self.platform.services[name]
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        restarted = start_service(
            name,
            port=server.port,
            kafka_bootstrap=self.platform.kafka_bootstrap,
            mongo_url=self.platform.mongo_url,
            log_dir=self.logs,
            extra_env={**self.platform.wiring, **self.env},
        )
        self.platform.services[name] = restarted
        wait_ready(self.platform.url(name), timeout=90, process=restarted.process)


@dataclass
class Citizens:
    """What the citizens filing complaints saw."""

    accepted: dict[str, str] = field(default_factory=dict)  # idempotency key -> tracking ID
    given_up: list[str] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)
    unavailable_without_retry_after: int = 0
    slowest_unavailable: float = 0.0


async def file_one(client: httpx.AsyncClient, body: dict[str, Any], seen: Citizens) -> None:
    key = uuid.uuid4().hex
    give_up = time.monotonic() + RETRY_FOR_SECONDS
    while time.monotonic() < give_up:
        started = time.monotonic()
        try:
            response = await client.post(
                "/v1/complaints", json=body, headers={"Idempotency-Key": key}
            )
        except httpx.HTTPError as exc:
            seen.answers[type(exc).__name__] += 1
            await asyncio.sleep(1)
            continue
        seen.answers[str(response.status_code)] += 1
        if response.status_code in (200, 201):
            seen.accepted[key] = response.json()["tracking_id"]
            return
        if response.status_code == 503:
            seen.slowest_unavailable = max(seen.slowest_unavailable, time.monotonic() - started)
            if "Retry-After" not in response.headers:
                seen.unavailable_without_retry_after += 1
        await asyncio.sleep(min(float(response.headers.get("Retry-After", "1")), 2.0))
    seen.given_up.append(key)


async def load(url: str, body: dict[str, Any], seen: Citizens) -> None:
    """Open loop: a new citizen every 1/RATE s whatever the others are waiting for."""
    async with httpx.AsyncClient(base_url=url, timeout=HTTP_TIMEOUT) as client:
        citizens = []
        end = time.monotonic() + LOAD_SECONDS
        while time.monotonic() < end:
            citizens.append(asyncio.create_task(file_one(client, body, seen)))
            await asyncio.sleep(1 / RATE)
        await asyncio.gather(*citizens)


def kill(*victims: str) -> Callable[[Stack, random.Random], Awaitable[None]]:
    async def inject(stack: Stack, rng: random.Random) -> None:
        for victim in victims:
            await asyncio.sleep(rng.uniform(3, 8))
            await asyncio.to_thread(stack.kill_and_restart, victim)

    return inject


def pause(server: str) -> Callable[[Stack, random.Random], Awaitable[None]]:
    async def inject(stack: Stack, rng: random.Random) -> None:
        await asyncio.sleep(rng.uniform(2, 6))
        target = stack.server(server)
        target.pause()
        try:
            await asyncio.sleep(PAUSE_SECONDS)
        finally:
            target.resume()

    return inject


SCENARIOS = {
    "kill -9 intake (twice)": kill("intake", "intake"),
    "kill -9 routing, sla, notify": kill("routing", "sla", "notify"),
    "kill -9 standards": kill("standards"),
    "pause broker 30 s": pause("kafka"),
    "pause database 30 s": pause("mongo"),
}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    mail = MailSink().start()
    env = ENV | {
        "NOTIFY_SMTP_HOST": "127.0.0.1",
        "NOTIFY_SMTP_PORT": str(mail.port),
        "NOTIFY_SMTP_STARTTLS": "false",
    }
    platform = start_platform(
        log_dir=tmp_path,
        extra_env=env,
        kafka_port=infra.free_port(),
        mongo_port=infra.free_port(),
    )
    yield Stack(platform, env, tmp_path)
    platform.stop()
    mail.stop()


async def publish_standard(stack: Stack) -> str:
    """A standard the complaints are about, once routing and intake know it."""
    standard = full_standard(
        agency_id="dinkes-kota-ambon", unit_id="puskesmas-rijali", region_code="81.71"
    )
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
        saved = await http.post(
            f"{stack.platform.url('standards')}/v1/standards", json=standard, headers=DINKES
        )
        assert saved.status_code == 201, saved.text
        sid: str = saved.json()["standard_id"]

        async def known() -> bool:
            url = f"{stack.platform.url('intake')}/open311/v2/services.json"
            return sid in {s["service_code"] for s in (await http.get(url)).json()}

        await eventually(known, timeout=60)
    return sid


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_fault_under_load_loses_and_doubles_nothing(
    stack: Stack, scenario: str, figures: Figures
) -> None:
    platform = stack.platform
    sid = await publish_standard(stack)
    seen = Citizens()
    rng = random.Random(int(os.environ.get("FAULT_SEED", "7")))
    loading = asyncio.create_task(
        load(platform.url("intake"), COMPLAINT | {"service_standard_id": sid}, seen)
    )
    await SCENARIOS[scenario](stack, rng)
    await loading
    wanted = set(seen.accepted.values())

    records = await read_topic(
        platform.kafka_bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: wanted <= subjects(rs, ComplaintRouted),
        timeout=240,
    )
    submitted = Counter(
        r.key.decode() for r in records if r.key and r.type == ComplaintSubmitted.event_type()
    )
    routed_ids = Counter(
        (r.key.decode(), r.headers["ce_id"])
        for r in records
        if r.key and r.type == ComplaintRouted.event_type()
    )
    routed = Counter(key for key, _ in routed_ids)

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(platform.mongo_url)
    try:
        stored = await mongo["lapor_intake"]["complaints"].count_documents({})
        stored_acknowledged = await mongo["lapor_intake"]["complaints"].count_documents(
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

        clocks = await eventually(clocks_set, timeout=180)

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

        messages = await eventually(receipts, timeout=240)

        async def counted() -> int | None:
            doc = await mongo["lapor_standards"]["standard_feedback"].find_one({"_id": sid})
            complaints = int((doc or {}).get("complaints", 0))
            return complaints if complaints >= len(wanted) else None

        feedback = await eventually(counted, timeout=120)
    finally:
        await mongo.close()

    per_stage = Counter((c["complaint_id"], c["stage"]) for c in clocks)
    receipt_count = Counter(m["complaint_id"] for m in messages)
    duplicated = (
        (stored - len(wanted))  # a retry that made a second complaint
        + sum(n - 1 for n in routed.values())
        + sum(n - 1 for n in per_stage.values())
        + sum(n - 1 for n in receipt_count.values())
        + (feedback - len(wanted))
    )
    lost = (
        (len(wanted) - stored_acknowledged)
        + len(wanted - set(routed))
        + len(wanted - set(receipt_count))
    )
    figures.record(
        "faults",
        scenario,
        accepted=len(wanted),
        gave_up=len(seen.given_up),
        answers=" ".join(f"{k}:{v}" for k, v in sorted(seen.answers.items())),
        slowest_503_s=round(seen.slowest_unavailable, 2),
        routed=len(routed),
        clocks=len(per_stage),
        receipts=len(receipt_count),
        standard_count=feedback,
        lost=lost,
        duplicated=duplicated,
    )
    assert len(wanted) >= LOAD_SECONDS * RATE * 0.8
    assert not seen.given_up, "every citizen got an answer within the retry window"
    assert stored_acknowledged == len(wanted) == stored  # acknowledged = stored, once
    assert decisions == len(wanted)
    assert all(submitted[cid] >= 1 for cid in wanted)  # every submission was published
    # Routed once: a redelivered "routed" event carries the same ce_id, never a second decision.
    assert set(routed) == wanted and all(n == 1 for n in routed.values())
    assert all(n == 1 for n in per_stage.values())  # one clock per stage
    assert set(receipt_count) == wanted and all(n == 1 for n in receipt_count.values())
    assert feedback == len(wanted)  # counted once against the standard
    assert seen.unavailable_without_retry_after == 0
    # Under a paused database intake refuses promptly (its request deadline), it does not hang.
    assert seen.answers["ReadTimeout"] == 0
    assert (lost, duplicated) == (0, 0)
