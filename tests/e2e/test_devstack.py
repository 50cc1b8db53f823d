"""``make run`` as a user starts it: every channel on. An SMS report is filed and its sender hears
back through the local SMS gateway (no more "sms channel is not configured"), an unknown region
code is answered with how to send it, and Open311 accepts the development key."""

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack import infra
from devstack.run import DEV_OPEN311_KEY, DEV_SMS_INBOUND_TOKEN
from tests.support import eventually

SENDER = "+6281299990001"


@pytest.fixture(scope="module")
async def make_run(
    bootstrap: str, mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[dict[str, str], Path]]:
    """``lapor-devstack`` (what ``make run`` runs) against the session's broker and database;
    yields what it printed, by the name in its first column, and its data folder."""
    data = tmp_path_factory.mktemp("make-run")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "devstack.run",
        env=infra.child_env(
            KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            MONGO_URL=mongo_url,
            LAPOR_DATA_DIR=str(data),
            KAFKA_SESSION_TIMEOUT_MS="3000",
            KAFKA_HEARTBEAT_INTERVAL_MS="300",
            LOG_LEVEL="WARNING",
        ),
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    assert process.stdout is not None
    printed: dict[str, str] = {}
    try:
        while "logs" not in printed:
            line = (await asyncio.wait_for(process.stdout.readline(), timeout=120)).decode()
            assert line, "make run stopped before it was ready"
            if line.startswith("logs in "):
                printed["logs"] = line
            else:
                printed[line[:10].strip()] = line[10:].strip()
        yield printed, data
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(process.wait(), timeout=60)
    assert process.returncode == 0


def url_in(text: str) -> str:
    found = re.search(r"http://127\.0\.0\.1:\d+", text)
    assert found, text
    return found.group(0)


async def test_sms_and_open311_are_on_and_sms_reporters_hear_back(
    make_run: tuple[dict[str, str], Path],
) -> None:
    printed, data = make_run
    intake, gateway = url_in(printed["intake"]), url_in(printed["sms out"])
    assert DEV_SMS_INBOUND_TOKEN in printed["sms in"] and DEV_OPEN311_KEY in printed["open311"]
    async with httpx.AsyncClient(base_url=intake, timeout=10) as http:

        async def sms(message_id: str, text: str) -> httpx.Response:
            return await http.post(
                "/v1/channels/sms",
                json={"message_id": message_id, "sender": SENDER, "text": text},
                headers={"X-Gateway-Token": DEV_SMS_INBOUND_TOKEN},
            )

        unknown = await sms("dev-sms-1", "LAPOR#JALAN#9999#Jalan Pattimura berlubang besar")
        assert unknown.status_code == 422
        assert "Kode wilayah 9999 tidak dikenal" in unknown.json()["reply"]

        filed = await sms("dev-sms-2", "LAPOR#JALAN#8171#Jalan Pattimura berlubang besar")
        assert filed.status_code == 200, filed.text
        tracking_id = filed.json()["tracking_id"]
        status = (await http.get(f"/v1/complaints/{tracking_id}")).json()
        assert status["title"] == "Jalan Pattimura berlubang besar"

        open311 = await http.post(
            "/open311/v2/requests.json",
            data={
                "api_key": DEV_OPEN311_KEY,
                "service_code": "infrastruktur.jalan",
                "lat": "-3.6954",
                "long": "128.1814",
                "description": "Lubang besar di depan pasar",
                "phone": "+6281299990002",
            },
        )
        assert open311.status_code == 201, open311.text

    async with httpx.AsyncClient(base_url=gateway, timeout=10) as http:

        async def heard_back() -> list[dict[str, Any]]:
            sent: list[dict[str, Any]] = (await http.get("/messages")).json()
            return [m for m in sent if m["to"] == SENDER and tracking_id in m["text"]]

        [reply] = await eventually(heard_back, timeout=90)
    assert "diterima" in reply["text"].lower()
    assert tracking_id in (data / "sms" / "messages.jsonl").read_text("utf-8")
