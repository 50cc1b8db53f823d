"""Typical journey: the five services as separate processes on the real broker and database.

A complaint posted over HTTP comes back from GET routed, with an agency and a deadline; the
lifecycle events are on the topic in order, carrying the caller's correlation ID, and every
service logged its part under that ID.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.platform import Platform, start_platform
from schemas.events import (
    ComplaintRouted,
    ComplaintStatusChanged,
    ComplaintSubmitted,
    NotificationSent,
    SlaDeadlineSet,
)
from schemas.topics import COMPLAINT_EVENTS
from tests.support import eventually, read_topic

COMPLAINT = {
    "title": "Jalan berlubang di depan pasar",
    "body": "Lubang besar di Jalan Pattimura membahayakan pengendara motor.",
    "category": "infrastruktur.jalan",
    "region_code": "81.71",
    "report_type": "pengaduan",
    "anonymous": True,
    "reporter": {"name": "Siti Rahma", "email": "siti@example.id"},
}


@pytest.fixture(scope="module")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-logs")


@pytest.fixture(scope="module")
def platform(bootstrap: str, mongo_url: str, log_dir: Path) -> Iterator[Platform]:
    running = start_platform(kafka_bootstrap=bootstrap, mongo_url=mongo_url, log_dir=log_dir)
    yield running
    running.stop()


def log_lines(log_dir: Path, service: str) -> list[dict[str, Any]]:
    lines = []
    for line in (log_dir / f"{service}.log").read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


async def test_posted_complaint_is_routed_with_agency_and_deadline(
    platform: Platform, bootstrap: str, log_dir: Path
) -> None:
    correlation_id = "e2e-journey-0001"
    async with httpx.AsyncClient(base_url=platform.url("intake"), timeout=10) as intake:
        response = await intake.post(
            "/v1/complaints", json=COMPLAINT, headers={"X-Correlation-ID": correlation_id}
        )
        assert response.status_code == 201
        tracking_id = response.json()["tracking_id"]

        async def routed_with_deadline() -> dict[str, Any] | None:
            body: dict[str, Any] = (await intake.get(f"/v1/complaints/{tracking_id}")).json()
            return body if body["agency"] and body["deadline"] else None

        status = await eventually(routed_with_deadline, timeout=60)

    assert status["status"] == "forwarded_to_agency"
    assert status["agency"] == {"id": "dinas-pupr-kota-ambon", "name": "Dinas PUPR Kota Ambon"}
    assert status["deadline"]["stage"] == "first_follow_up"
    assert status["deadline"]["working_days"] == 5
    assert status["deadline"]["time_zone"] == "Asia/Jayapura"
    assert status["deadline"]["due_at"] > status["submitted_at"]

    key = tracking_id.encode()
    wanted = 4 + 4  # submitted, routed, forwarded, deadline set, and four notifications

    records = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: sum(r.key == key for r in rs) >= wanted,
        timeout=60,
    )
    mine = [r for r in records if r.key == key]
    types = [r.type for r in mine]
    lifecycle = [t for t in types if t != NotificationSent.event_type()]
    assert lifecycle[:2] == [ComplaintSubmitted.event_type(), ComplaintRouted.event_type()]
    # Intake (forwarding) and SLA (deadline) both answer "routed", in either order.
    assert sorted(lifecycle[2:]) == sorted(
        [ComplaintStatusChanged.event_type(), SlaDeadlineSet.event_type()]
    )
    forwarded = ComplaintStatusChanged.model_validate_json(
        next(r.value for r in mine if r.type == ComplaintStatusChanged.event_type()) or b""
    )
    assert (forwarded.action, forwarded.to_status, forwarded.actor_role) == (
        "forward",
        "forwarded_to_agency",
        "system",
    )
    assert types.count(NotificationSent.event_type()) == 4
    assert len({r.partition for r in mine}) == 1  # keyed by complaint: one partition, in order
    assert {r.headers["ce_correlationid"] for r in mine} == {correlation_id}
    assert {r.headers["ce_source"] for r in mine} == {
        "/lapor/intake",
        "/lapor/routing",
        "/lapor/sla",
        "/lapor/notify",
    }

    for service in ("intake", "routing", "sla", "notify"):
        tagged = [
            line
            for line in log_lines(log_dir, service)
            if line.get("correlation_id") == correlation_id
        ]
        assert tagged, f"{service} logged nothing under the correlation ID"
        if service != "intake":
            assert all(line.get("complaint_id") == tracking_id for line in tagged)


async def test_every_service_reports_ready_and_serves_metrics(platform: Platform) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        for name in platform.services:
            assert (await client.get(f"{platform.url(name)}/readyz")).status_code == 200
            metrics = (await client.get(f"{platform.url(name)}/metrics")).text
            assert "lapor_http_requests_total" in metrics
            openapi = (await client.get(f"{platform.url(name)}/openapi.json")).json()
            assert "/healthz" in openapi["paths"]


def test_services_stop_gracefully(bootstrap: str, mongo_url: str, tmp_path: Path) -> None:
    running = start_platform(
        kafka_bootstrap=bootstrap,
        mongo_url=mongo_url,
        services=("routing", "standards"),
        log_dir=tmp_path,
    )
    running.stop()
    for name, server in running.services.items():
        # uvicorn re-raises SIGTERM after its shutdown completes; -9 would mean it had to be killed.
        assert server.process.returncode in (0, -15), name
        events = [line["event"] for line in log_lines(tmp_path, name)]
        assert "service_stopping" in events
        assert events[-2:] == [
            "Application shutdown complete.",
            f"Finished server process [{server.process.pid}]",
        ]
