"""The in-memory cache of recent reports that duplicate detection compares a new report with."""

from datetime import UTC, datetime, timedelta
from typing import Any

from services.intake.recent import JustFiled, RecentReports

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
WINDOW = timedelta(days=30)


class Reports:
    """Open reports as the store would return them, counting the reads."""

    def __init__(self) -> None:
        self.open: dict[str, dict[str, Any]] = {}
        self.reads: list[tuple[datetime, datetime]] = []

    def file(self, tracking_id: str, at: datetime, regency: str = "81.71") -> None:
        self.open[tracking_id] = {
            "_id": tracking_id,
            "submitted_at": at,
            "regency": regency,
            "category": "infrastruktur.jalan",
        }

    async def recent_nearby(
        self, *, category: str, regency: str, since: datetime, until: datetime, limit: int = 200
    ) -> list[dict[str, Any]]:
        self.reads.append((since, until))
        found = [
            d
            for d in self.open.values()
            if d["regency"] == regency and since <= d["submitted_at"] <= until
        ]
        return sorted(found, key=lambda d: d["submitted_at"], reverse=True)[:limit]


async def before(cache: RecentReports, moment: datetime, regency: str = "81.71") -> list[str]:
    found = await cache.before(category="infrastruktur.jalan", regency=regency, moment=moment)
    return [d["_id"] for d in found]


async def test_later_reports_read_only_what_was_filed_since() -> None:
    source = Reports()
    source.file("A", T0)
    source.file("B", T0 + timedelta(minutes=1))
    cache = RecentReports(source, window=WINDOW, refresh_seconds=3600, catch_up_seconds=0)
    assert await before(cache, T0 + timedelta(minutes=2)) == ["B", "A"]
    source.file("C", T0 + timedelta(minutes=3))
    assert await before(cache, T0 + timedelta(minutes=4)) == ["C", "B", "A"]
    # The second read asked only for the minutes since the first.
    assert source.reads[1] == (T0 + timedelta(minutes=2), T0 + timedelta(minutes=4))


async def test_only_reports_of_the_window_up_to_the_moment_and_of_that_place() -> None:
    source = Reports()
    source.file("OLD", T0 - WINDOW - timedelta(days=1))
    source.file("A", T0)
    source.file("LATER", T0 + timedelta(hours=1))
    source.file("ELSEWHERE", T0, regency="13.71")
    cache = RecentReports(source, window=WINDOW, refresh_seconds=3600, catch_up_seconds=0)
    assert await before(cache, T0 + timedelta(hours=2)) == ["LATER", "A"]
    # An event handled late (another partition): reports filed after it are not candidates.
    assert await before(cache, T0 + timedelta(minutes=5)) == ["A"]


async def test_a_refresh_forgets_reports_closed_meanwhile() -> None:
    source = Reports()
    source.file("A", T0)
    source.file("B", T0 + timedelta(minutes=1))
    cache = RecentReports(source, window=WINDOW, refresh_seconds=0)
    assert await before(cache, T0 + timedelta(minutes=2)) == ["B", "A"]
    del source.open["A"]  # rejected or merged: no longer open
    assert await before(cache, T0 + timedelta(minutes=3)) == ["B"]


async def test_at_most_the_newest_limit_and_a_bounded_number_of_places() -> None:
    source = Reports()
    for i in range(10):
        source.file(f"R{i}", T0 + timedelta(minutes=i))
        source.file(f"S{i}", T0 + timedelta(minutes=i), regency=f"81.{i:02d}")
    cache = RecentReports(source, window=WINDOW, refresh_seconds=3600, limit=3, max_places=2)
    assert await before(cache, T0 + timedelta(hours=1)) == ["R9", "R8", "R7"]
    for i in range(3):
        await before(cache, T0 + timedelta(hours=1), regency=f"81.{i:02d}")
    reads = len(source.reads)
    await before(cache, T0 + timedelta(hours=1), regency="81.71")  # evicted: read again
    assert len(source.reads) == reads + 1


async def test_in_a_burst_what_was_filed_since_is_read_at_most_once_a_catch_up_period() -> None:
    source = Reports()
    source.file("A", T0)
    now = [0.0]
    cache = RecentReports(
        source, window=WINDOW, refresh_seconds=3600, catch_up_seconds=1.0, clock=lambda: now[0]
    )
    assert await before(cache, T0 + timedelta(seconds=1)) == ["A"]
    # Ten reports within the same second: each joins the cache from the caller, none is read.
    for n in range(10):
        at = T0 + timedelta(seconds=2, milliseconds=n)
        source.file(f"N{n}", at)
        report = source.open[f"N{n}"]
        found = await cache.before(
            category="infrastruktur.jalan", regency="81.71", moment=at, report=report
        )
        assert [d["_id"] for d in found][:2] == [f"N{n}", *([f"N{n - 1}"] if n else ["A"])]
    assert len(source.reads) == 1
    # Another replica's report, filed meanwhile, is read at the next catch-up.
    source.file("OTHER", T0 + timedelta(seconds=2, milliseconds=50))
    now[0] = 1.5
    assert "OTHER" in await before(cache, T0 + timedelta(seconds=3))
    assert len(source.reads) == 2
    assert source.reads[1][0] == T0 + timedelta(seconds=1)  # since the last read, not the burst


def report(tracking_id: str) -> dict[str, Any]:
    return {
        "_id": tracking_id,
        "title": f"Jalan rusak {tracking_id}",
        "body": "Lubang besar",
        "category": "infrastruktur.jalan",
        "region_code": "81.71",
        "location": None,
        "submitted_at": T0,
    }


def test_a_report_just_filed_is_handed_over_once_without_its_reporter() -> None:
    memo = JustFiled(limit=2)
    for n in range(3):
        memo.add({**report(f"LPR-{n}"), "reporter": {"name": "Siti"}})
    assert memo.take("LPR-0") is None  # the oldest made room for the newest
    taken = memo.take("LPR-2")
    assert taken is not None and taken["_id"] == "LPR-2" and "reporter" not in taken
    assert taken["title"] == report("LPR-2")["title"]
    assert memo.take("LPR-2") is None  # a second copy of the event reads the store
