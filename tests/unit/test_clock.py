"""The shifted clock operators and tests rehearse deadlines with, and production's refusal of it."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from kernel.clock import Clock
from kernel.settings import ServiceSettings
from services.sla.app import create_app
from services.sla.config import SlaSettings

PRODUCTION = {
    "environment": "production",
    "auth_jwt_secret": "a-production-secret-of-at-least-32-chars",
    "pii_keys": ["5Z0HDpq8eMI4C3kqJYhV0X1zLqZ3lCsd1k2m3n4o5p8="],
}


def test_a_shifted_clock_runs_ahead_and_back() -> None:
    clock = Clock(offset_seconds=14 * 86400)
    ahead = clock.now() - datetime.now(UTC)
    assert timedelta(days=13, hours=23) < ahead <= timedelta(days=14)
    clock.shift_to(0)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)
    assert clock.offset_seconds == 0


def test_production_runs_on_real_time_only() -> None:
    with pytest.raises(ValidationError, match="CLOCK_OFFSET_SECONDS"):
        ServiceSettings(**PRODUCTION, clock_offset_seconds=3600)  # type: ignore[arg-type]
    assert ServiceSettings(**PRODUCTION).clock().offset_seconds == 0  # type: ignore[arg-type]
    assert ServiceSettings(clock_offset_seconds=-60).clock().offset_seconds == -60


def test_the_clock_endpoint_exists_outside_production_only() -> None:
    def paths(settings: SlaSettings) -> set[str]:
        return set(create_app(settings).openapi()["paths"])

    assert "/v1/admin/clock" in paths(SlaSettings())
    assert "/v1/admin/clock" not in paths(SlaSettings(**PRODUCTION))  # type: ignore[arg-type]
