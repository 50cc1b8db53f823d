"""The complaint categories that ship with the platform (``data/categories.json``): dotted codes,
most general first, with names and the words that suggest them."""

import json
import re
from functools import cache
from importlib import resources
from typing import Any


@cache
def shipped_categories() -> list[dict[str, Any]]:
    """Every shipped category, in the file's order."""
    text = resources.files("services.intake.data").joinpath("categories.json").read_text("utf-8")
    rows: list[dict[str, Any]] = json.loads(text)
    return rows


@cache
def category_names() -> dict[str, str]:
    """Code to name."""
    return {row["code"]: row["name"] for row in shipped_categories()}


def is_known_category(code: str) -> bool:
    """A shipped category, or the group of shipped ones (``pelayanan`` for ``pelayanan.pungli``)."""
    return code in category_names() or any(
        known.startswith(code + ".") for known in category_names()
    )


@cache
def _keyword_patterns() -> list[tuple[str, re.Pattern[str]]]:
    return [
        (row["code"], re.compile(r"\b(" + "|".join(map(re.escape, row["keywords"])) + r")\b"))
        for row in shipped_categories()
        if row.get("keywords")
    ]


def suggest_category(text: str) -> str | None:
    """The category a free text is most likely about, by its words: the one whose keywords
    occur most often, a tie going to the one named first (in "sampah menumpuk di jalan", the
    rubbish, not the road); None when no keyword occurs."""
    lowered = text.lower()
    best: tuple[int, int, str] | None = None  # (-occurrences, first position, code)
    for code, pattern in _keyword_patterns():
        found = list(pattern.finditer(lowered))
        if found:
            candidate = (-len(found), found[0].start(), code)
            best = candidate if best is None else min(best, candidate)
    return best[2] if best else None
