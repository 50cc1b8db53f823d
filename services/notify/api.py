"""HTTP API of notify: the liaison-officer directory, agency webhooks, preferences, the in-app
inbox, the delivery log of a complaint and re-queueing a dead-lettered message."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from kernel import http
from schemas.complaint import TRACKING_ID_PATTERN, Actor, Role
from services.notify.domain import Officer, OfficerBody, Preferences
from services.notify.store import NotifyStore

OfficerId = Annotated[str, Path(pattern=r"^[a-z0-9._-]{2,80}$")]
AgencyId = Annotated[str, Path(pattern=r"^[a-z0-9-]{2,80}$")]
MessageId = Annotated[str, Path(min_length=3, max_length=300)]


class WebhookBody(BaseModel):
    """Where an integrated agency app receives its notifications."""

    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl
    secret: str = Field(
        min_length=32, max_length=200, description="Shared HMAC secret; never shown again."
    )


class InboxEntry(BaseModel):
    """One message in an in-app inbox."""

    id: str
    complaint_id: str
    template: str
    subject: str
    body: str
    recorded_at: datetime
    read_at: datetime | None


class SentToMe(BaseModel):
    """A message notify sent (or holds to send) to the caller about their own report."""

    id: str
    complaint_id: str
    channel: str
    address: str | None = Field(description="Where it went; none once erased.")
    template: str
    subject: str
    body: str
    status: str
    recorded_at: datetime
    sent_at: datetime | None


class MyNotifyData(BaseModel):
    """Everything notify holds about the caller (UU 27/2022 Pasal 7)."""

    subject: str
    exported_at: datetime
    preferences: Preferences | None = Field(description="The choices they made, if any.")
    messages: list[SentToMe] = Field(
        description="What was sent to them: to their e-mail, phone and in-app inbox, about "
        "the reports they filed, and to their inbox about those they support."
    )
    messages_truncated: bool


# Enough for any one reporter; the export says when it stops short.
EXPORT_LIMIT = 2000


def notify_router(*, store: NotifyStore, caller: Callable[..., Any]) -> APIRouter:
    """The /v1 routes of notify."""
    api = APIRouter(prefix="/v1", tags=["notify"])
    Caller = Annotated[Actor | None, Depends(caller)]

    def agency_admin_of(actor: Actor | None, agency_id: str) -> Actor:
        return http.require_agency(actor, agency_id, Role.NATIONAL_ADMIN, Role.AGENCY_ADMIN)

    @api.put("/officers/{officer_id}", response_model=Officer, summary="Add or replace an officer")
    async def put_officer(officer_id: OfficerId, body: OfficerBody, actor: Caller) -> Officer:
        agency_admin_of(actor, body.agency_id)
        existing = await store.officer(officer_id)
        if existing is not None:
            agency_admin_of(actor, existing.agency_id)  # no taking over another agency's officer
        officer = Officer.model_validate({"officer_id": officer_id, **body.model_dump()})
        await store.put_officer(officer)
        return officer

    @api.get("/officers", response_model=list[Officer], summary="An agency's officers")
    async def officers(
        agency_id: Annotated[str, Query(pattern=r"^[a-z0-9-]{2,80}$")], actor: Caller
    ) -> list[Officer]:
        agency_admin_of(actor, agency_id)
        return await store.officers_of(agency_id)

    @api.delete("/officers/{officer_id}", status_code=204, summary="Remove an officer")
    async def delete_officer(officer_id: OfficerId, actor: Caller) -> None:
        existing = await store.officer(officer_id)
        if existing is None:
            raise http.ProblemError(404, "officer_not_found", f"no officer {officer_id}")
        agency_admin_of(actor, existing.agency_id)
        await store.remove_officer(officer_id)

    @api.put("/webhooks/{agency_id}", status_code=204, summary="Register an agency app's webhook")
    async def put_webhook(agency_id: AgencyId, body: WebhookBody, actor: Caller) -> None:
        agency_admin_of(actor, agency_id)
        await store.put_webhook(agency_id, str(body.url), body.secret)

    @api.get("/webhooks/{agency_id}", summary="An agency's webhook URL (never its secret)")
    async def get_webhook(agency_id: AgencyId, actor: Caller) -> dict[str, str]:
        agency_admin_of(actor, agency_id)
        endpoint = await store.endpoint(agency_id)
        if endpoint is None:
            raise http.ProblemError(404, "webhook_not_found", f"{agency_id} registered none")
        return {"agency_id": agency_id, "url": endpoint[0]}

    @api.get("/preferences/me", response_model=Preferences, summary="My notification choices")
    async def my_preferences(actor: Caller) -> Preferences:
        me = http.signed_in(actor)
        if me.role in http.AGENCY_ROLES:
            return (await _own_officer(store, me)).preferences
        http.require_role(me, Role.CITIZEN)
        return (await store.preferences([me.subject])).get(me.subject, Preferences())

    @api.put("/preferences/me", response_model=Preferences, summary="Change my choices")
    async def put_my_preferences(body: Preferences, actor: Caller) -> Preferences:
        me = http.signed_in(actor)
        if me.role in http.AGENCY_ROLES:
            officer = await _own_officer(store, me)
            await store.put_officer(officer.model_copy(update={"preferences": body}))
            return body
        http.require_role(me, Role.CITIZEN)
        await store.put_preferences(me.subject, body)
        return body

    @api.get(
        "/me/notification-data",
        response_model=MyNotifyData,
        tags=["privacy"],
        summary="Everything notify holds about me: my choices and the messages sent to me",
        responses={
            401: {"description": "No or invalid token", **http.PROBLEM_RESPONSE},
            403: {"description": "Only a citizen exports their data here", **http.PROBLEM_RESPONSE},
        },
    )
    async def my_data(actor: Caller) -> MyNotifyData:
        me = http.require_role(actor, Role.CITIZEN)
        found = await store.messages_to(me.subject, limit=EXPORT_LIMIT + 1)
        return MyNotifyData(
            subject=me.subject,
            exported_at=datetime.now(UTC),
            preferences=(await store.preferences([me.subject])).get(me.subject),
            messages=[SentToMe.model_validate({**m, "id": m["_id"]}) for m in found[:EXPORT_LIMIT]],
            messages_truncated=len(found) > EXPORT_LIMIT,
        )

    @api.get("/inbox", response_model=list[InboxEntry], summary="My in-app inbox, newest first")
    async def inbox(
        actor: Caller,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    ) -> list[InboxEntry]:
        me = http.signed_in(actor)
        found = await store.inbox(me.subject, limit=limit, offset=offset)
        return [InboxEntry.model_validate({**m, "id": m["_id"]}) for m in found]

    @api.post("/inbox/{message_id}/read", status_code=204, summary="Mark a message read")
    async def read(message_id: MessageId, actor: Caller) -> None:
        me = http.signed_in(actor)
        if not await store.mark_read(me.subject, message_id, datetime.now(UTC)):
            raise http.ProblemError(404, "message_not_found", "no such message in your inbox")

    @api.get("/messages/{complaint_id}", summary="Delivery log of a complaint (internal)")
    async def messages(
        complaint_id: Annotated[str, Path(pattern=TRACKING_ID_PATTERN)], actor: Caller
    ) -> list[dict[str, Any]]:
        viewer = http.require_role(actor, Role.NATIONAL_ADMIN, Role.AUDITOR)
        found = await store.messages_of(complaint_id)
        # Addresses are contact details: the national admin's only.
        hidden = {"address"} if viewer.role is Role.AUDITOR else set()
        return [
            {"id": m["_id"], **{k: v for k, v in m.items() if k != "_id" and k not in hidden}}
            for m in found
        ]

    @api.post(
        "/deliveries/{message_id}/retry",
        summary="Re-queue a dead-lettered message (after fixing its channel)",
        responses={
            409: {
                "description": "Not a failed message (or no such message)",
                **http.PROBLEM_RESPONSE,
            }
        },
    )
    async def retry(message_id: MessageId, actor: Caller) -> dict[str, Any]:
        admin = http.require_role(actor, Role.NATIONAL_ADMIN)
        requeued = await store.requeue(
            message_id, now=datetime.now(UTC), by=f"{admin.role.value}:{admin.subject}"
        )
        if requeued is None:
            raise http.ProblemError(
                409, "not_failed", f"{message_id} is not a failed message (or does not exist)"
            )
        return {"id": message_id, "status": requeued["status"]}

    return api


async def _own_officer(store: NotifyStore, me: Actor) -> Officer:
    officer = await store.officer(me.subject)
    if officer is None or officer.agency_id != me.agency_id:
        raise http.ProblemError(
            404, "officer_not_registered", "your agency has not registered you as an officer"
        )
    return officer
