"""What the standards registry listens to and what it publishes, declared for FastStream and
AsyncAPI."""

from faststream.kafka import KafkaRouter

from kernel.runtime import Runtime
from kernel.subscriptions import EventGroup
from schemas.events import (
    ComplaintSubmitted,
    ComplaintSubmittedV1,
    StandardChecked,
    StandardPublished,
    StandardSuperseded,
)
from schemas.topics import COMPLAINT_EVENTS, STANDARDS_GROUP
from services.standards.service import StandardsService

PUBLISHES = (StandardPublished, StandardSuperseded)


def subscriptions(service: StandardsService) -> EventGroup:
    """Complaints about a standard, and the SLA's findings that one broke its promise."""
    group = EventGroup(
        STANDARDS_GROUP,
        topics=[COMPLAINT_EVENTS],
        description="The registry counts complaints against each standard and the breaches "
        "of its promises, for the standard's compliance score.",
    )
    group.on(ComplaintSubmitted, service.on_submitted)
    group.on(ComplaintSubmittedV1, service.on_submitted)
    group.on(StandardChecked, service.on_standard_checked)
    return group


def router(runtime: Runtime, service: StandardsService) -> KafkaRouter:
    """The service on Kafka as one FastStream router: its consumer group and its publishers."""
    router = KafkaRouter()
    runtime.subscribe(subscriptions(service), router)
    runtime.publish(PUBLISHES, router)
    return router
