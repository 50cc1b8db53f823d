"""The event path's six targets (issue 19), each a figure of one ``make bench-platform`` run.

Every figure is kept under a stable key in ``bench/results/targets.json`` so that runs can be
compared over time; each is printed next to its target with whether this run met it.
"""

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Target:
    """One figure, the bound it must respect, and what it measures."""

    key: str
    bound: float
    direction: Literal["at most", "at least"]
    what: str

    def met(self, value: float | None) -> bool:
        if value is None:
            return False
        return value <= self.bound if self.direction == "at most" else value >= self.bound


TARGETS = (
    Target(
        "db_commands_per_complaint",
        20,
        "at most",
        "database commands per complaint, end to end, at half the end-to-end rate (less what "
        "the idle platform sends over the same time)",
    ),
    Target(
        "e2e_per_insert_one",
        1 / 6,
        "at least",
        "end-to-end complaints/s ÷ the database's insert_one rate",
    ),
    Target(
        "p99_post_to_routed_ms_at_half_e2e",
        100,
        "at most",
        "p99 POST→routed (ms) at half the end-to-end rate",
    ),
    Target(
        "intake_alone_per_bare_asgi",
        0.25,
        "at least",
        "intake alone at saturation ÷ a bare ASGI endpoint",
    ),
    Target(
        "sla_firing_per_bulk_insert",
        0.5,
        "at least",
        "SLA firings/s (10,000 due among the open clocks) ÷ the database's bulk-insert rate",
    ),
    Target(
        "max_service_rss_mib",
        150,
        "at most",
        "largest service RSS (MiB) at the end of the run",
    ),
)


def figures(platform: dict[str, Any], sla: dict[str, Any] | None) -> dict[str, float | None]:
    """The six figures from the platform run's result and the SLA sweep's (None when the SLA
    part did not run)."""
    levels: list[dict[str, Any]] = platform["platform"]["levels"]
    half_e2e = next(level for level in levels if level.get("share_of_end_to_end") == 0.5)
    ceilings = platform["ceilings"]
    return {
        "db_commands_per_complaint": half_e2e.get("database_commands_per_complaint"),
        "e2e_per_insert_one": round(
            platform["platform"]["end_to_end_per_s"] / ceilings["mongo"]["insert_one_per_s"], 4
        ),
        "p99_post_to_routed_ms_at_half_e2e": half_e2e["latency_ms"]["routed"]["p99"],
        "intake_alone_per_bare_asgi": round(
            platform["intake_alone"]["per_s"] / ceilings["asgi_per_s"], 4
        ),
        "sla_firing_per_bulk_insert": (
            sla["ratio_firing_rate_to_bulk_insert_rate"] if sla is not None else None
        ),
        "max_service_rss_mib": max(platform["platform"]["rss_mib"].values()),
    }


def report(values: dict[str, float | None]) -> dict[str, Any]:
    """Each figure with its target and whether it was met, under the stable keys."""
    return {
        target.key: {
            "value": values[target.key],
            "target": f"{target.direction} {round(target.bound, 4)}",
            "met": target.met(values[target.key]),
            "what": target.what,
        }
        for target in TARGETS
    }


def markdown(reported: dict[str, Any]) -> str:
    """The figures next to their targets, as a table."""
    lines = ["| figure | this run | target | met |", "|---|---|---|---|"]
    for key, entry in reported.items():
        value = "not measured" if entry["value"] is None else entry["value"]
        lines.append(
            f"| {entry['what']} (`{key}`) | {value} | {entry['target']} | "
            f"{'yes' if entry['met'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"
