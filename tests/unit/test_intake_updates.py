"""Intake's writes of what other services found out about complaints."""

from typing import Any

from services.intake.domain import merged_updates


def test_consecutive_findings_about_one_complaint_become_one_write_with_the_same_effect() -> None:
    a, b = "LPR-AAAAA-AAAAA", "LPR-BBBBB-BBBBB"
    updates: list[tuple[str, dict[str, Any]]] = [
        (a, {"$set": {"deadlines.verification": 1}}),
        (a, {"$set": {"deadlines.ceiling": 2}}),
        (a, {"$set": {"deadlines.verification": 3}}),  # set again (a re-route): the later wins
        (b, {"$set": {"standard": 4}}),
        (a, {"$set": {"standard": 5}}),  # not consecutive: a write of its own
        (a, {"$inc": {"supporters": 1}}),  # not a $set: never folded
        (a, {"$set": {"deadlines": {}}}),
        (a, {"$set": {"deadlines.ceiling": 6}}),  # a field inside the one just set: kept apart
    ]
    assert merged_updates(updates) == [
        (a, {"$set": {"deadlines.verification": 3, "deadlines.ceiling": 2}}),
        (b, {"$set": {"standard": 4}}),
        (a, {"$set": {"standard": 5}}),
        (a, {"$inc": {"supporters": 1}}),
        (a, {"$set": {"deadlines": {}}}),
        (a, {"$set": {"deadlines.ceiling": 6}}),
    ]
