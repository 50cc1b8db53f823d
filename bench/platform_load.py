"""Benchmark: the platform's throughput and latency against the machine's own ceilings.

One run, on this machine, with the embedded broker and database:

1. Ceilings: aiokafka produce and consume rates; MongoDB single ``insert_one`` and
   ``insert_many`` rates; requests/s of a bare FastAPI endpoint under the same uvicorn settings
   as intake.
2. The platform (five services as processes): intake requests/s at saturation; end-to-end
   complaints/s (submitted -> routed -> deadline set -> notification sent); latency
   percentiles from the POST to each of those events, read from the events' own ``ce_time`` on
   the topic, at 25 %, 50 % and 90 % of the saturation rate.
3. Ratios, and each service's memory (RSS) at the end.
4. Where the time goes: intake's saturation alone (its broker and database only, fresh ones),
   with the CPU per request of each process; CPU per complaint of every process over the
   platform phases; database commands per complaint, by the service that sent them.

Results go to ``bench/results/platform.json``, ``platform.md`` and ``latency.png``.

5. The six targets of the event path (``bench/targets.py``), with the SLA sweep of
   ``bench/sla_timers.py`` run in the same run: printed first, and kept under stable keys in
   ``bench/results/targets.json``.

    make bench-platform            # BENCH_SECONDS=15 by default per phase
    BENCH_CLOCKS=200000 make bench-platform   # a smaller SLA sweep (0 to leave it out)
"""

import asyncio
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient

from bench import sla_timers, targets
from devstack import infra
from devstack.mailsink import MailSink
from devstack.platform import Platform, start_platform
from schemas.events import ComplaintRouted, ComplaintSubmitted, NotificationSent, SlaDeadlineSet
from schemas.topics import COMPLAINT_EVENTS, NOTIFICATION_EVENTS

RESULTS = Path(__file__).resolve().parent / "results"
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
LOAD_LEVELS = (0.25, 0.5, 0.9)
# Intake accepts far more than the pipeline drains here, so every share of intake's saturation
# is past what the pipeline sustains: one more level, at a share of the end-to-end rate, shows
# the latencies below that.
END_TO_END_LEVELS = (0.5,)
# A level files at least this many complaints (its phase runs longer when the rate is low): the
# half-end-to-end level once filed 22 in a 5-second phase, whose p99 was its slowest sample
# and whose commands per complaint moved by several from run to run.
MIN_LEVEL_COMPLAINTS = 100
QUICK_GROUPS = {
    "KAFKA_SESSION_TIMEOUT_MS": "6000",
    "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
    "HTTP_PUBLIC_RATE_PER_MINUTE": "0",  # one load generator, one address: not a flood to stop
}
# Every service the benchmark starts, in either phase.
SERVICE_ENV = QUICK_GROUPS | {"LOG_LEVEL": "WARNING", "OUTBOX_POLL_SECONDS": "0.2"}
COMPLAINT = {
    "title": "Jalan berlubang di depan pasar",
    "body": "Lubang besar di Jalan Pattimura membahayakan pengendara motor.",
    "category": "infrastruktur.jalan",
    "region_code": "81.71",
    "report_type": "pengaduan",
    "reporter": {"name": "Warga", "email": "warga@example.id"},
}
SUBMITTED = ComplaintSubmitted.event_type()
# Each complaint from another citizen: notify limits the messages one person gets an hour, and
# one address for every complaint would measure that limit instead of the platform.
CITIZENS = itertools.count()


def from_citizen_template(body: dict[str, Any]) -> dict[str, Any]:
    """The body wrk sends, with CITIZEN where each request puts its own number."""
    return body | {"reporter": {"name": "Warga CITIZEN", "email": "CITIZEN@example.id"}}


def from_citizen(n: int) -> dict[str, Any]:
    """The benchmark complaint, filed by citizen ``n``."""
    return COMPLAINT | {"reporter": {"name": f"Warga {n}", "email": f"warga{n}@example.id"}}


STAGES = {
    ComplaintRouted.event_type(): "routed",
    SlaDeadlineSet.event_type(): "deadline_set",
    NotificationSent.event_type(): "notified",
}


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


# -- ceilings ---------------------------------------------------------------------------------


