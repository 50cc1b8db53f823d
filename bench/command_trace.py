"""Where one complaint's database commands go, collection by collection.

The platform benchmark counts commands per service and command name; this one asks the
database itself (``top``, per namespace and operation, with the time spent) while complaints
pass through the whole platform one at a time, well below saturation, and takes off what the
platform does with nothing to do over the same length of time.

    make bench-trace                 # 40 complaints at 2 a second
    TRACE_COMPLAINTS=100 make bench-trace

Prints a table and writes ``bench/results/command_trace.json``.
"""

import asyncio
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench.platform_load import SERVICE_ENV, Trace, collect_events, post_complaint, quiet
from devstack.mailsink import MailSink
from devstack.platform import start_platform

RESULTS = Path(__file__).resolve().parent / "results"
COMPLAINTS = int(os.environ.get("TRACE_COMPLAINTS", "40"))
PER_SECOND = float(os.environ.get("TRACE_PER_SECOND", "2"))
OPERATIONS = ("queries", "getmore", "insert", "update", "remove", "commands")

Counts = dict[str, dict[str, tuple[int, int]]]  # namespace -> operation -> (count, micros)


async def top(mongo_url: str) -> Counts:
    """The database's own per-namespace counters so far."""
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url)
    try:
        totals = (await client.admin.command("top"))["totals"]
    finally:
        await client.close()
    return {
        ns: {op: (entry[op]["count"], entry[op]["time"]) for op in OPERATIONS}
        for ns, entry in totals.items()
        if ns != "note"
    }


def difference(after: Counts, before: Counts) -> Counts:
    zero = (0, 0)
    return {
        ns: {
            op: (
                count - before.get(ns, {}).get(op, zero)[0],
                t - before.get(ns, {}).get(op, zero)[1],
            )
            for op, (count, t) in ops.items()
        }
        for ns, ops in after.items()
    }


def per_complaint(
    load: Counts, idle: Counts, *, idle_share: float, complaints: int
) -> dict[str, dict[str, dict[str, float]]]:
    """Commands and database milliseconds per complaint, namespace by namespace, less the
    idle platform's share over the same time."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for ns, ops in load.items():
        for op, (count, micros) in ops.items():
            idle_count, idle_micros = idle.get(ns, {}).get(op, (0, 0))
            n = (count - idle_count * idle_share) / complaints
            ms = (micros - idle_micros * idle_share) / complaints / 1000
            if n >= 0.05:
                table.setdefault(ns, {})[op] = {"commands": round(n, 2), "ms": round(ms, 2)}
    return table


def render(table: Mapping[str, Mapping[str, Mapping[str, float]]]) -> str:
    rows = sorted(
        ((ns, op, v["commands"], v["ms"]) for ns, ops in table.items() for op, v in ops.items()),
        key=lambda row: (row[0].split(".")[0], -row[2]),
    )
    lines = ["| collection | operation | per complaint | database ms |", "|---|---|---|---|"]
    lines += [f"| {ns} | {op} | {n:.2f} | {ms:.2f} |" for ns, op, n, ms in rows]
    total = sum(row[2] for row in rows)
    total_ms = sum(row[3] for row in rows)
    by_db: dict[str, float] = {}
    for ns, _, n, _ in rows:
        by_db[ns.split(".")[0]] = by_db.get(ns.split(".")[0], 0.0) + n
    lines.append(f"| **all** | | **{total:.1f}** | **{total_ms:.1f}** |")
    lines.append("")
    lines.append(", ".join(f"{db} {n:.1f}" for db, n in sorted(by_db.items())))
    return "\n".join(lines)


async def run() -> dict[str, Any]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    mail = MailSink().start()
    env = SERVICE_ENV | {
        "NOTIFY_SMTP_HOST": "127.0.0.1",
        "NOTIFY_SMTP_PORT": str(mail.port),
        "NOTIFY_SMTP_STARTTLS": "false",
    }
    platform = await asyncio.to_thread(start_platform, extra_env=env)
    try:
        # One complaint first, through to its notification: every collection then exists, so
        # the idle baseline counts what the platform does idle in all of them (a collection
        # created only by the load would have its idle pollers counted as load).
        warm_up = Trace()
        async with httpx.AsyncClient(base_url=platform.url("intake"), timeout=30) as client:
            if not await post_complaint(client, warm_up):
                raise RuntimeError("intake refused the warm-up complaint")
        await collect_events(
            platform.kafka_bootstrap, warm_up, within=120, wanted=set(warm_up.posted)
        )
        await asyncio.sleep(5)
        seconds = COMPLAINTS / PER_SECOND
        idle_started = time.monotonic()
        before_idle = await top(platform.mongo_url)
        await asyncio.sleep(max(seconds, 10.0))
        idle = difference(await top(platform.mongo_url), before_idle)
        idle_seconds = time.monotonic() - idle_started

        trace = Trace()
        started = time.monotonic()
        before = await top(platform.mongo_url)
        async with httpx.AsyncClient(base_url=platform.url("intake"), timeout=30) as client:
            for _ in range(COMPLAINTS):
                if not await post_complaint(client, trace):
                    raise RuntimeError("intake refused a complaint")
                await asyncio.sleep(1 / PER_SECOND)
        await collect_events(platform.kafka_bootstrap, trace, within=300, wanted=set(trace.posted))
        missing = [cid for cid in trace.posted if "notified" not in trace.events.get(cid, {})]
        if missing:
            raise RuntimeError(f"{len(missing)} complaints were never notified")
        await quiet(
            platform.mongo_url,
            idle=sum(c for ops in idle.values() for c, _ in ops.values()) / idle_seconds,
        )
        load = difference(await top(platform.mongo_url), before)
        load_seconds = time.monotonic() - started
    finally:
        platform.stop()
        mail.stop()
    table = per_complaint(load, idle, idle_share=load_seconds / idle_seconds, complaints=COMPLAINTS)
    result = {"complaints": COMPLAINTS, "per_second": PER_SECOND, "per_complaint": table}
    (RESULTS / "command_trace.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    result = asyncio.run(run())
    print(render(result["per_complaint"]))


if __name__ == "__main__":
    main()
