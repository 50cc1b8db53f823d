"""Recent open reports per regency and category group, kept in memory for duplicate detection.

Reading the up to 200 candidates from the database for every new report was the costliest step
of handling one (13.5 ms of 25 here). The cache reads them once, then only what was filed
since; every ``refresh_seconds`` it reads them all again, so that reports rejected or merged
meanwhile (and any filed by another replica with an earlier timestamp) are seen. Suggestions
are hints for an admin: a report missed for those seconds is a hint missed, nothing more.

"What was filed since" is asked at most every ``catch_up_seconds`` per place: on the embedded
database that read costs as much as the full one (it decodes every report of the place before
it looks at the dates), and in a burst of reports from one city it ran once per report. Between
two catch-ups the cache learns each new report from the caller, who has it in hand.
"""

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from kernel.lru import LRU
from services.intake.duplicates import category_group

Document = dict[str, Any]
# What duplicate detection compares: the store reads these fields, the cache keeps only these.
REPORT_FIELDS = ("title", "body", "category", "region_code", "location", "submitted_at")


class RecentSource(Protocol):
    """Where the reports come from (the complaint store)."""

    async def recent_nearby(
        self, *, category: str, regency: str, since: datetime, until: datetime, limit: int = 200
    ) -> list[Document]: ...


@dataclass
class _Entry:
    loaded_at: float
    newest: datetime  # everything filed up to here has been read from the store
    caught_up_at: float
    reports: dict[str, Document] = field(default_factory=dict)


class RecentReports:
    """The newest ``limit`` open reports of each (regency, category group) seen lately."""

    def __init__(
        self,
        source: RecentSource,
        *,
        window: timedelta,
        refresh_seconds: float = 30.0,
        catch_up_seconds: float = 1.0,
        limit: int = 200,
        max_places: int = 512,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._window = window
        self._refresh = refresh_seconds
        self._catch_up = catch_up_seconds
        self._clock = clock
        self._limit = limit
        self._max_places = max_places
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    async def before(
        self,
        *,
        category: str,
        regency: str,
        moment: datetime,
        report: Document | None = None,
    ) -> list[Document]:
        """Open reports of the place and kind filed within the window up to ``moment``.

        ``report``, the new report itself (with the fields the store returns), joins the cache
        without a read; the caller leaves it out of its own candidates."""
        key = (regency, category_group(category))
        entry = self._entries.get(key)
        since = moment - self._window
        now = self._clock()
        if entry is None or now - entry.loaded_at > self._refresh:
            docs = await self._source.recent_nearby(
                category=category, regency=regency, since=since, until=moment, limit=self._limit
            )
            entry = _Entry(
                loaded_at=now,
                newest=moment,
                caught_up_at=now,
                reports={d["_id"]: d for d in docs},
            )
        elif moment > entry.newest and now - entry.caught_up_at >= self._catch_up:
            newer = await self._source.recent_nearby(
                category=category,
                regency=regency,
                since=entry.newest,
                until=moment,
                limit=self._limit,
            )
            entry.reports.update((d["_id"], d) for d in newer)
            entry.newest = moment
            entry.caught_up_at = now
        if report is not None:
            fields = {name: report[name] for name in REPORT_FIELDS if name in report}
            entry.reports[report["_id"]] = {"_id": report["_id"], **fields}
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_places:
            self._entries.popitem(last=False)
        kept = sorted(entry.reports.values(), key=lambda d: d["submitted_at"], reverse=True)
        entry.reports = {d["_id"]: d for d in kept[: self._limit]}
        return [d for d in kept[: self._limit] if since <= d["submitted_at"] <= moment]


class JustFiled:
    """What duplicate detection needs of the reports this process stored lately, until its
    consumer takes their "submitted" event: reading each back from the database was one query
    per report. Bounded; a report not found here (another replica filed it, the process
    restarted, the event came again) is read from the store as before."""

    def __init__(self, *, limit: int = 4096) -> None:
        self._reports: LRU[str, Document] = LRU(limit)

    def add(self, record: Document) -> None:
        """Remember a report just stored (only the fields compared, no contact details)."""
        fields = {name: record[name] for name in REPORT_FIELDS if name in record}
        self._reports.put(record["_id"], {"_id": record["_id"], **fields})

    def take(self, complaint_id: str) -> Document | None:
        """The report as it was stored, once; None when this process does not have it."""
        return self._reports.pop(complaint_id)
