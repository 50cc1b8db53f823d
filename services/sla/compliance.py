"""Compliance figures per agency (and unit). No I/O.

On-time rate counts open overdue work in the denominator (Austin 311's lesson: "% closed on
time" alone hides the backlog): on-time closed ÷ (closed + open overdue), from completion
clocks. A completion clock is met by the agency's answer (not by closing, which waits on the
complainant); a re-opened report runs it again, so it counts as open until answered anew.
Median time to first follow-up comes from first follow-up clocks that were met.

A report merged into another is not a resolution: its clocks end as "merged" and are left out
of every figure; the report it merged into carries the work and is counted where it lands.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any


@dataclass(frozen=True)
class Compliance:
    """Figures for one agency, or one of its units."""

    agency_id: str
    unit_id: str | None
    closed: int
    closed_on_time: int
    open_overdue: int
    on_time_rate: float | None
    median_first_follow_up_hours: float | None


Key = tuple[str, str | None]


def compliance(
    clocks: Iterable[Mapping[str, Any]], *, now: datetime, by_unit: bool = False
) -> list[Compliance]:
    """Figures per agency (or per agency and unit) from its clocks, sorted by key."""
    closed: dict[Key, int] = defaultdict(int)
    on_time: dict[Key, int] = defaultdict(int)
    overdue: dict[Key, int] = defaultdict(int)
    follow_ups: dict[Key, list[float]] = defaultdict(list)
    agencies: set[Key] = set()
    for clock in clocks:
        if clock.get("agency_id") is None or clock["state"] == "merged":
            continue
        agency: Key = (clock["agency_id"], clock.get("unit_id") if by_unit else None)
        agencies.add(agency)
        state, stage = clock["state"], clock["stage"]
        if stage == "completion":
            if state in ("stopped", "met"):
                closed[agency] += 1
                if clock.get("ended_at") is not None and clock["ended_at"] <= clock["due_at"]:
                    on_time[agency] += 1
            elif state == "running" and clock["due_at"] < now:
                overdue[agency] += 1
        elif stage == "first_follow_up" and state == "met" and clock.get("ended_at"):
            hours = (clock["ended_at"] - clock["started_at"]).total_seconds() / 3600
            follow_ups[agency].append(hours)
    figures = []
    for agency in sorted(agencies, key=lambda key: (key[0], key[1] or "")):
        denominator = closed[agency] + overdue[agency]
        figures.append(
            Compliance(
                agency_id=agency[0],
                unit_id=agency[1],
                closed=closed[agency],
                closed_on_time=on_time[agency],
                open_overdue=overdue[agency],
                on_time_rate=on_time[agency] / denominator if denominator else None,
                median_first_follow_up_hours=(
                    round(median(follow_ups[agency]), 2) if follow_ups[agency] else None
                ),
            )
        )
    return figures