async def kafka_ceiling(bootstrap: str, count: int = 20_000) -> dict[str, float]:
    """Produce ``count`` 1 KiB records (acks=all), then consume them all."""
    topic = "bench.ceiling"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=12, replication_factor=1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await producer.start()
    payload = b"x" * 1024
    started = time.perf_counter()
    futures = [await producer.send(topic, payload, key=str(i).encode()) for i in range(count)]
    await asyncio.gather(*futures)
    produced = time.perf_counter() - started
    await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id="bench"
    )
    await consumer.start()
    seen, started = 0, time.perf_counter()
    while seen < count:
        batches = await consumer.getmany(timeout_ms=500, max_records=5000)
        seen += sum(len(records) for records in batches.values())
    consumed = time.perf_counter() - started
    await consumer.stop()
    return {"produce_per_s": rate(count, produced), "consume_per_s": rate(count, consumed)}


async def mongo_ceiling(url: str, single: int = 3_000, bulk: int = 20_000) -> dict[str, float]:
    """Sequential ``insert_one`` (one round trip each, as a request handler does), and
    ``insert_many`` in batches of 1000."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
    collection = client["bench"]["ceiling"]
    doc = {"title": "x" * 100, "body": "y" * 400, "n": 0}
    started = time.perf_counter()
    for i in range(single):
        await collection.insert_one({**doc, "n": i})
    one = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, bulk, 1000):
        await collection.insert_many([{**doc, "n": i} for i in range(start, start + 1000)])
    many = time.perf_counter() - started
    await client.drop_database("bench")
    await client.close()
    return {"insert_one_per_s": rate(single, one), "insert_many_docs_per_s": rate(bulk, many)}


BARE_APP = """
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()

class Body(BaseModel):
    title: str
    body: str

@app.post("/echo", status_code=201)
async def echo(body: Body) -> dict[str, str]:
    return {"title": body.title}
"""


# Every request from another citizen (see CITIZENS): CITIZEN in the body becomes a counter.
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local template = [[%s]]
local n = 0
request = function()
  n = n + 1
  local body = string.gsub(template, "CITIZEN", "wrk" .. n)
  return wrk.format(nil, nil, nil, body)
end
"""


def wrk(url: str, body: dict[str, Any], seconds: float) -> tuple[float, int, int]:
    """Saturation by wrk (C, one thread, CONCURRENCY connections): a Python client would be the
    bottleneck long before the server. Returns (requests/s, requests, non-2xx responses)."""
    script = RESULTS / "tmp" / "post.lua"
    script.write_text(WRK_SCRIPT % json.dumps(from_citizen_template(body)))
    output = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{CONCURRENCY}",
            f"-d{int(seconds)}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    per_second = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    failed = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return per_second, total, int(failed.group(1)) if failed else 0


async def asgi_ceiling(tmp: Path) -> float:
    """The bare endpoint under uvicorn's defaults (what kernel.runner uses), one process."""
    (tmp / "bare_app.py").write_text(BARE_APP)
    port = infra.free_port()
    server = subprocess.Popen(  # noqa: ASYNC220  (one server for the whole phase)
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=tmp,
    )
    try:
        infra.wait_for_port(port, timeout=30)

        per_second, _, failed = await asyncio.to_thread(
            wrk, f"http://127.0.0.1:{port}/echo", {"title": "t", "body": "b"}, SECONDS
        )
        assert failed == 0, f"{failed} bare requests failed"
        return per_second
    finally:
        server.terminate()
        server.wait(timeout=10)


# -- the platform -----------------------------------------------------------------------------


async def intake_alone() -> dict[str, Any]:
    """Intake's saturation with nothing else on the machine but its broker and database (fresh
    ones): the bare endpoint is measured alone, and this is the like-for-like figure. With the
    whole platform running, intake shares the two cores with consumers draining a backlog."""
    kafka, mongo = infra.start_kafka(), infra.start_mongo()
    try:
        platform = await asyncio.to_thread(
            start_platform,
            kafka_bootstrap=infra.kafka_bootstrap(kafka),
            mongo_url=infra.mongo_url(mongo),
            log_dir=RESULTS / "tmp" / "logs-intake-alone",
            extra_env=SERVICE_ENV,
            services=("intake",),
        )
        try:
            url = f"{platform.url('intake')}/v1/complaints"
            await asyncio.to_thread(wrk, url, COMPLAINT, 3)  # warm up: indexes, caches
            pids = {
                "database": mongo.process.pid,
                "broker": kafka.process.pid,
                "intake": platform.services["intake"].process.pid,
            }
            before = cpu_now(pids)
            per_second, total, failed = await asyncio.to_thread(wrk, url, COMPLAINT, SECONDS)
            return {
                "per_s": per_second,
                "failed": failed,
                "cpu_ms_per_request": cpu_ms_each(pids, before, max(total, 1), digits=2),
            }
        finally:
            platform.stop()
    finally:
        kafka.stop()
        mongo.stop()


