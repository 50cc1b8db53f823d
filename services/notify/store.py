"""MongoDB adapter of notify: contacts per complaint and the message log."""

from dataclasses import asdict
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from kernel.mongo import Document, Session
from schemas.complaint import ReporterContact
from services.notify.domain import ComplaintContact, PlannedMessage
from services.notify.rendering import Rendered

CONTACTS = "contacts"
MESSAGES = "messages"


class NotifyStore:
    """Contacts (personal data: this collection only) and one log entry per message."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._contacts = db[CONTACTS]
        self._messages = db[MESSAGES]

    async def create_indexes(self) -> None:
        """Look messages up by complaint."""
        await self._messages.create_index([("complaint_id", 1), ("recorded_at", 1)])

    async def save_contact(self, contact: ComplaintContact, *, session: Session) -> None:
        """Remember how to reach the reporter of a complaint."""
        doc = asdict(contact)
        doc["reporter"] = contact.reporter.model_dump(mode="json")
        doc["_id"] = doc.pop("complaint_id")
        await self._contacts.replace_one({"_id": doc["_id"]}, doc, upsert=True, session=session)

    async def set_agency(
        self, complaint_id: str, agency_id: str, agency_name: str, *, session: Session
    ) -> None:
        """Record which agency now handles the complaint."""
        await self._contacts.update_one(
            {"_id": complaint_id},
            {"$set": {"agency_id": agency_id, "agency_name": agency_name}},
            session=session,
        )

    async def contact(self, complaint_id: str, *, session: Session) -> ComplaintContact | None:
        """The stored contact of a complaint."""
        doc = await self._contacts.find_one({"_id": complaint_id}, session=session)
        if doc is None:
            return None
        doc["complaint_id"] = doc.pop("_id")
        doc["reporter"] = ReporterContact.model_validate(doc["reporter"])
        return ComplaintContact(**doc)

    async def record(
        self,
        *,
        message_id: str,
        complaint_id: str,
        message: PlannedMessage,
        rendered: Rendered,
        caused_by: str,
        recorded_at: datetime,
        session: Session,
    ) -> None:
        """Log a message as recorded for delivery (channels deliver it in a later stage)."""
        doc: dict[str, Any] = {
            "_id": message_id,
            "complaint_id": complaint_id,
            "recipient_role": message.recipient_role.value,
            "recipient": message.recipient,
            "channel": message.channel,
            "address": message.address,
            "template": message.template,
            "subject": rendered.subject,
            "body": rendered.body,
            "caused_by": caused_by,
            "status": "recorded",
            "recorded_at": recorded_at,
        }
        await self._messages.insert_one(doc, session=session)

    async def messages_of(self, complaint_id: str) -> list[dict[str, Any]]:
        """The message log of one complaint, oldest first."""
        cursor = self._messages.find({"complaint_id": complaint_id}).sort("recorded_at", 1)
        return await cursor.to_list(None)
