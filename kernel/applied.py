"""The events a record took in, remembered on the record itself.

A consumer that changes one record per event needs no processed mark of its own: the record
keeps the IDs of the last events applied to it, the write that applies an event adds its ID, and
a redelivered event finds its ID there (or, for a guarded write, matches nothing). One write per
event instead of three (mark, effect, and the transaction's commit when nothing else needed one).

A redelivery replays from the last committed offset, so only an event among a record's most
recent ones can come again; ``APPLIED_KEPT`` is far more than a record receives between two
commits.
"""

from typing import Any

APPLIED = "applied"
APPLIED_KEPT = 64


def took_in(record: dict[str, Any], event_id: str) -> bool:
    """Whether the event was already applied to the record."""
    return event_id in record.get(APPLIED, ())


def not_yet_taken_in(event_id: str) -> dict[str, Any]:
    """The filter that matches a record only if the event was not applied to it yet."""
    return {APPLIED: {"$ne": event_id}}


def taking_in(update: dict[str, Any], event_id: str) -> dict[str, Any]:
    """``update`` that also remembers the event on the record."""
    return {
        **update,
        "$push": {
            **update.get("$push", {}),
            APPLIED: {"$each": [event_id], "$slice": -APPLIED_KEPT},
        },
    }


def remembered(applied: list[str] | tuple[str, ...], event_id: str) -> list[str]:
    """The record's ``applied`` list once the event is added (for a record written whole)."""
    return [*applied, event_id][-APPLIED_KEPT:]
