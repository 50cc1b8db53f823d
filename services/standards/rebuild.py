"""Rebuild the registry's complaint feedback (complaints and violations per standard) from the
complaint event stream, to check the live counts or to replace them after a loss.

The stream is the source: every ``complaint.submitted`` that names a standard and every
``sla.standard_checked`` with violations, each counted once by its event ID (a redelivered
event counts once, as it does live). Only what the topic still retains can be counted: keep
the retention longer than the period you may need to rebuild.
"""

from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pymongo.asynchronous.database import AsyncDatabase

from kernel.kafka import connect, connection_options
from kernel.mongo import Document
from kernel.settings import ServiceSettings
from schemas.envelope import Event, InvalidEvent, decode, header_map
from schemas.events import COMPLAINT_EVENT_TYPES, ComplaintSubmitted, StandardChecked
from schemas.topics import COMPLAINT_EVENTS
from services.standards.store import FEEDBACK

Tally = dict[str, dict[str, Any]]


def tally(events: Iterable[Event]) -> Tally:
    """Feedback per standard, in the shape the store keeps it. No I/O."""
    seen: set[str] = set()
    counts: Tally = {}
    for event in events:
        if event.id in seen:
            continue
        seen.add(event.id)
        payload = event.data
        if isinstance(payload, ComplaintSubmitted) and payload.service_standard_id:
            entry = counts.setdefault(payload.service_standard_id, {})
            entry["complaints"] = entry.get("complaints", 0) + 1
        elif isinstance(payload, StandardChecked) and payload.violations:
            entry = counts.setdefault(payload.standard_id, {})
            entry["complaints_with_violations"] = entry.get("complaints_with_violations", 0) + 1
            violations = entry.setdefault("violations", {})
            for kind in payload.violations:
                violations[kind] = violations.get(kind, 0) + 1
    return counts


async def read_stream(settings: ServiceSettings) -> list[Event]:
    """Every complaint event the topic retains, decoded (undecodable records are skipped: the
    live consumer dead-lettered them too)."""
    consumer = AIOKafkaConsumer(
        **connection_options(settings),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await connect(consumer, settings)
    events: list[Event] = []
    try:
        partitions = [
            TopicPartition(COMPLAINT_EVENTS.name, p)
            for p in sorted(consumer.partitions_for_topic(COMPLAINT_EVENTS.name) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for records in batches.values():
                for record in records:
                    try:
                        headers = header_map(record.headers)
                        events.append(decode(headers, record.value or b"", COMPLAINT_EVENT_TYPES))
                    except InvalidEvent:
                        continue
    finally:
        await consumer.stop()
    return events


async def live(db: AsyncDatabase[Document]) -> Tally:
    """The feedback the service keeps now."""
    return {doc.pop("_id"): doc async for doc in db[FEEDBACK].find({})}


async def replace(db: AsyncDatabase[Document], rebuilt: Tally) -> None:
    """Make the rebuilt counts the live ones (run with the standards consumer stopped)."""
    await db[FEEDBACK].delete_many({})
    if rebuilt:
        await db[FEEDBACK].insert_many([{"_id": sid, **entry} for sid, entry in rebuilt.items()])
