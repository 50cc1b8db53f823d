"""Declared days: nationwide, per province or regency, holidays and extra working days."""

from datetime import date

from services.sla.calendar import WorkingCalendar
from services.sla.calendar_book import CalendarBook

DAYS = [
    {"date": "2026-11-27", "kind": "holiday", "region_prefix": "*", "name": "Cuti bersama"},
    {"date": "2026-12-01", "kind": "holiday", "region_prefix": "81", "name": "Hari jadi Maluku"},
    {"date": "2026-12-02", "kind": "holiday", "region_prefix": "81.71", "name": "HUT Kota Ambon"},
    {"date": "2026-11-28", "kind": "working_day", "region_prefix": "13", "name": "Hari kerja"},
]


def test_nationwide_days_apply_everywhere() -> None:
    book = CalendarBook(WorkingCalendar(), DAYS)
    for region in (None, "31", "81.71.01"):
        assert not book.for_region(region).is_working_day(date(2026, 11, 27))


def test_regional_days_apply_only_inside_their_region() -> None:
    book = CalendarBook(WorkingCalendar(), DAYS)
    ambon, tual, jakarta = (
        book.for_region("81.71.02"),
        book.for_region("81.72"),
        book.for_region("31"),
    )
    assert not ambon.is_working_day(date(2026, 12, 1))
    assert not ambon.is_working_day(date(2026, 12, 2))
    assert not tual.is_working_day(date(2026, 12, 1))
    assert tual.is_working_day(date(2026, 12, 2))
    assert jakarta.is_working_day(date(2026, 12, 1))
    # "81.7" is not a prefix of "81.71" by whole segments.
    assert (
        CalendarBook(WorkingCalendar(), [DAYS[2] | {"region_prefix": "81.7"}])
        .for_region("81.71")
        .is_working_day(date(2026, 12, 2))
    )


def test_a_declared_working_day_counts() -> None:
    padang = CalendarBook(WorkingCalendar(), DAYS).for_region("13.71")
    assert padang.is_working_day(date(2026, 11, 28))  # a Saturday worked in Sumatera Barat
    assert padang.nth_working_day_after(date(2026, 11, 26), 1) == date(2026, 11, 28)