@dataclass
class Trace:
    """When each complaint was posted (client clock) and when its events happened."""

    posted: dict[str, float] = field(default_factory=dict)
    events: dict[str, dict[str, float]] = field(default_factory=dict)


async def post_complaint(client: httpx.AsyncClient, trace: Trace) -> bool:
    sent = time.time()
    try:
        response = await client.post("/v1/complaints", json=from_citizen(next(CITIZENS)))
    except httpx.HTTPError:
        return False  # counted as not accepted; the figures say how many were
    if response.status_code != 201:
        return False
    trace.posted[response.json()["tracking_id"]] = sent
    return True


async def open_loop(base_url: str, per_second: float, seconds: float, trace: Trace) -> int:
    """Sends at a fixed rate whatever the answers take (so that latency is not hidden)."""
    interval = 1 / per_second
    tasks: list[asyncio.Task[bool]] = []
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        start = time.perf_counter()
        n = 0
        while (elapsed := time.perf_counter() - start) < seconds:
            target = n * interval
            if target > elapsed:
                await asyncio.sleep(target - elapsed)
            tasks.append(asyncio.create_task(post_complaint(client, trace)))
            n += 1
        results = await asyncio.gather(*tasks)
    return sum(results)


async def collect_events(
    bootstrap: str,
    trace: Trace,
    within: float,
    *,
    wanted: set[str] | None = None,
    since: float = 0.0,
    expected: int = 0,
) -> None:
    """Read the complaint and notification topics until every wanted complaint has its
    notification (or the time is up). Without ``wanted``: every complaint submitted after
    ``since``, until ``expected`` of them are notified."""
    consumer = AIOKafkaConsumer(
        COMPLAINT_EVENTS.name,
        NOTIFICATION_EVENTS.name,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    deadline = time.monotonic() + within
    tracked: set[str] = set(wanted or ())
    try:
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batches.values():
                for record in records:
                    headers = {k: v.decode() for k, v in record.headers}
                    kind = headers.get("ce_type", "")
                    key = (record.key or b"").decode()
                    at = datetime.fromisoformat(headers.get("ce_time", "1970-01-01T00:00:00+00:00"))
                    if wanted is None and kind == SUBMITTED and at.timestamp() >= since:
                        tracked.add(key)
                        trace.posted.setdefault(key, at.timestamp())
                    stage = STAGES.get(kind)
                    if stage is None or key not in tracked:
                        continue
                    trace.events.setdefault(key, {}).setdefault(stage, at.timestamp())
            complete = sum("notified" in trace.events.get(cid, {}) for cid in tracked)
            if complete == len(tracked) and complete >= max(expected, 1):
                return
    finally:
        await consumer.stop()


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "n": len(values)}
    cuts = statistics.quantiles(values, n=100)
    return {
        "p50": round(cuts[49] * 1000, 1),
        "p95": round(cuts[94] * 1000, 1),
        "p99": round(cuts[98] * 1000, 1),
        "n": len(values),
    }


