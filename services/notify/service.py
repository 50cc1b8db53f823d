"""Notify use case: record the messages each event calls for and announce them."""

from collections.abc import Sequence
from datetime import UTC, datetime

from kernel.metrics import NOTIFICATIONS_RECORDED
from kernel.mongo import Session
from kernel.unit_of_work import UnitOfWork
from schemas.envelope import Event, new_event
from schemas.events import ComplaintRouted, ComplaintSubmitted, NotificationSent
from services.notify.domain import PlannedMessage, contact_from, plan
from services.notify.rendering import TemplateRenderer
from services.notify.store import NotifyStore

SOURCE = "/lapor/notify"


class NotifyService:
    """One message per (event, recipient, channel), stored with its "notification sent" event."""

    def __init__(self, *, store: NotifyStore, uow: UnitOfWork, renderer: TemplateRenderer) -> None:
        self._store = store
        self._uow = uow
        self._renderer = renderer

    async def on_event(self, event: Event) -> None:
        """Update what notify knows of the complaint, then record the messages the event needs."""
        recorded: list[PlannedMessage] = []

        async def effect(session: Session) -> tuple[None, Sequence[Event]]:
            payload = event.data
            if isinstance(payload, ComplaintSubmitted):
                await self._store.save_contact(contact_from(payload), session=session)
            elif isinstance(payload, ComplaintRouted):
                await self._store.set_agency(
                    payload.complaint_id, payload.agency_id, payload.agency_name, session=session
                )
            contact = await self._store.contact(event.subject, session=session)
            now = datetime.now(UTC)
            events: list[Event] = []
            recorded.clear()
            for message in plan(payload, contact):
                message_id = message.key(event.id)
                await self._store.record(
                    message_id=message_id,
                    complaint_id=event.subject,
                    message=message,
                    rendered=self._renderer.render(message.template, message.context),
                    caused_by=event.id,
                    recorded_at=now,
                    session=session,
                )
                events.append(
                    new_event(
                        NotificationSent(
                            complaint_id=event.subject,
                            notification_id=message_id,
                            recipient_role=message.recipient_role,
                            recipient=message.recipient,
                            channel=message.channel,
                            template=message.template,
                            caused_by=event.id,
                            sent_at=now,
                        ),
                        source=SOURCE,
                        correlation_id=event.correlation_id,
                        now=now,
                    )
                )
                recorded.append(message)
            return None, events

        if await self._uow.run_once(event, effect):
            for message in recorded:
                NOTIFICATIONS_RECORDED.labels(message.recipient_role.value, message.channel).inc()
