"""Likely duplicates of a new report: same kind of problem, same place, similar words, recent.

No I/O. The store fetches recent open reports of the same top-level category and regency;
``likely_duplicates`` scores them. With coordinates on both sides, nearness is measured in
metres; without, sharing the deepest region code counts as near.
"""

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

WINDOW = timedelta(days=30)
MAX_DISTANCE_M = 500.0
THRESHOLD = 0.35
TEXT_WEIGHT, PLACE_WEIGHT = 0.6, 0.4
# Words too common in Indonesian reports to tell two reports apart.
_STOPWORD_TEXT = (
    "yang dan di ke dari ini itu ada tidak sudah belum untuk dengan pada karena sejak "
    "sangat mohon tolong kami saya kita akan juga atau oleh para agar bisa dapat telah "
    "masih lagi jalan depan"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Report:
    """What duplicate detection compares."""

    tracking_id: str
    category: str
    region_code: str
    text: str
    submitted_at: datetime
    point: tuple[float, float] | None = None  # (lat, long)


@lru_cache(maxsize=8192)
def words(text: str) -> frozenset[str]:
    """Distinctive words of a text (cached: a new report is compared with up to 200 recent
    ones, which the next reports are compared with again)."""
    return frozenset(w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in STOPWORDS)


def text_similarity(a: str, b: str) -> float:
    """Jaccard similarity of distinctive words."""
    left, right = words(a), words(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine) between two (lat, long) points, metres."""
    (lat1, long1), (lat2, long2) = a, b
    radius = 6_371_000.0
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(long2 - long1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(h))


def _top(category: str) -> str:
    return category.split(".", 1)[0]


def category_group(category: str) -> str:
    """The top level of a category (``kesehatan`` of ``kesehatan.puskesmas``)."""
    return category.split(".", 1)[0]


def regency_of(region_code: str) -> str:
    """The regency/city part of a region code (the province when that is all it names)."""
    return region_code[:5]


def _nearness(new: Report, old: Report) -> float | None:
    if new.point is not None and old.point is not None:
        metres = distance_m(new.point, old.point)
        return None if metres > MAX_DISTANCE_M else 1.0 - metres / MAX_DISTANCE_M
    if new.region_code == old.region_code:
        return 1.0
    if regency_of(new.region_code) == regency_of(old.region_code):
        return 0.5
    return None


def score(new: Report, old: Report) -> float | None:
    """How likely ``old`` reports the same problem, 0-1; None when it cannot."""
    if old.tracking_id == new.tracking_id or _top(old.category) != _top(new.category):
        return None
    if not timedelta(0) <= new.submitted_at - old.submitted_at <= WINDOW:
        return None
    nearness = _nearness(new, old)
    if nearness is None:
        return None
    same_category = 1.0 if old.category == new.category else 0.8
    return same_category * (
        TEXT_WEIGHT * text_similarity(new.text, old.text) + PLACE_WEIGHT * nearness
    )


def likely_duplicates(
    new: Report, candidates: list[Report], limit: int = 5
) -> list[tuple[str, float]]:
    """The best-scoring candidates above the threshold, best first."""
    scored = [(old.tracking_id, s) for old in candidates if (s := score(new, old)) is not None]
    best = sorted((pair for pair in scored if pair[1] >= THRESHOLD), key=lambda p: -p[1])
    return [(tracking_id, round(value, 3)) for tracking_id, value in best[:limit]]
