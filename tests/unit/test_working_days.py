"""Working-day deadlines: weekends, holidays, collective leave and the agency's time zone."""

from datetime import UTC, date, datetime, time

import pytest

from services.sla.calendar import WorkingCalendar

END = time(23, 59, 59)
WIB, WITA, WIT = "Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"


def test_weekends_are_skipped() -> None:
    calendar = WorkingCalendar()
    # Thursday 2026-11-26 + 5 working days: Fri 27, Mon 30, Tue 1, Wed 2, Thu 3 December.
    assert calendar.nth_working_day_after(date(2026, 11, 26), 5) == date(2026, 12, 3)


def test_national_holiday_is_skipped() -> None:
    calendar = WorkingCalendar()
    # Independence Day, Monday 2026-08-17, is not a working day.
    assert not calendar.is_working_day(date(2026, 8, 17))
    assert calendar.nth_working_day_after(date(2026, 8, 14), 1) == date(2026, 8, 18)
    assert calendar.holiday_name(date(2026, 8, 17)) == "Independence Day"


def test_collective_leave_is_a_holiday_unless_switched_off() -> None:
    christmas_eve_joint_holiday = date(2026, 12, 24)
    assert not WorkingCalendar().is_working_day(christmas_eve_joint_holiday)
    assert WorkingCalendar(collective_leave=False).is_working_day(christmas_eve_joint_holiday)


def test_idul_fitri_week_with_collective_leave() -> None:
    # 2026: Mar 18 (Nyepi leave), 19 Nyepi, 20 leave, 21-22 Idul Fitri (weekend), 23-24 leave.
    calendar = WorkingCalendar()
    assert calendar.nth_working_day_after(date(2026, 3, 17), 1) == date(2026, 3, 25)


def test_declared_holidays_and_working_days_from_configuration() -> None:
    calendar = WorkingCalendar(
        extra_holidays=[date(2026, 11, 27)], extra_working_days=[date(2026, 11, 28)]
    )
    assert not calendar.is_working_day(date(2026, 11, 27))
    assert calendar.is_working_day(date(2026, 11, 28))  # a Saturday declared worked
    assert calendar.nth_working_day_after(date(2026, 11, 26), 1) == date(2026, 11, 28)


def test_deadline_ends_at_close_of_day_in_the_agency_zone() -> None:
    calendar = WorkingCalendar()
    start = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Tuesday in every Indonesian zone
    due = calendar.deadline(start, 5, time_zone=WIT, day_end=END)
    # Tue + 5 working days = Tue 1 December, 23:59:59 WIT (UTC+9).
    assert due == datetime(2026, 12, 1, 14, 59, 59, tzinfo=UTC)


def test_same_instant_is_a_different_local_day_in_different_zones() -> None:
    calendar = WorkingCalendar()
    # Friday 16:30 UTC is Friday 23:30 in Jakarta but already Saturday 00:30 in Makassar.
    start = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)
    in_jakarta = calendar.deadline(start, 1, time_zone=WIB, day_end=END)
    in_makassar = calendar.deadline(start, 1, time_zone=WITA, day_end=END)
    assert in_jakarta == datetime(2026, 11, 30, 16, 59, 59, tzinfo=UTC)  # Monday WIB
    assert in_makassar == datetime(2026, 11, 30, 15, 59, 59, tzinfo=UTC)  # Monday WITA


def test_working_day_end_is_configurable() -> None:
    due = WorkingCalendar().deadline(
        datetime(2026, 11, 24, 3, 0, tzinfo=UTC), 1, time_zone=WIB, day_end=time(16, 0)
    )
    assert due == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_zero_days_is_the_same_working_day_or_the_next() -> None:
    calendar = WorkingCalendar()
    assert calendar.nth_working_day_after(date(2026, 11, 24), 0) == date(2026, 11, 24)
    assert calendar.nth_working_day_after(date(2026, 11, 28), 0) == date(2026, 11, 30)


def test_naive_start_and_negative_days_are_refused() -> None:
    calendar = WorkingCalendar()
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.deadline(datetime(2026, 11, 24), 1, time_zone=WIB, day_end=END)
    with pytest.raises(ValueError, match="negative"):
        calendar.nth_working_day_after(date(2026, 11, 24), -1)


def test_working_days_before_and_between_skip_weekends_and_holidays() -> None:
    calendar = WorkingCalendar()
    # Monday 2026-08-17 is Independence Day: one working day before Tuesday 18 is Friday 14.
    assert calendar.nth_working_day_before(date(2026, 8, 18), 1) == date(2026, 8, 14)
    assert calendar.working_days_between(date(2026, 8, 14), date(2026, 8, 19)) == 2
    assert calendar.working_days_between(date(2026, 8, 19), date(2026, 8, 14)) == 0


def test_warning_is_the_close_of_the_working_day_before_the_due_day() -> None:
    calendar = WorkingCalendar()
    due = datetime(2026, 12, 1, 14, 59, 59, tzinfo=UTC)  # Tuesday 23:59:59 WIT
    warn = calendar.warning_time(due, 1, time_zone=WIT, day_end=END)
    assert warn == datetime(2026, 11, 30, 14, 59, 59, tzinfo=UTC)  # Monday 23:59:59 WIT


def test_year_end_runs_through_christmas_leave_into_january() -> None:
    calendar = WorkingCalendar()
    # Wed 23 Dec 2026; 24 (joint leave), 25 (Christmas), weekend, then 28, 29, 30, 31, 1 Jan is
    # New Year's Day, so the fifth working day is Monday 4 January 2027.
    assert calendar.nth_working_day_after(date(2026, 12, 23), 5) == date(2027, 1, 4)
