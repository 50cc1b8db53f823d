"""The complaint categories that ship with the platform (``data/categories.json``): dotted codes,
most general first, with names and the words that suggest them."""

import json
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
