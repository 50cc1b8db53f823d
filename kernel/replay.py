"""Replay a dead-letter topic onto the topics its records came from, after the cause is fixed.

Each record goes back with its original key, value and headers (the ``x-dlq-*`` ones dropped),
to the topic named in ``x-dlq-original-topic``. The replayer reads the dead-letter topic as its
own consumer group and commits after each batch it re-published, so a second run continues
where the first stopped and never replays a record twice (unless ``from_start``). Consumers
skip events they have already processed, so a replayed event that did get through before is
harmless.
"""

from dataclasses import dataclass

from aiokafka import TopicPartition

from kernel.kafka import Publisher, connect, reader
from kernel.settings import ServiceSettings
from schemas.topics import DEAD_LETTER_PREFIX

DLQ_HEADER_PREFIX = "x-dlq-"


@dataclass(frozen=True)
class ReplayReport:
    """What a replay did."""

    replayed: int
    skipped: int  # records without an original topic (nothing to send them back to)
    by_topic: dict[str, int]


async def replay(
    settings: ServiceSettings,
    dead_letter_topic: str,
    *,
    limit: int | None = None,
    dry_run: bool = False,
    from_start: bool = False,
) -> ReplayReport:
    """Re-publish what the dead-letter topic holds (up to ``limit`` records)."""
    if not dead_letter_topic.startswith(DEAD_LETTER_PREFIX):
        raise ValueError(f"{dead_letter_topic} is not a dead-letter topic")
    group = f"lapor-replay-{dead_letter_topic}"
    consumer = reader(settings, group_id=None if dry_run else group)
    await connect(consumer, settings)
    publisher = Publisher(settings)
    if not dry_run:
        await publisher.start()
    replayed, skipped, by_topic = 0, 0, dict[str, int]()
    try:
        partitions = consumer.partitions_for_topic(dead_letter_topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(dead_letter_topic) or set()
        assigned = [TopicPartition(dead_letter_topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        if from_start or dry_run:
            await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        fetched_last_time = True
        while limit is None or replayed + skipped < limit:
            positions = {tp: await consumer.position(tp) for tp in assigned}
            # Past the end offsets and a fetch came back empty: done. The end offsets alone may
            # stop short of the last letter (rebuild.read_topics says why).
            if not fetched_last_time and all(positions[tp] >= ends[tp] for tp in assigned):
                break
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            fetched_last_time = bool(batches)
            sends = []
            done: dict[TopicPartition, int] = {}
            for tp, records in batches.items():
                for record in records:
                    if limit is not None and replayed + skipped >= limit:
                        break
                    done[tp] = record.offset + 1  # committed: the next run starts after it
                    headers = dict(record.headers)
                    original = headers.get(f"{DLQ_HEADER_PREFIX}original-topic", b"").decode()
                    if not original:
                        skipped += 1
                        continue
                    kept = [
                        (k, v) for k, v in record.headers if not k.startswith(DLQ_HEADER_PREFIX)
                    ]
                    if not dry_run:
                        sends.append(
                            await publisher.send(
                                original, key=record.key, value=record.value, headers=kept
                            )
                        )
                    replayed += 1
                    by_topic[original] = by_topic.get(original, 0) + 1
            for sent in sends:
                await sent
            if done and not dry_run:
                await consumer.commit(done)
            for tp, offset in done.items():
                consumer.seek(tp, offset)  # what was fetched beyond the limit is read again
    finally:
        await consumer.stop()
        if not dry_run:
            await publisher.stop()
    return ReplayReport(replayed=replayed, skipped=skipped, by_topic=by_topic)
