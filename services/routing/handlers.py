"""What routing listens to and what it publishes, declared for FastStream and AsyncAPI."""

from faststream.kafka import KafkaRouter

from kernel.runtime import Runtime
from kernel.subscriptions import EventGroup
from schemas.events import (
    AgencyPublished,
    AgencyWithdrawn,
    ComplaintRouted,
    ComplaintStatusChanged,
    ComplaintSubmitted,
    ComplaintSubmittedV1,
    StandardPublished,
)
from schemas.topics import COMPLAINT_EVENTS, ROUTING_GROUP, STANDARD_EVENTS
from services.routing.service import RoutingService

PUBLISHES = (ComplaintRouted, AgencyPublished, AgencyWithdrawn)


def subscriptions(service: RoutingService) -> EventGroup:
    """New complaints to route, bounced ones to route again, and who publishes each standard."""
    group = EventGroup(
        ROUTING_GROUP,
        topics=[COMPLAINT_EVENTS, STANDARD_EVENTS],
        description="Routing decides the agency of each submitted complaint, decides again "
        "when an agency says bukan wewenang, and follows who publishes each service standard.",
    )
    group.on(ComplaintSubmitted, service.on_submitted)
    group.on(ComplaintSubmittedV1, service.on_submitted)
    group.on(ComplaintStatusChanged, service.on_status_changed)
    group.on(StandardPublished, service.on_standard_published)
    return group


def router(runtime: Runtime, service: RoutingService) -> KafkaRouter:
    """The service on Kafka as one FastStream router: its consumer group and its publishers."""
    router = KafkaRouter()
    runtime.subscribe(subscriptions(service), router)
    runtime.publish(PUBLISHES, router)
    return router
