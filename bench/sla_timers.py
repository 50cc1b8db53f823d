"""Benchmark: one million open clocks, ten thousand of them falling due at the same moment.

Starts its own SecantusDB, loads the clocks with insert_many (the database's own ceiling for
bulk writes is measured on the way), then times one sweep of the due moment and reports the
process's peak memory. Figures are ratios taken in the same run, printed and written as JSON.

    make bench-sla                      # 1,000,000 clocks
    BENCH_CLOCKS=200000 make bench-sla  # smaller, for a quick look
"""

import asyncio
import json
import os
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from devstack import infra
from services.sla.app import create_app
from services.sla.config import SlaSettings
from services.sla.service import SlaService
from services.sla.store import CLOCKS, ClockStore
from services.sla.timers import Phase

DUE_AT_ONCE = 10_000
MOMENT = datetime(2026, 12, 1, 14, 59, 59, tzinfo=UTC)


def clock(i: int, due: datetime) -> dict[str, Any]:
    cid = f"LPR-B{i:09d}"
    return {
        "_id": f"{cid}:completion",
        "complaint_id": cid,
        "stage": "completion",
        "agency_id": f"agency-{i % 650}",
        "holder": "agency",
        "state": "running",
        "phase": Phase.WARNED.value,
        "level": 0,
        "started_at": due - timedelta(days=20),
        "due_at": due,
        "warn_at": None,
        "next_fire_at": due,
        "armed": True,
        "working_days": 14,
        "time_zone": "Asia/Jakarta",
    }


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(total: int) -> dict[str, Any]:
    server = infra.start_mongo()
    # The sweep publishes its firings (each event published before its clock moves): a broker.
    broker = infra.start_kafka()
    try:
        url = infra.mongo_url(server)
        settings = SlaSettings(
            mongo_url=url,
            mongo_database="bench_sla",
            sla_sweep_enabled=False,
            kafka_bootstrap_servers=infra.kafka_bootstrap(broker),
        )
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
        db = client[settings.database_name]
        await ClockStore(db).create_indexes()

        rss_before = peak_rss_mib()
        loaded = time.perf_counter()
        batch: list[dict[str, Any]] = []
        for i in range(total):
            # Ten thousand due at the moment; the rest spread over the following year.
            due = MOMENT if i < DUE_AT_ONCE else MOMENT + timedelta(minutes=1 + i % 525_600)
            batch.append(clock(i, due))
            if len(batch) == 10_000:
                await db[CLOCKS].insert_many(batch, ordered=False)
                batch.clear()
        if batch:
            await db[CLOCKS].insert_many(batch, ordered=False)
        load_seconds = time.perf_counter() - loaded
        insert_rate = total / load_seconds

        app = create_app(settings)
        service: SlaService = app.state.sla_service
        # create_app builds the runtime but does not start it: start what the sweep needs
        # (topics, producers, the outbox relay), not the consumers.
        await app.state.runtime.start()
        try:
            swept = time.perf_counter()
            fired = await service.fire_due(MOMENT)
            sweep_seconds = time.perf_counter() - swept
            idle = time.perf_counter()
            fired_again = await service.fire_due(MOMENT)
            idle_seconds = time.perf_counter() - idle
        finally:
            await app.state.runtime.stop()
        await client.close()
        return {
            "open_clocks": total,
            "due_at_once": DUE_AT_ONCE,
            "fired": fired,
            "fired_on_repeat": fired_again,
            "load_seconds": round(load_seconds, 2),
            "database_bulk_insert_docs_per_second": round(insert_rate),
            "sweep_seconds_for_due_moment": round(sweep_seconds, 2),
            "firings_per_second": round(fired / sweep_seconds),
            "idle_sweep_seconds": round(idle_seconds, 4),
            "ratio_firing_rate_to_bulk_insert_rate": round(
                (fired / sweep_seconds) / insert_rate, 3
            ),
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "rss_growth_mib": round(peak_rss_mib() - rss_before, 1),
        }
    finally:
        server.stop()
        broker.stop()


def main() -> None:
    total = int(os.environ.get("BENCH_CLOCKS", "1000000"))
    result = asyncio.run(run(total))
    out = Path(os.environ.get("BENCH_OUT", "bench/results"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "sla_timers.json").write_text(json.dumps(result, indent=2))
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    if result["fired"] != DUE_AT_ONCE or result["fired_on_repeat"] != 0:
        print("FAILED: the due moment did not fire exactly once", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
