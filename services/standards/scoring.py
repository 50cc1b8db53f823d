"""Completeness and compliance of service standards: a score from which of the 14 components
are really filled (a "-" or "belum ada" is not), whether the pledge (maklumat) is made and
whether the standard is published; zones by configurable thresholds. No I/O."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from services.standards.domain import StandardCreate

Zone = Literal["green", "yellow", "red"]
PLACEHOLDERS = frozenset({"-", "--", "n/a", "na", "tidak ada", "belum ada", "belum", "tbd", "..."})
MIN_TEXT = 3
# The 14 components, by where they live and their name in Permen PANRB 15/2014.
COMPONENTS: tuple[tuple[str, str, str], ...] = (
    ("delivery", "requirements", "persyaratan"),
    ("delivery", "procedure", "sistem, mekanisme dan prosedur"),
    ("delivery", "completion_time", "jangka waktu penyelesaian"),
    ("delivery", "fee", "biaya/tarif"),
    ("delivery", "product", "produk pelayanan"),
    ("delivery", "complaint_handling", "penanganan pengaduan, saran dan masukan"),
    ("management", "legal_basis", "dasar hukum"),
    ("management", "facilities", "sarana, prasarana dan/atau fasilitas"),
    ("management", "staff_competence", "kompetensi pelaksana"),
    ("management", "internal_supervision", "pengawasan internal"),
    ("management", "staff_count", "jumlah pelaksana"),
    ("management", "service_guarantee", "jaminan pelayanan"),
    ("management", "security_guarantee", "jaminan keamanan dan keselamatan pelayanan"),
    ("management", "performance_evaluation", "evaluasi kinerja pelaksana"),
)
POINTS = len(COMPONENTS) + 2  # the components, the pledge, publication


@dataclass(frozen=True)
class Thresholds:
    """Lowest score of each zone (green above yellow)."""

    green: int
    yellow: int

    def zone(self, score: float) -> Zone:
        """The zone a score falls in."""
        if score >= self.green:
            return "green"
        return "yellow" if score >= self.yellow else "red"


@dataclass(frozen=True)
class StandardScore:
    """One standard's score, its zone and what is missing."""

    standard_id: str
    score: float
    zone: Zone
    missing: tuple[str, ...]


def _filled(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        text = value.strip().lower()
        return len(text) >= MIN_TEXT and text not in PLACEHOLDERS
    if isinstance(value, list):
        return any(_filled(item) for item in value)
    return True  # typed components (time, fee, count) are filled once they validate


def score(
    standard_id: str, standard: StandardCreate, *, published: bool, zones: Thresholds
) -> StandardScore:
    """Points for each filled component, the pledge and publication, out of 100."""
    missing = [
        label
        for part, name, label in COMPONENTS
        if not _filled(getattr(getattr(standard, part), name))
    ]
    if not _filled(standard.pledge):
        missing.append("maklumat pelayanan")
    if not published:
        missing.append("publikasi")
    value = round(100 * (POINTS - len(missing)) / POINTS, 1)
    return StandardScore(standard_id, value, zones.zone(value), tuple(missing))


@dataclass(frozen=True)
class AgencyScore:
    """An agency's standards taken together."""

    agency_id: str
    standards: int
    score: float
    zone: Zone
    by_zone: dict[Zone, int]


def agency_scores(
    scores: Iterable[tuple[str, StandardScore]], zones: Thresholds
) -> list[AgencyScore]:
    """Mean score per agency of its standards' latest versions, with how many are in each zone."""
    grouped: dict[str, list[StandardScore]] = {}
    for agency_id, item in scores:
        grouped.setdefault(agency_id, []).append(item)
    result = []
    for agency_id, items in sorted(grouped.items()):
        mean = round(sum(i.score for i in items) / len(items), 1)
        by_zone: dict[Zone, int] = {"green": 0, "yellow": 0, "red": 0}
        for item in items:
            by_zone[item.zone] += 1
        result.append(AgencyScore(agency_id, len(items), mean, zones.zone(mean), by_zone))
    return result


def zone_counts(scores: Sequence[StandardScore]) -> dict[Zone, int]:
    """How many standards are in each zone."""
    counts: dict[Zone, int] = {"green": 0, "yellow": 0, "red": 0}
    for item in scores:
        counts[item.zone] += 1
    return counts
