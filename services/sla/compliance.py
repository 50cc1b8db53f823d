"""Compliance figures per agency (and unit). No I/O.

On-time rate counts open overdue work in the denominator (Austin 311's lesson: "% closed on
time" alone hides the backlog): on-time closed ÷ (closed + open overdue), from completion
clocks. Median time to first follow-up comes from first follow-up clocks that were met.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any


@dataclass(frozen=True)
class Compliance:
    """Figures for one agency."""

    agency_id: str
    closed: int
    closed_on_time: int
    open_overdue: int
    on_time_rate: float | None
    median_first_follow_up_hours: float | None


def compliance(clocks: Iterable[Mapping[str, Any]], *, now: datetime) -> list[Compliance]:
    """Figures per agency from its clocks (agency-side stages only), by agency ID."""
    closed: dict[str, int] = defaultdict(int)
    on_time: dict[str, int] = defaultdict(int)
    overdue: dict[str, int] = defaultdict(int)
    follow_ups: dict[str, list[float]] = defaultdict(list)
    agencies: set[str] = set()
    for clock in clocks:
        agency = clock.get("agency_id")
        if agency is None:
            continue
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
    for agency in sorted(agencies):
        denominator = closed[agency] + overdue[agency]
        figures.append(
            Compliance(
                agency_id=agency,
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
