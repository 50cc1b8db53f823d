"""Calendars per region: the national one plus the days admins declared (no I/O).

Admins declare days as data: a collective-leave day the ``holidays`` package does not know
yet, a regional holiday (for a province or a regency), or a working day that would otherwise
be off. A complaint's deadlines use the calendar of its region.
"""

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from services.sla.calendar import WorkingCalendar

NATIONWIDE = "*"


class CalendarBook:
    """The calendar of any region, from a base calendar and declared days."""

    def __init__(self, base: WorkingCalendar, days: Iterable[Mapping[str, Any]] = ()) -> None:
        self._base = base
        self._days = list(days)
        self._cache: dict[str, WorkingCalendar] = {}

    def for_region(self, region_code: str | None) -> WorkingCalendar:
        """Declared days that apply nationwide or to a region containing ``region_code``."""
        key = region_code or NATIONWIDE
        if key not in self._cache:
            applying = [d for d in self._days if _applies(d["region_prefix"], key)]
            self._cache[key] = self._base.with_days(
                holidays=[_day(d) for d in applying if d["kind"] == "holiday"],
                working_days=[_day(d) for d in applying if d["kind"] == "working_day"],
            )
        return self._cache[key]


def _applies(prefix: str, region_code: str) -> bool:
    if prefix == NATIONWIDE:
        return True
    return region_code == prefix or region_code.startswith(prefix + ".")


def _day(row: Mapping[str, Any]) -> date:
    value = row["date"]
    return value if isinstance(value, date) else date.fromisoformat(value)
