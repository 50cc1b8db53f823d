"""Every Kafka topic of the platform, named once.

Per-complaint ordering: every event about one complaint goes to ``COMPLAINT_EVENTS`` keyed by the
complaint ID, so all of them land on one partition in the order they were produced.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicSpec:
    """A topic and how it must be created (partitions, retention, compaction)."""

    name: str
    partitions: int
    description: str
    compacted: bool = False
    retention_ms: int = 30 * 24 * 3600 * 1000

    def config(self, *, replication_factor: int = 1) -> dict[str, str]:
        """Topic-level configuration for the admin API and for Strimzi ``KafkaTopic`` resources.

        A write is acknowledged (``acks=all``) once all replicas but one have it: with three,
        one broker may be down and nothing acknowledged is lost when another fails."""
        insync = {"min.insync.replicas": str(max(1, replication_factor - 1))}
        if self.compacted:
            return {"cleanup.policy": "compact", **insync}
        return {"cleanup.policy": "delete", "retention.ms": str(self.retention_ms), **insync}


COMPLAINT_EVENTS = TopicSpec(
    name="lapor.complaint-events.v1",
    partitions=12,
    description=(
        "Every fact about a complaint's course (submitted, routed, deadline set, status "
        "changed, ...), "
        "keyed by complaint ID. Internal: carries reporter contact details."
    ),
)

NOTIFICATION_EVENTS = TopicSpec(
    name="lapor.notification-events.v1",
    partitions=12,
    description=(
        "What notify did about each complaint (a notification sent, one that failed for good), "
        "keyed by complaint ID. Facts only notify produces, on a topic of their own so that the "
        "services that follow complaints do not fetch them; no addresses, no texts."
    ),
)

STANDARD_EVENTS = TopicSpec(
    name="lapor.standard-events.v1",
    partitions=6,
    compacted=True,
    description="Latest state of each published service standard, keyed by standard ID.",
)

PUBLIC_COMPLAINTS = TopicSpec(
    name="lapor.public.complaints.v1",
    partitions=12,
    compacted=True,
    description=(
        "Public stream for outside subscribers: the latest public state of each verified, "
        "non-rahasia complaint, keyed by complaint ID. Never carries reporter data."
    ),
)

AGENCY_DIRECTORY = TopicSpec(
    name="lapor.agencies.v1",
    partitions=3,
    compacted=True,
    description=(
        "Latest state of each agency in routing's directory (name, seat, time zone, units), "
        "keyed by agency ID: how the other services name an agency without asking the caller."
    ),
)

DEAD_LETTER_PREFIX = "lapor.dlq."


def dead_letter_topic(consumer_group: str) -> TopicSpec:
    """The dead-letter topic of one consumer group: what it could not accept, with the reason."""
    return TopicSpec(
        name=f"{DEAD_LETTER_PREFIX}{consumer_group}",
        partitions=1,
        retention_ms=90 * 24 * 3600 * 1000,
        description=f"Messages the consumer group {consumer_group!r} rejected, with the reason.",
    )


PRODUCT_TOPICS: tuple[TopicSpec, ...] = (
    COMPLAINT_EVENTS,
    NOTIFICATION_EVENTS,
    STANDARD_EVENTS,
    PUBLIC_COMPLAINTS,
    AGENCY_DIRECTORY,
)

# Consumer groups, one per consuming service; each has its dead-letter topic.
INTAKE_GROUP = "intake"
ROUTING_GROUP = "routing"
SLA_GROUP = "sla"
NOTIFY_GROUP = "notify"
STANDARDS_GROUP = "standards"
CONSUMER_GROUPS: tuple[str, ...] = (
    INTAKE_GROUP,
    ROUTING_GROUP,
    SLA_GROUP,
    NOTIFY_GROUP,
    STANDARDS_GROUP,
)


# Messages notify could not deliver after its last attempt (not a consumer group's rejects).
UNDELIVERABLE_NOTIFICATIONS = TopicSpec(
    name=f"{DEAD_LETTER_PREFIX}notify-delivery",
    partitions=1,
    retention_ms=90 * 24 * 3600 * 1000,
    description="Notifications that failed their last delivery attempt: reference, channel, "
    "attempts, last error (no address or text); re-queued by an admin after a fix.",
)


def all_topics() -> tuple[TopicSpec, ...]:
    """Every topic a deployment needs: the product topics, each group's dead-letter topic and
    the undeliverable notifications."""
    return (
        PRODUCT_TOPICS
        + tuple(dead_letter_topic(group) for group in CONSUMER_GROUPS)
        + (UNDELIVERABLE_NOTIFICATIONS,)
    )