def latencies(trace: Trace, ids: set[str]) -> dict[str, dict[str, float]]:
    """POST -> each event, in milliseconds."""
    found: dict[str, dict[str, float]] = {}
    for stage in ("routed", "deadline_set", "notified"):
        values = [
            trace.events[cid][stage] - trace.posted[cid]
            for cid in ids
            if stage in trace.events.get(cid, {})
        ]
        found[stage] = percentiles(values)
    return found


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_now(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds each named process has used so far."""
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def cpu_ms_each(
    pids: dict[str, int], before: dict[str, float], count: int, *, digits: int
) -> dict[str, float]:
    """CPU milliseconds each named process has used since ``before``, per one of ``count``."""
    return {
        name: round((cpu_seconds(pid) - before[name]) / count * 1000, digits)
        for name, pid in pids.items()
    }


async def database_commands(mongo_url: str) -> int:
    """Commands the database has served so far (``serverStatus`` opcounters)."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url)
    try:
        status = await client.admin.command("serverStatus")
    finally:
        await client.close()
    return int(sum(status["opcounters"].values()))


async def command_rate(mongo_url: str, seconds: float) -> float:
    """Commands the database serves a second over ``seconds`` (less this probe's own)."""
    before = await database_commands(mongo_url)
    await asyncio.sleep(seconds)
    return round((await database_commands(mongo_url) - before - 1) / seconds, 1)


async def quiet(mongo_url: str, idle: float, *, limit: float = 300.0) -> float:
    """Wait until the database serves no more commands a second than the platform sends with
    nothing to do (``idle``, measured before any load, with some slack), two seconds in a row:
    the backlog of the phase before is drained. The last rate seen."""
    started = time.monotonic()
    calm = 0
    rate = 0.0
    while time.monotonic() - started < limit and calm < 2:
        rate = await command_rate(mongo_url, 1.0)
        calm = calm + 1 if rate <= 1.5 * idle + 10 else 0
    return rate


COMMANDS_SERIES = re.compile(
    r'^lapor_database_commands_total\{command="(\w+)",outcome="\w+",service="[\w-]+"\} (\S+)$',
    re.MULTILINE,
)


async def commands_by_service(platform: Platform) -> dict[str, dict[str, float]]:
    """Database commands each service has sent so far, by command name (its own metrics)."""
    counts: dict[str, dict[str, float]] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        for name in platform.services:
            text = (await client.get(f"{platform.url(name)}/metrics")).text
            by_command: dict[str, float] = {}
            for command, value in COMMANDS_SERIES.findall(text):
                by_command[command] = by_command.get(command, 0.0) + float(value)
            counts[name] = by_command
    return counts


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def platform_figures(platform: Platform) -> dict[str, Any]:
    intake = platform.url("intake")
    await asyncio.sleep(5)  # started: let the services settle
    idle = await command_rate(platform.mongo_url, 5.0)
    started = time.time()
    saturation, total, failed = await asyncio.to_thread(
        wrk, f"{intake}/v1/complaints", COMPLAINT, SECONDS
    )
    trace = Trace()
    await collect_events(
        platform.kafka_bootstrap, trace, within=600, since=started, expected=total - failed
    )
    notified = [e["notified"] for e in trace.events.values() if "notified" in e]
    first = min(trace.posted.values()) if trace.posted else started
    end_to_end = rate(len(notified), max(notified) - first) if notified else 0.0

    levels = []
    # The levels below the end-to-end rate first, once the saturation phase's backlog is gone:
    # every later level is past what the pipeline drains and leaves a backlog behind it, which
    # would be counted in the commands of whatever level came next.
    loads = [(end_to_end * share, {"share_of_end_to_end": share}) for share in END_TO_END_LEVELS]
    loads += [(saturation * share, {"share_of_saturation": share}) for share in LOAD_LEVELS]
    for target, basis in loads:
        level_trace = Trace()
        idle_commands_per_s = await quiet(platform.mongo_url, idle)
        target = max(1.0, target)
        commands_before = await database_commands(platform.mongo_url)
        level_started = time.monotonic()
        seconds = max(SECONDS, MIN_LEVEL_COMPLAINTS / target)
        sent = await open_loop(intake, target, seconds, level_trace)
        await collect_events(
            platform.kafka_bootstrap, level_trace, within=600, wanted=set(level_trace.posted)
        )
        # Counted until this level's complaints are all notified: what a complaint costs
        # end to end at this rate (any backlog of the level before is counted in too), less
        # what the services send with nothing to do over the same time (pollers, gauges,
        # leases, at the rate measured over 5 s before any load: at a few complaints a second
        # they were a fifth of the count), as ``bench.command_trace`` does.
        commands = await database_commands(platform.mongo_url) - commands_before
        idle_share = idle * (time.monotonic() - level_started)
        levels.append(
            {
                **basis,
                "target_per_s": round(target, 1),
                "accepted": sent,
                "latency_ms": latencies(level_trace, set(level_trace.posted)),
                "database_commands_per_complaint": round(
                    max(commands - idle_share, 0) / max(sent, 1), 1
                ),
                "database_commands_per_complaint_with_idle": round(commands / max(sent, 1), 1),
                # What the services send with nothing to do (pollers, gauges), just before.
                "idle_database_commands_per_s": idle_commands_per_s,
            }
        )
    return {
        "intake_saturation_per_s": saturation,
        "intake_failed_at_saturation": failed,
        "end_to_end_per_s": end_to_end,
        "complaints_at_saturation": total - failed,
        "complaints_completed": len(notified),
        "levels": levels,
        "idle_database_commands_per_s": idle,
        "rss_mib": {name: rss_mib(s.process.pid) for name, s in platform.services.items()},
    }


def markdown(result: dict[str, Any]) -> str:
    c, p, r = result["ceilings"], result["platform"], result["ratios"]
    lines = [
        "# Platform benchmark",
        "",
        f"Machine: {os.cpu_count()} cores; {result['seconds_per_phase']} s per phase; "
        f"{result['concurrency']} concurrent clients at saturation.",
        "",
        "## The event path's targets",
        "",
        targets.markdown(result["targets"]),
        "| ceiling | rate |",
        "|---|---|",
        f"| Kafka produce (1 KiB, acks=all) | {c['kafka']['produce_per_s']} msg/s |",
        f"| Kafka consume | {c['kafka']['consume_per_s']} msg/s |",
        f"| MongoDB insert_one | {c['mongo']['insert_one_per_s']} doc/s |",
        f"| MongoDB insert_many | {c['mongo']['insert_many_docs_per_s']} doc/s |",
        f"| bare ASGI POST | {c['asgi_per_s']} req/s |",
        "",
        "| platform | rate |",
        "|---|---|",
        f"| intake POST at saturation, alone (its broker and database only) | "
        f"{result['intake_alone']['per_s']} req/s |",
        f"| intake POST at saturation, whole platform running | "
        f"{p['intake_saturation_per_s']} req/s |",
        f"| end to end (submitted → routed → deadline → notification) | "
        f"{p['end_to_end_per_s']} complaints/s |",
        "",
        "| load | rate | POST→routed p50/p95/p99 ms | →deadline p50/p95/p99 "
        "| →notified p50/p95/p99 |",
        "|---|---|---|---|---|",
    ]
    for level in p["levels"]:
        lat = level["latency_ms"]
        cells = [
            f"{lat[s]['p50']} / {lat[s]['p95']} / {lat[s]['p99']}"
            for s in ("routed", "deadline_set", "notified")
        ]
        if "share_of_end_to_end" in level:
            name = f"{int(level['share_of_end_to_end'] * 100)} % of end to end"
        else:
            name = f"{int(level['share_of_saturation'] * 100)} % of saturation"
        lines.append(f"| {name} | {level['target_per_s']}/s | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| ratio | value | target |",
        "|---|---|---|",
        f"| intake ÷ bare ASGI | {r['intake_vs_asgi']} | ≥ 0.5 |",
        f"| intake alone ÷ bare ASGI | {r['intake_alone_vs_asgi']} | |",
        f"| end to end ÷ MongoDB insert_one | {r['end_to_end_vs_insert_one']} | ≥ 0.167 |",
        f"| p99 POST→routed at 50 % of saturation (ms) | {r['p99_routed_at_half_ms']} | < 100 |",
        f"| p99 POST→routed at 50 % of end to end (ms) | "
        f"{r['p99_routed_at_half_end_to_end_ms']} | |",
        "",
        "| service | RSS MiB |",
        "|---|---|",
        *[f"| {name} | {mib} |" for name, mib in p["rss_mib"].items()],
        "",
        f"CPU per complaint over the platform phases "
        f"({p['database_commands_per_complaint']} database commands each):",
        "",
        "| process | CPU ms per complaint |",
        "|---|---|",
        *[f"| {name} | {ms} |" for name, ms in p["cpu_ms_per_complaint"].items()],
        "",
        "Intake alone, CPU per request: "
        + ", ".join(
            f"{name} {ms} ms" for name, ms in result["intake_alone"]["cpu_ms_per_request"].items()
        )
        + ".",
        "",
        "Database commands per complaint, by the service that sent them:",
        "",
        "| service | commands | the most frequent |",
        "|---|---|---|",
        *[
            f"| {name} | {round(sum(commands.values()), 1)} | "
            + ", ".join(f"{command} {n}" for command, n in list(commands.items())[:5])
            + " |"
            for name, commands in p["database_commands_per_complaint_by_service"].items()
        ],
        "",
    ]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = sorted(result["platform"]["levels"], key=lambda level: level["target_per_s"])
    loads = [level["target_per_s"] for level in levels]
    figure, axes = plt.subplots(figsize=(7, 4))
    for stage, style in (("routed", "o-"), ("deadline_set", "s--"), ("notified", "^:")):
        for quantile, alpha in (("p50", 1.0), ("p99", 0.5)):
            values = [level["latency_ms"][stage][quantile] for level in levels]
            axes.plot(loads, values, style, alpha=alpha, label=f"POST→{stage} {quantile}")
    axes.set_xlabel("offered load (complaints/s)")
    axes.set_ylabel("latency (ms)")
    axes.set_title("LAPOR: latency against load")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


async def run() -> dict[str, Any]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS / "tmp"
    tmp.mkdir(exist_ok=True)
    kafka, mongo = infra.start_kafka(), infra.start_mongo()
    bootstrap, mongo_url = infra.kafka_bootstrap(kafka), infra.mongo_url(mongo)
    mail = MailSink().start()
    try:
        print("ceilings ...", flush=True)
        ceilings: dict[str, Any] = {
            "kafka": await kafka_ceiling(bootstrap),
            "mongo": await mongo_ceiling(mongo_url),
            "asgi_per_s": await asgi_ceiling(tmp),
        }
        print(json.dumps(ceilings), flush=True)
        print("intake alone ...", flush=True)
        alone = await intake_alone()
        print(json.dumps(alone), flush=True)
        print("platform ...", flush=True)
        platform = await asyncio.to_thread(
            start_platform,
            kafka_bootstrap=bootstrap,
            mongo_url=mongo_url,
            log_dir=tmp / "logs",
            extra_env=SERVICE_ENV
            | {
                "NOTIFY_SMTP_HOST": "127.0.0.1",
                "NOTIFY_SMTP_PORT": str(mail.port),
                "NOTIFY_SMTP_STARTTLS": "false",
            },
        )
        processes = {"database": mongo.process.pid, "broker": kafka.process.pid} | {
            name: service.process.pid for name, service in platform.services.items()
        }
        cpu_before = cpu_now(processes)
        commands_before = await database_commands(mongo_url)
        sent_before = await commands_by_service(platform)
        try:
            figures = await platform_figures(platform)
            complaints = figures["complaints_at_saturation"] + sum(
                level["accepted"] for level in figures["levels"]
            )
            # Where the time goes: CPU per complaint of each process over the whole phase
            # (two cores are shared by all of them), and the database commands it took.
            figures["cpu_ms_per_complaint"] = cpu_ms_each(
                processes, cpu_before, complaints, digits=1
            )
            figures["database_commands_per_complaint"] = round(
                (await database_commands(mongo_url) - commands_before) / complaints, 1
            )
            sent_after = await commands_by_service(platform)
            figures["database_commands_per_complaint_by_service"] = {
                name: {
                    command: round((count - sent_before[name].get(command, 0.0)) / complaints, 2)
                    for command, count in sorted(commands.items(), key=lambda item: -item[1])
                    if count > sent_before[name].get(command, 0.0)
                }
                for name, commands in sent_after.items()
            }
        finally:
            platform.stop()
    finally:
        mail.stop()
        kafka.stop()
        mongo.stop()
    levels: list[dict[str, Any]] = figures["levels"]
    half = next(level for level in levels if level.get("share_of_saturation") == 0.5)
    below = next(level for level in levels if level.get("share_of_end_to_end") == 0.5)
    result = {
        "seconds_per_phase": SECONDS,
        "concurrency": CONCURRENCY,
        "ceilings": ceilings,
        "intake_alone": alone,
        "platform": figures,
        "ratios": {
            "intake_vs_asgi": round(figures["intake_saturation_per_s"] / ceilings["asgi_per_s"], 3),
            "intake_alone_vs_asgi": round(alone["per_s"] / ceilings["asgi_per_s"], 3),
            "end_to_end_vs_insert_one": round(
                figures["end_to_end_per_s"] / ceilings["mongo"]["insert_one_per_s"], 3
            ),
            "p99_routed_at_half_ms": half["latency_ms"]["routed"]["p99"],
            "p99_routed_at_half_end_to_end_ms": below["latency_ms"]["routed"]["p99"],
        },
    }
    clocks = int(os.environ.get("BENCH_CLOCKS", "1000000"))
    sla = None
    if clocks:
        print(f"SLA: {clocks} open clocks, {sla_timers.DUE_AT_ONCE} due at once ...", flush=True)
        sla = await sla_timers.run(clocks)
        print(json.dumps(sla), flush=True)
    result["sla_timers"] = sla
    result["targets"] = targets.report(targets.figures(result, sla))
    (RESULTS / "targets.json").write_text(json.dumps(result["targets"], indent=2) + "\n")
    (RESULTS / "platform.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "platform.md").write_text(markdown(result))
    plot(result, RESULTS / "latency.png")
    return result


def main() -> None:
    result = asyncio.run(run())
    print(markdown(result))


if __name__ == "__main__":
    main()
