"""Rebuild a service's read model from the event stream: every record its consumers read, from
the start of what the topics retain, through the same handlers as live, into another database.

The rebuilt database's outbox is never relayed (nothing is published twice) and no background
worker runs (no notification is sent, no timer fires); then the read-model collections are
compared, document by document, with the live ones. Records are applied in the order the broker
appended them across partitions and topics (their timestamps), the nearest to the live order
that the stream records.
"""

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from pymongo.asynchronous.database import AsyncDatabase

from kernel.kafka import connect, reader
from kernel.mongo import Document
from kernel.settings import ServiceSettings
from kernel.subscriptions import EventGroup, Record, RejectedEvent


@dataclass
class Comparison:
    """One collection, live against rebuilt (ignoring the fields named volatile)."""

    live: int
    rebuilt: int
    missing: list[Any] = field(default_factory=list)  # live IDs the rebuild lacks
    extra: list[Any] = field(default_factory=list)  # rebuilt IDs live lacks
    different: dict[Any, list[str]] = field(default_factory=dict)  # ID -> fields that differ

    @property
    def equal(self) -> bool:
        """Same documents, field for field."""
        return not (self.missing or self.extra or self.different)


@dataclass
class RebuildReport:
    """What the rebuild read, applied and found."""

    records: int = 0
    applied: int = 0
    ignored: int = 0  # event types no handler of the service takes
    rejected: int = 0  # undecodable or refused by the handler (live dead-lettered them too)
    collections: dict[str, Comparison] = field(default_factory=dict)

    @property
    def equal(self) -> bool:
        """Every compared collection is equal."""
        return all(c.equal for c in self.collections.values())


async def read_topics(settings: ServiceSettings, topics: Iterable[str]) -> list[Record]:
    """Every record the topics retain, from the start, in append order (by timestamp)."""
    consumer = reader(settings)
    await connect(consumer, settings)
    per_partition: list[list[Record]] = []
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        read: dict[TopicPartition, list[Record]] = {tp: [] for tp in partitions}
        # The end offsets say how far to read at least, not where to stop: a broker may report
        # the end of a partition whose last write was a batch of several records short of it
        # (Tansu gives the batch's first offset + 1), and the record left out is the newest,
        # such as the publication in force of a standard. Read on until a fetch comes back
        # empty; records appended meanwhile are simply part of what is replayed.
        while True:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for tp, records in batches.items():
                read[tp].extend(records)
            if not batches and all([await consumer.position(tp) >= ends[tp] for tp in partitions]):
                break
        per_partition = list(read.values())
    finally:
        await consumer.stop()
    # Each partition is in order already; merge them by the broker's timestamps.
    return list(heapq.merge(*per_partition, key=lambda r: (r.timestamp, r.topic, r.offset)))


async def replay_into(groups: Sequence[EventGroup], records: Sequence[Record]) -> RebuildReport:
    """Apply the records through the groups' handlers (bound to the rebuild's database)."""
    report = RebuildReport(records=len(records))
    for group in groups:
        topics = {topic.name for topic in group.topics}
        for record in records:
            if record.topic not in topics:
                continue
            incoming = group.read(record)
            if incoming.problem is not None:
                report.rejected += 1
                continue
            if incoming.event is None:
                report.ignored += 1
                continue
            try:
                await group.handlers[incoming.event.type](incoming.event)
            except RejectedEvent:
                report.rejected += 1
            else:
                report.applied += 1
    return report


def _without(document: Document, volatile: Iterable[str]) -> Document:
    kept = dict(document)
    for name in volatile:
        kept.pop(name, None)
    return kept


async def compare(
    live: AsyncDatabase[Document],
    rebuilt: AsyncDatabase[Document],
    read_models: Mapping[str, Sequence[str]],
    *,
    opened: Callable[[Document], Document] = lambda doc: doc,
    forgotten: Callable[[str, Document], bool] = lambda name, doc: False,
) -> dict[str, Comparison]:
    """Each read-model collection (name -> volatile fields) of the two databases, by _id, each
    document as ``opened`` gives it (sealed values differ each time they are sealed: what they
    hold is what must be equal), leaving out the live documents ``forgotten`` names (what the
    events can no longer tell, by design: an erased reporter's data)."""
    found: dict[str, Comparison] = {}
    for name, volatile in read_models.items():
        before = {
            d["_id"]: _without(opened(d), volatile)
            async for d in live[name].find({})
            if not forgotten(name, d)
        }
        after = {d["_id"]: _without(opened(d), volatile) async for d in rebuilt[name].find({})}
        found[name] = Comparison(
            live=len(before),
            rebuilt=len(after),
            missing=sorted(set(before) - set(after), key=str),
            extra=sorted(set(after) - set(before), key=str),
            different={
                k: sorted(
                    f for f in set(before[k]) | set(after[k]) if before[k].get(f) != after[k].get(f)
                )
                for k in sorted(set(before) & set(after), key=str)
                if before[k] != after[k]
            },
        )
    return found
