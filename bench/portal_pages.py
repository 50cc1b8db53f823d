"""The portal's pages, timed: how long each takes to answer, its calls to the services included.

Starts the whole platform with the portal (embedded broker and database), files a few
reports, then asks for each main page ``PORTAL_REQUESTS`` times, one at a time, as a citizen
and as an agency's admin. Prints p50/p95 per page next to the target (p95 under 100 ms) and
writes ``bench/results/portal_pages.json``.

    make bench-portal
"""

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import httpx

from bench.platform_load import SERVICE_ENV, percentiles
from devstack.platform import start_platform

RESULTS = Path(__file__).resolve().parent / "results"
REQUESTS = int(os.environ.get("PORTAL_REQUESTS", "200"))
REPORTS = 20
TARGET_P95_MS = 100.0
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def signed_in(portal: str, name: str, role: str, agency_id: str = "") -> httpx.Client:
    client = httpx.Client(base_url=portal, timeout=30, follow_redirects=True)
    page = client.get("/masuk?lang=id").text
    token = CSRF.search(page)
    assert token, "no CSRF token on the sign-in page"
    fields = {"csrf_token": token.group(1), "name": name, "role": role, "agency_id": agency_id}
    client.post("/masuk", data=fields).raise_for_status()
    return client


def file_reports(client: httpx.Client) -> list[str]:
    ids = []
    for n in range(REPORTS):
        token = CSRF.search(client.get("/lapor").text)
        assert token
        answer = client.post(
            "/lapor",
            data={
                "csrf_token": token.group(1),
                "report_type": "pengaduan",
                "title": f"Jalan berlubang nomor {n}",
                "body": "Lubang besar di Jalan Pattimura membahayakan pengendara.",
                "category": "infrastruktur.jalan",
                "region_code": "81.71",
                "email": f"warga{n}@example.id",
            },
        )
        answer.raise_for_status()
        ids.append(str(answer.url).rsplit("/", 1)[1])
    return ids


def timed(client: httpx.Client, path: str) -> list[float]:
    client.get(path).raise_for_status()  # warm: caches of categories and agencies
    took = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        took.append(time.perf_counter() - started)
    return took


def run() -> dict[str, Any]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    platform = start_platform(extra_env=SERVICE_ENV, front_ends=("portal",))
    try:
        portal = platform.url("portal")
        citizen = signed_in(portal, "Siti", "citizen")
        ids = file_reports(citizen)
        intake = platform.url("intake")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            last = httpx.get(f"{intake}/v1/complaints/{ids[-1]}").json()
            if last.get("agency") and last.get("deadline"):
                break
            time.sleep(0.5)
        agency = str(last["agency"]["id"])
        officer = signed_in(portal, "Budi", "agency_admin", agency)
        pages = {
            "home": (citizen, "/"),
            "file form": (citizen, "/lapor"),
            "track": (citizen, f"/lacak?id={ids[0]}"),
            "public reports": (citizen, "/publik"),
            "service standards": (citizen, "/standar"),
            "console queues": (officer, "/konsol"),
            "console report": (officer, f"/konsol/laporan/{ids[0]}"),
            "console performance": (officer, "/konsol/kinerja"),
        }
        figures = {name: percentiles(timed(client, path)) for name, (client, path) in pages.items()}
    finally:
        platform.stop()
    worst = max(f["p95"] for f in figures.values())
    result = {
        "requests_per_page": REQUESTS,
        "pages_ms": figures,
        "portal_page_p95_ms": worst,
        "target_p95_ms": TARGET_P95_MS,
        "met": worst < TARGET_P95_MS,
    }
    (RESULTS / "portal_pages.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def main() -> None:
    result = run()
    print("| page | p50 ms | p95 ms |\n|---|---|---|")
    for name, f in result["pages_ms"].items():
        print(f"| {name} | {f['p50']} | {f['p95']} |")
    verdict = "met" if result["met"] else "NOT met"
    print(f"slowest page p95: {result['portal_page_p95_ms']} ms (target < 100 ms: {verdict})")


if __name__ == "__main__":
    main()
