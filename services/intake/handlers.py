"""What intake listens to and what it publishes, declared for FastStream and AsyncAPI."""

from faststream.kafka import KafkaRouter

from kernel.runtime import Runtime
from kernel.subscriptions import EventGroup
from schemas.events import (
    AgencyPublished,
    AgencyWithdrawn,
    ComplaintMerged,
    ComplaintReporterErased,
    ComplaintRouted,
    ComplaintStatusChanged,
    ComplaintSubmitted,
    ComplaintSubmittedV1,
    ComplaintSupported,
    PublicComplaintSnapshot,
    SlaBreached,
    SlaDeadlineSet,
    SlaEscalated,
    SlaWindowExpired,
    StandardChecked,
    StandardPublished,
)
from schemas.topics import AGENCY_DIRECTORY, COMPLAINT_EVENTS, INTAKE_GROUP, STANDARD_EVENTS
from services.intake.catalog import ServiceCatalog
from services.intake.directory import AgencyDirectory
from services.intake.service import IntakeService

PUBLISHES = (
    ComplaintSubmitted,
    ComplaintReporterErased,
    ComplaintStatusChanged,
    ComplaintMerged,
    ComplaintSupported,
    PublicComplaintSnapshot,
)


def subscriptions(
    service: IntakeService, *, catalog: ServiceCatalog, directory: AgencyDirectory
) -> EventGroup:
    """What the other services worked out about each complaint (its agency, deadlines, breaches,
    the standard it concerns), the standards in force and the agency directory."""
    group = EventGroup(
        INTAKE_GROUP,
        topics=[COMPLAINT_EVENTS, STANDARD_EVENTS, AGENCY_DIRECTORY],
        description="Intake keeps each complaint's record: routing's decision forwards it, "
        "SLA's deadlines and breaches are shown on it (a breach reaching the national admin "
        "escalates it), and the standards and agencies in force name what it concerns.",
    )
    group.on(ComplaintSubmitted, service.on_submitted)
    group.on(ComplaintSubmittedV1, service.on_submitted)
    group.on(ComplaintRouted, service.on_routed)
    group.on(SlaDeadlineSet, service.on_deadline_set)
    group.on(SlaBreached, service.on_breach)
    group.on(SlaEscalated, service.on_breach)
    group.on(SlaWindowExpired, service.on_window_expired)
    group.on(StandardChecked, service.on_standard_checked)
    group.on(StandardPublished, catalog.on_standard_published)
    group.on(AgencyPublished, directory.on_agency_published)
    group.on(AgencyWithdrawn, directory.on_agency_withdrawn)
    # A deadline and a standard check are both a note on the complaint: consecutive ones are
    # written together.
    group.together([SlaDeadlineSet, StandardChecked], service.on_annotations)
    return group


def router(
    runtime: Runtime,
    service: IntakeService,
    *,
    catalog: ServiceCatalog,
    directory: AgencyDirectory,
) -> KafkaRouter:
    """Intake on Kafka as one FastStream router: its consumer group and its publishers."""
    router = KafkaRouter()
    runtime.subscribe(subscriptions(service, catalog=catalog, directory=directory), router)
    runtime.publish(PUBLISHES, router)
    return router
