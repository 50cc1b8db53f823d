"""Working-day ("hari kerja") arithmetic: weekends, national holidays, collective leave. No I/O.

National holidays and the government's collective leave days (cuti bersama) come from the
``holidays`` package (Indonesia, categories ``public`` and ``government``); a deployment adds
decreed days the package does not know yet, and may declare extra working days. A deadline of
N working days ends at the close of the Nth working day after the start, in the agency's zone.
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

SATURDAY = 5


class WorkingCalendar:
    """Which days are working days for Indonesian public-service providers."""

    def __init__(
        self,
        *,
        extra_holidays: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        collective_leave: bool = True,
    ) -> None:
        categories = ("public", "government") if collective_leave else ("public",)
        self._national = holidays.country_holidays("ID", categories=categories)
        self._extra_holidays = frozenset(extra_holidays)
        self._extra_working_days = frozenset(extra_working_days)

    def with_days(
        self, *, holidays: Iterable[date] = (), working_days: Iterable[date] = ()
    ) -> "WorkingCalendar":
        """This calendar plus more declared holidays and working days (e.g. an admin's, or a
        province's)."""
        extended = object.__new__(WorkingCalendar)
        extended._national = self._national
        extended._extra_holidays = self._extra_holidays | frozenset(holidays)
        extended._extra_working_days = self._extra_working_days | frozenset(working_days)
        return extended

    def is_working_day(self, day: date) -> bool:
        """Monday to Friday, not a holiday, unless explicitly declared a working day."""
        if day in self._extra_working_days:
            return True
        return (
            day.weekday() < SATURDAY
            and day not in self._national
            and (day not in self._extra_holidays)
        )

    def holiday_name(self, day: date) -> str | None:
        """Why a weekday is not worked (for explanations), or None."""
        if day in self._extra_holidays:
            return "declared holiday"
        name: str | None = self._national.get(day)
        return name

    def nth_working_day_after(self, day: date, n: int) -> date:
        """The nth working day after ``day`` (n=0: ``day`` itself if worked, else the next one)."""
        if n < 0:
            raise ValueError("n must not be negative")
        current = day
        if n == 0:
            while not self.is_working_day(current):
                current += timedelta(days=1)
            return current
        counted = 0
        while counted < n:
            current += timedelta(days=1)
            if self.is_working_day(current):
                counted += 1
        return current

    def nth_working_day_before(self, day: date, n: int) -> date:
        """The nth working day before ``day`` (n >= 1)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        current, counted = day, 0
        while counted < n:
            current -= timedelta(days=1)
            if self.is_working_day(current):
                counted += 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
        count, current = 0, start
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count

    def warning_time(
        self, due_at: datetime, working_days_before: int, *, time_zone: str, day_end: time
    ) -> datetime:
        """When to warn: the close of the working day ``working_days_before`` before the due day."""
        zone = ZoneInfo(time_zone)
        due_day = due_at.astimezone(zone).date()
        day = self.nth_working_day_before(due_day, working_days_before)
        return datetime.combine(day, day_end, tzinfo=zone).astimezone(UTC)

    @staticmethod
    def calendar_deadline(start: datetime, days: int, *, time_zone: str, day_end: time) -> datetime:
        """End of the day ``days`` calendar days after ``start``, local to ``time_zone``."""
        zone = ZoneInfo(time_zone)
        due_day = start.astimezone(zone).date() + timedelta(days=days)
        return datetime.combine(due_day, day_end, tzinfo=zone).astimezone(UTC)

    def deadline(
        self, start: datetime, working_days: int, *, time_zone: str, day_end: time
    ) -> datetime:
        """End of the ``working_days``-th working day after ``start``, local to ``time_zone``,
        as a UTC instant. The start's calendar day is read in the same zone."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        zone = ZoneInfo(time_zone)
        local_day = start.astimezone(zone).date()
        due_day = self.nth_working_day_after(local_day, working_days)
        return datetime.combine(due_day, day_end, tzinfo=zone).astimezone(UTC)
