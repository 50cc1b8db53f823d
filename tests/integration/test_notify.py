"""Notify on the real broker and database: one message per event and recipient, anonim kept."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from schemas.complaint import ReporterContact, Role
from schemas.events import NotificationSent
from schemas.topics import COMPLAINT_EVENTS
from services.intake.domain import new_tracking_id
from services.notify.app import create_app
from services.notify.config import NotifySettings
from tests import factories
from tests.conftest import service_env
from tests.support import as_event, bearer, eventually, payloads, publish, read_topic, running

SECRETS = ("Siti Rahma", "siti@example.id", "6281234567890")
ADMIN = bearer(Role.NATIONAL_ADMIN, "admin")


@pytest.fixture(scope="module")
async def client(
    bootstrap: str, mongo_url: str, db_suffix: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = NotifySettings(
        **service_env(bootstrap, mongo_url, f"it_notify_{db_suffix}"),  # type: ignore[arg-type]
        outbox_poll_seconds=0.2,
    )
    async with running(create_app(settings)) as client:
        yield client


async def test_lifecycle_messages_recorded_once_and_anonim_hidden_from_the_agency(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    cid = new_tracking_id()
    reporter = ReporterContact(name=SECRETS[0], email=SECRETS[1], phone="+" + SECRETS[2])
    submitted = as_event(
        factories.submitted(cid, anonymous=True, confidential=True, reporter=reporter)
    )
    routed = as_event(factories.routed(cid, agency_id="pemkot-ambon", agency_name="Pemkot Ambon"))
    deadline = as_event(factories.deadline_set(cid, agency_id="pemkot-ambon"))
    await publish(bootstrap, COMPLAINT_EVENTS.name, [submitted, routed, routed, deadline, deadline])

    async def all_recorded() -> list[dict[str, Any]] | None:
        messages: list[dict[str, Any]] = (
            await client.get(f"/v1/messages/{cid}", headers=ADMIN)
        ).json()
        return messages if len(messages) >= 4 else None

    messages = await eventually(all_recorded, timeout=30)
    assert [(m["recipient_role"], m["template"]) for m in messages] == [
        ("complainant", "complaint_submitted"),
        ("complainant", "complaint_forwarded"),
        ("agency", "agency_new_assignment"),
        ("agency", "agency_deadline_set"),
    ]
    for message in messages:
        if message["recipient_role"] == "agency":
            text = repr(message)
            assert not any(secret in text for secret in SECRETS), text
    assert messages[0]["channel"] == "email"
    assert messages[0]["address"] == SECRETS[1]

    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: len(payloads(rs, cid, NotificationSent)) >= 4,
    )
    sent = payloads(seen, cid, NotificationSent)
    assert len(sent) == 4
    assert {s.caused_by for s in sent} == {submitted.id, routed.id, deadline.id}
    for record in seen:
        if record.type == NotificationSent.event_type():
            assert not any(secret.encode() in (record.value or b"") for secret in SECRETS)
    # Redelivered events recorded nothing more.
    assert len((await client.get(f"/v1/messages/{cid}", headers=ADMIN)).json()) == 4
    # Addresses are for the national admin only; others may not read the log at all.
    audited = (await client.get(f"/v1/messages/{cid}", headers=bearer(Role.AUDITOR, "au"))).json()
    assert all("address" not in m for m in audited)
    assert SECRETS[1] not in repr(audited)
    agency = bearer(Role.AGENCY_ADMIN, "ag", agency="pemkot-ambon")
    assert (await client.get(f"/v1/messages/{cid}", headers=agency)).status_code == 403
    assert (await client.get(f"/v1/messages/{cid}")).status_code == 401
