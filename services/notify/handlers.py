"""What notify listens to and what it publishes, declared for FastStream and AsyncAPI."""

from faststream.kafka import KafkaRouter

from kernel.runtime import Runtime
from kernel.subscriptions import EventGroup
from schemas.events import (
    ComplaintMerged,
    ComplaintReporterErased,
    ComplaintStatusChanged,
    ComplaintSubmitted,
    ComplaintSubmittedV1,
    ComplaintSupported,
    NotificationFailed,
    NotificationFailedV1,
    NotificationSent,
    NotificationSentV1,
    NotificationUndeliverable,
    SlaBreached,
    SlaDeadlineSet,
    SlaEscalated,
    SlaWarningIssued,
)
from schemas.topics import COMPLAINT_EVENTS, NOTIFY_GROUP
from services.notify.service import NotifyService

# Version 1 of the notification facts only while NOTIFY_PUBLISH_V1_FACTS is on (deprecated).
PUBLISHES = (
    NotificationSent,
    NotificationFailed,
    NotificationUndeliverable,
    NotificationSentV1,
    NotificationFailedV1,
)
# The lifecycle facts someone is told about; each keeps the complaint's file current and plans
# its messages (``services.notify.domain`` says which, to whom, on which channel).
# (Not complaint.routed: it calls for no message, and the forward that follows names the agency.)
HANDLED = (
    ComplaintSubmitted,
    ComplaintSubmittedV1,
    ComplaintStatusChanged,
    ComplaintMerged,
    ComplaintSupported,
    SlaDeadlineSet,
    SlaWarningIssued,
    SlaBreached,
    SlaEscalated,
)


def subscriptions(service: NotifyService) -> EventGroup:
    """The lifecycle facts complainants, supporters and agencies are told about."""
    group = EventGroup(
        NOTIFY_GROUP,
        topics=[COMPLAINT_EVENTS],
        description="Notify keeps a file per complaint and plans one message per event, "
        "recipient and channel (email, SMS, signed webhook, in-app inbox).",
    )
    for kind in HANDLED:
        group.on(kind, service.on_event)
    group.on(ComplaintReporterErased, service.on_reporter_erased)
    group.forget_on_revoke(service.forget_files)
    return group


def router(runtime: Runtime, service: NotifyService) -> KafkaRouter:
    """The service on Kafka as one FastStream router: its consumer group and its publishers."""
    router = KafkaRouter()
    runtime.subscribe(subscriptions(service), router)
    runtime.publish(PUBLISHES, router)
    return router
