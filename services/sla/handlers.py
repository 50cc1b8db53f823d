"""What the SLA service listens to and what it publishes, declared for FastStream and AsyncAPI."""

from faststream.kafka import KafkaRouter

from kernel.runtime import Runtime
from kernel.subscriptions import EventGroup
from schemas.events import (
    AgencyPublished,
    ComplaintStatusChanged,
    ComplaintSubmitted,
    ComplaintSubmittedV1,
    SlaBreached,
    SlaDeadlineSet,
    SlaEscalated,
    SlaWarningIssued,
    SlaWindowExpired,
    StandardChecked,
    StandardPublished,
)
from schemas.topics import AGENCY_DIRECTORY, COMPLAINT_EVENTS, SLA_GROUP, STANDARD_EVENTS
from services.sla.service import SlaService

PUBLISHES = (
    SlaDeadlineSet,
    SlaWarningIssued,
    SlaBreached,
    SlaEscalated,
    SlaWindowExpired,
    StandardChecked,
)


def subscriptions(service: SlaService) -> EventGroup:
    """The lifecycle that starts, pauses, meets and stops each clock, the promises of each
    published standard, and each agency's time zone."""
    group = EventGroup(
        SLA_GROUP,
        topics=[COMPLAINT_EVENTS, STANDARD_EVENTS, AGENCY_DIRECTORY],
        description="SLA runs each complaint's clocks (verification, first follow-up, "
        "completion, reply window) in working days of the agency's zone, and checks the "
        "experience against the published standard.",
    )
    group.on(ComplaintSubmitted, service.on_submitted)
    group.on(ComplaintSubmittedV1, service.on_submitted)
    group.on(AgencyPublished, service.on_agency_published)
    group.on(ComplaintStatusChanged, service.on_status_changed)
    group.on(StandardPublished, service.on_standard_published)
    return group


def router(runtime: Runtime, service: SlaService) -> KafkaRouter:
    """The service on Kafka as one FastStream router: its consumer group and its publishers."""
    router = KafkaRouter()
    runtime.subscribe(subscriptions(service), router)
    runtime.publish(PUBLISHES, router)
    return router
