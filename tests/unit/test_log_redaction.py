"""No secret or personal data in the logs: the redacting processor, on real log output."""

import io
import json
import logging

import pytest

from kernel.logging import configure_logging, get_logger, scrub

pytestmark = pytest.mark.reliability

SECRETS = (
    "siti.rahma@example.id",
    "+6281234567890",
    "081298765432",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
    "s3cr3t-password",
)


@pytest.fixture
def captured() -> io.StringIO:
    configure_logging(service="test", level="INFO", json=True)
    stream = io.StringIO()
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    return stream


def test_personal_data_and_secrets_never_reach_the_log(captured: io.StringIO) -> None:
    log = get_logger("test")
    log.info(
        "reporter siti.rahma@example.id called from +6281234567890 and 081298765432",
        email="siti.rahma@example.id",
        reporter={"name": "Siti Rahma", "phone": "+6281234567890"},
        headers={"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"},
        smtp_password="s3cr3t-password",
        complaint_id="LPR-ABCDE-12345",
    )
    try:
        raise ValueError(f"cannot reach {SECRETS[0]} with token {SECRETS[3]}")
    except ValueError:
        log.exception("delivery_failed")
    logging.getLogger("uvicorn.error").warning("client +6281234567890 sent a bad request")
    output = captured.getvalue()
    for secret in SECRETS:
        assert secret not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines[0]["complaint_id"] == "LPR-ABCDE-12345"  # what operators need stays
    assert lines[0]["email"] == "[redacted]" and lines[0]["reporter"] == "[redacted]"
    assert "[email]" in lines[0]["event"] and "[phone]" in lines[0]["event"]
    assert "[token]" in lines[1]["exception"]
    assert "[phone]" in lines[2]["event"]


def test_scrub_leaves_ids_and_numbers_alone() -> None:
    text = "LPR-ABCDE-12345 region 81.71.01 took 5 days, 620000 rupiah, port 8001"
    assert scrub(text) == text
