"""The time a service goes by: the real UTC time, shifted by an offset outside production.

Deadlines, warnings, breaches, escalations and auto-closing happen days apart; an operator
rehearsing them, or a test showing them, shifts the clock (``CLOCK_OFFSET_SECONDS`` at start,
or the SLA service's ``PUT /v1/admin/clock`` while it runs) instead of waiting or faking time
inside the process. ``ENVIRONMENT=production`` refuses an offset and serves no clock endpoint.
"""

from datetime import UTC, datetime, timedelta


class Clock:
    """Now, as this service counts it."""

    def __init__(self, offset_seconds: float = 0.0) -> None:
        self._offset = timedelta(seconds=offset_seconds)

    def now(self) -> datetime:
        """The current instant in UTC, shifted by the offset."""
        return datetime.now(UTC) + self._offset

    @property
    def offset_seconds(self) -> float:
        """How far this clock runs ahead of (positive) or behind real time."""
        return self._offset.total_seconds()

    def shift_to(self, offset_seconds: float) -> None:
        """Run ``offset_seconds`` ahead of real time from now on (0: real time again)."""
        self._offset = timedelta(seconds=offset_seconds)
