"""Intake on the real broker and database: submit, track, refuse bad input, survive an outage."""

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.fernet import InvalidToken
from pymongo import AsyncMongoClient

from devstack.infra import ServerProcess
from kernel.outbox import OUTBOX_COLLECTION
from schemas.complaint import Role
from schemas.events import ComplaintRouted, ComplaintSubmitted, SlaEscalated, SlaStage
from schemas.internal import REPORTER_KEYS_PATH, SERVICE_KEY_HEADER
from schemas.topics import COMPLAINT_EVENTS, INTAKE_GROUP, dead_letter_topic
from services.intake.app import create_app
from services.intake.config import IntakeSettings
from services.intake.reporter_keys import REPORTER_KEYS
from services.intake.store import COMPLAINTS
from tests import factories
from tests.conftest import service_env
from tests.support import (
    as_event,
    eventually,
    intake_serving,
    publish,
    read_topic,
    running,
)
from tests.support import bearer as support_bearer

MAX_BODY = 4096
VALID: dict[str, Any] = {
    "title": "Antrean puskesmas tidak dilayani",
    "body": "Sejak pagi antrean di puskesmas tidak dilayani petugas.",
    "category": "kesehatan.puskesmas",
    "region_code": "81.71",
    "report_type": "pengaduan",
    "anonymous": True,
    "reporter": {"name": "Siti Rahma", "email": "siti@example.id"},
}


@pytest.fixture(scope="module")
def settings(bootstrap: str, mongo_url: str, db_suffix: str) -> IntakeSettings:
    return IntakeSettings(
        **service_env(bootstrap, mongo_url, f"it_intake_{db_suffix}"),  # type: ignore[arg-type]
        intake_max_body_bytes=MAX_BODY,
        intake_sms_gateway_token="gateway-shared-secret",
        outbox_poll_seconds=0.2,
    )


@pytest.fixture(scope="module")
async def client(
    settings: IntakeSettings, bootstrap: str, mongo_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with intake_serving(settings, bootstrap, mongo_url) as client:
        yield client


@dataclass(frozen=True)
class Stored:
    """Complaints stored so far, and the moment it was counted."""

    complaints: int
    at: datetime


async def stored_counts(mongo: AsyncMongoClient[Any], settings: IntakeSettings) -> Stored:
    db = mongo[settings.database_name]
    return Stored(await db[COMPLAINTS].count_documents({}), datetime.now(UTC))


async def stored_since(
    mongo: AsyncMongoClient[Any], settings: IntakeSettings, before: Stored
) -> tuple[int, int]:
    """Complaints stored now, and events queued in the outbox since ``before`` (the relay
    deletes what it has published, so the outbox's size says nothing)."""
    db = mongo[settings.database_name]
    return (
        await db[COMPLAINTS].count_documents({}),
        await db[OUTBOX_COLLECTION].count_documents({"created_at": {"$gt": before.at}}),
    )


async def test_submitted_complaint_is_stored_tracked_and_announced(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    response = await client.post(
        "/v1/complaints", json=VALID, headers={"X-Correlation-ID": "corr-intake-1"}
    )
    assert response.status_code == 201
    created = response.json()
    tracking_id = created["tracking_id"]
    assert response.headers["Location"] == f"/v1/complaints/{tracking_id}"
    assert created["status"] == "submitted"
    assert "reporter" not in created

    tracked = await client.get(f"/v1/complaints/{tracking_id}")
    assert tracked.status_code == 200
    assert tracked.json() == created

    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda records: any(r.key == tracking_id.encode() for r in records),
    )
    [record] = [r for r in seen if r.key == tracking_id.encode()]
    assert record.type == ComplaintSubmitted.event_type()
    assert record.headers["ce_subject"] == tracking_id
    assert record.headers["ce_source"] == "/lapor/intake"
    assert record.headers["ce_correlationid"] == "corr-intake-1"
    payload = ComplaintSubmitted.model_validate_json(record.value or b"")
    assert payload.category == "kesehatan.puskesmas"
    assert payload.anonymous is True


@pytest.mark.parametrize(
    ("content", "status", "code", "field"),
    [
        (b'{"title": "unterminated', 400, "malformed_json", None),
        (json.dumps({"title": "Hanya judul"}).encode(), 422, "validation_failed", "body.body"),
        (
            json.dumps({**VALID, "report_type": "gugatan"}).encode(),
            422,
            "validation_failed",
            "body.report_type",
        ),
        (
            json.dumps({**VALID, "title": {"$gt": ""}}).encode(),
            422,
            "validation_failed",
            "body.title",
        ),
        (
            json.dumps({**VALID, "reporter": {"email": {"$ne": None}}}).encode(),
            422,
            "validation_failed",
            "body.reporter.email",
        ),
        (
            json.dumps({**VALID, "$where": "sleep(5000)"}).encode(),
            422,
            "validation_failed",
            "body.$where",
        ),
        (
            json.dumps({**VALID, "region_code": "00.01"}).encode(),
            422,
            "validation_failed",
            "body.region_code",
        ),
        (
            json.dumps({**VALID, "category": "foo.bar_baz"}).encode(),
            422,
            "validation_failed",
            "body.category",
        ),
        (
            json.dumps({**VALID, "service_standard_id": "dinas-fiktif.layanan-fiktif"}).encode(),
            422,
            "unknown_service_standard",
            "body.service_standard_id",
        ),
        (
            json.dumps({**VALID, "location": {"lat": 3.139, "long": 101.6869}}).encode(),
            422,
            "validation_failed",
            "body.location",
        ),
        (json.dumps({**VALID, "body": "x" * MAX_BODY}).encode(), 413, "payload_too_large", None),
        (
            json.dumps(
                {
                    **VALID,
                    "attachments": [
                        {
                            "filename": "video.jpg",
                            "content_type": "image/jpeg",
                            "size_bytes": 50_000_000,
                            "url": "https://files.example/v.jpg",
                        }
                    ],
                }
            ).encode(),
            422,
            "validation_failed",
            "body.attachments.0.size_bytes",
        ),
    ],
    ids=[
        "malformed",
        "missing",
        "enum",
        "operator",
        "nested-operator",
        "operator-key",
        "region",
        "category",
        "standard",
        "outside-indonesia",
        "oversized",
        "attachment",
    ],
)
async def test_bad_input_gets_a_precise_problem_and_stores_nothing(
    client: httpx.AsyncClient,
    mongo: AsyncMongoClient[Any],
    settings: IntakeSettings,
    content: bytes,
    status: int,
    code: str,
    field: str | None,
) -> None:
    before = await stored_counts(mongo, settings)
    response = await client.post(
        "/v1/complaints", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert problem["status"] == status
    if field is not None:
        assert field in [error["field"] for error in problem["errors"]]
    assert await stored_since(mongo, settings, before) == (before.complaints, 0)


async def test_streamed_body_over_the_limit_is_refused(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1024

    response = await client.post(
        "/v1/complaints", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_retry_with_the_same_idempotency_key_creates_one_complaint(
    client: httpx.AsyncClient, mongo: AsyncMongoClient[Any], settings: IntakeSettings
) -> None:
    headers = {"Idempotency-Key": "app-retry-0001"}
    first = await client.post("/v1/complaints", json=VALID, headers=headers)
    before = await stored_counts(mongo, settings)
    again = await client.post("/v1/complaints", json=VALID, headers=headers)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["tracking_id"] == first.json()["tracking_id"]
    assert (await stored_since(mongo, settings, before))[0] == before.complaints

    other = await client.post(
        "/v1/complaints", json={**VALID, "title": "Judul yang lain sama sekali"}, headers=headers
    )
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"


async def test_unknown_and_malformed_tracking_ids(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/complaints/LPR-00000-00000")
    assert missing.status_code == 404
    assert missing.json()["code"] == "complaint_not_found"
    malformed = await client.get("/v1/complaints/not-an-id")
    assert malformed.status_code == 422


async def test_routing_and_sla_outcomes_show_in_the_status_once_each(
    client: httpx.AsyncClient,
    bootstrap: str,
    mongo: AsyncMongoClient[Any],
    settings: IntakeSettings,
) -> None:
    tracking_id = (await client.post("/v1/complaints", json=VALID)).json()["tracking_id"]
    routed = as_event(factories.routed(tracking_id))
    deadline = as_event(factories.deadline_set(tracking_id))
    escalated = as_event(
        SlaEscalated(
            complaint_id=tracking_id,
            stage=SlaStage.COMPLETION,
            agency_id="dinkes-kota-ambon",
            due_at=datetime(2026, 12, 1, 14, 59, 59, tzinfo=UTC),
            escalated_at=datetime(2026, 12, 3, 1, 0, tzinfo=UTC),
            level=2,
            escalate_to="national_admin",
        )
    )
    # Each event arrives twice (a redelivery, a double publish): each is applied once.
    twice = [routed, routed, deadline, escalated, deadline, escalated]
    await publish(bootstrap, COMPLAINT_EVENTS.name, twice)

    async def reflected() -> dict[str, Any] | None:
        body: dict[str, Any] = (await client.get(f"/v1/complaints/{tracking_id}")).json()
        return body if body["deadline"] and body["status"] == "escalated" else None

    status = await eventually(reflected, timeout=30)
    assert status["agency"] == {"id": "dinkes-kota-ambon", "name": "Dinas Kesehatan Kota Ambon"}
    assert status["deadline"]["due_at"] == "2026-12-01T14:59:59Z"
    # The last copy came after the first escalation on the same partition: all were taken in.
    await asyncio.sleep(0)
    stored = await mongo[settings.database_name][COMPLAINTS].find_one({"_id": tracking_id})
    assert stored is not None
    assert [entry["to_status"] for entry in stored["history"]] == [
        "submitted",
        "forwarded_to_agency",
        "escalated",
    ]


async def test_findings_about_many_complaints_arriving_together_each_show_on_their_own(
    client: httpx.AsyncClient,
    bootstrap: str,
    mongo: AsyncMongoClient[Any],
    settings: IntakeSettings,
) -> None:
    """Deadlines and standard checks come in runs (SLA emits them together) and intake writes a
    run at once; one about a complaint stored elsewhere must not cost the others theirs."""
    ids = [(await client.post("/v1/complaints", json=VALID)).json()["tracking_id"] for _ in "ab"]
    stray = as_event(factories.deadline_set("LPR-ZZZZZ-ZZZZY"))
    findings = [
        as_event(factories.standard_checked(ids[0])),
        as_event(factories.deadline_set(ids[0], stage=SlaStage.VERIFICATION, agency_id=None)),
        as_event(factories.deadline_set(ids[0], stage=SlaStage.CEILING, agency_id=None)),
        stray,
        as_event(factories.deadline_set(ids[1], stage=SlaStage.VERIFICATION, agency_id=None)),
        as_event(factories.standard_checked(ids[1])),
    ]
    await publish(bootstrap, COMPLAINT_EVENTS.name, findings)
    complaints = mongo[settings.database_name][COMPLAINTS]

    async def annotated() -> bool:
        docs = await complaints.find({"_id": {"$in": ids}}).to_list(None)
        return (
            all(doc.get("standard") for doc in docs)
            and sum(len(doc.get("deadlines") or {}) for doc in docs) == 3
        )

    await eventually(annotated, timeout=30)
    dlq = await read_topic(
        bootstrap,
        dead_letter_topic(INTAKE_GROUP).name,
        until=lambda records: any(r.headers.get("ce_id") == stray.id for r in records),
    )
    stored = {doc["_id"]: doc for doc in await complaints.find({"_id": {"$in": ids}}).to_list(None)}
    assert set(stored[ids[0]]["deadlines"]) == {"verification", "ceiling"}
    assert set(stored[ids[1]]["deadlines"]) == {"verification"}
    assert all(stored[i]["standard"]["standard_id"] for i in ids)
    ours = {event.id for event in findings}
    assert [r.headers.get("ce_id") for r in dlq if r.headers.get("ce_id") in ours] == [stray.id]


async def test_outcome_for_an_unknown_complaint_is_dead_lettered_and_consumption_goes_on(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    stray = as_event(factories.routed("LPR-ZZZZZ-ZZZZZ"))
    tracking_id = (await client.post("/v1/complaints", json=VALID)).json()["tracking_id"]
    follow = as_event(factories.routed(tracking_id))
    await publish(bootstrap, COMPLAINT_EVENTS.name, [stray, follow])

    dlq = await read_topic(
        bootstrap,
        dead_letter_topic(INTAKE_GROUP).name,
        until=lambda records: any(r.headers.get("ce_id") == stray.id for r in records),
    )
    [dead] = [r for r in dlq if r.headers.get("ce_id") == stray.id]
    assert "no complaint 'LPR-ZZZZZ-ZZZZZ'" in dead.headers["x-dlq-reason"]
    assert dead.headers["x-dlq-original-topic"] == COMPLAINT_EVENTS.name
    assert dead.headers["ce_type"] == ComplaintRouted.event_type()

    async def forwarded() -> bool:
        body = (await client.get(f"/v1/complaints/{tracking_id}")).json()
        return bool(body["status"] == "forwarded_to_agency")

    await eventually(forwarded, timeout=30)


async def test_an_sms_becomes_one_report_answered_with_its_tracking_id(
    client: httpx.AsyncClient, mongo: AsyncMongoClient[Any], settings: IntakeSettings
) -> None:
    gateway = {"X-Gateway-Token": "gateway-shared-secret"}
    sms = {
        "message_id": "gw-000123",
        "sender": "+6281299990000",
        "text": "LAPOR#JALAN#8171#Jalan berlubang besar di depan Pasar Mardika",
    }
    assert (await client.post("/v1/channels/sms", json=sms)).status_code == 401
    wrong = await client.post("/v1/channels/sms", json=sms, headers={"X-Gateway-Token": "guess"})
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_gateway_token")

    first = await client.post("/v1/channels/sms", json=sms, headers=gateway)
    assert first.status_code == 200
    tracking_id = first.json()["tracking_id"]
    assert tracking_id in first.json()["reply"]
    redelivered = await client.post("/v1/channels/sms", json=sms, headers=gateway)
    assert redelivered.json()["tracking_id"] == tracking_id

    stored = await mongo[settings.database_name][COMPLAINTS].find_one({"_id": tracking_id})
    assert stored is not None
    assert (stored["category"], stored["region_code"], stored["channel"]) == (
        "infrastruktur.jalan",
        "81.71",
        "sms",
    )
    # Sealed under the report's own key, which intake keeps wrapped under PII_KEYS.
    wrapped = await mongo[settings.database_name][REPORTER_KEYS].find_one({"_id": tracking_id})
    assert wrapped is not None and "6281299990000" not in str(stored)
    key = settings.sealer().unwrap(wrapped["key"])
    assert key.open(stored["reporter"]["report_sealed"])["phone"] == "+6281299990000"
    assert (
        await mongo[settings.database_name][COMPLAINTS].count_documents(
            {"idempotency.key": "sms:gw-000123"}
        )
        == 1
    )

    before = await stored_counts(mongo, settings)
    unreadable = await client.post(
        "/v1/channels/sms", json={**sms, "message_id": "gw-000124", "text": "halo"}, headers=gateway
    )
    assert unreadable.status_code == 422
    assert unreadable.json()["code"] == "unreadable_sms"
    assert "LAPOR#KATEGORI" in unreadable.json()["reply"]
    assert await stored_since(mongo, settings, before) == (before.complaints, 0)


async def test_a_broker_outage_loses_no_submission(
    client: httpx.AsyncClient,
    kafka_server: ServerProcess,
    bootstrap: str,
    mongo: AsyncMongoClient[Any],
    settings: IntakeSettings,
) -> None:
    kafka_server.pause()
    try:
        response = await client.post("/v1/complaints", json=VALID)
        assert response.status_code == 201
        tracking_id = response.json()["tracking_id"]
        outbox = mongo[settings.database_name][OUTBOX_COLLECTION]
        assert await outbox.count_documents({"key": tracking_id.encode()}) == 1
    finally:
        kafka_server.resume()

    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda records: any(r.key == tracking_id.encode() for r in records),
        timeout=60,
    )
    assert [r.type for r in seen if r.key == tracking_id.encode()] == [
        ComplaintSubmitted.event_type()
    ]

    async def drained() -> bool:
        return await outbox.count_documents({}) == 0

    await eventually(drained, timeout=30)


async def test_an_unreachable_database_gets_503_with_retry_after_and_no_acknowledgement(
    settings: IntakeSettings,
    mongo_server: ServerProcess,
    mongo: AsyncMongoClient[Any],
) -> None:
    impatient = settings.model_copy(update={"mongo_timeout_ms": 500})
    async with running(create_app(impatient)) as client:
        assert (await client.get("/readyz")).status_code == 200
        before = await stored_counts(mongo, settings)
        mongo_server.pause()
        try:
            started = asyncio.get_running_loop().time()
            response = await client.post("/v1/complaints", json=VALID)
            elapsed = asyncio.get_running_loop().time() - started
            ready = await client.get("/readyz")
        finally:
            mongo_server.resume()
        assert response.status_code == 503
        assert response.json()["code"] == "service_unavailable"
        assert response.headers["Retry-After"] == "5"
        assert elapsed < 3  # answered within the request's database deadline, not hung
        assert ready.status_code == 503
        assert "mongodb" in ready.json()["checks"]
        assert await stored_since(mongo, settings, before) == (before.complaints, 0)
        assert (await client.post("/v1/complaints", json=VALID)).status_code == 201


def limited(env: dict[str, object], per_minute: int) -> IntakeSettings:
    """Intake with the anonymous limit on: ``per_minute`` in bursts of three."""
    limits = {"http_public_rate_per_minute": per_minute, "http_public_burst": 3}
    return IntakeSettings(**{**env, **limits})  # type: ignore[arg-type]


async def test_anonymous_floods_get_429_and_signed_in_callers_do_not(
    bootstrap: str, mongo_url: str, db_suffix: str
) -> None:
    settings = limited(service_env(bootstrap, mongo_url, f"it_intake_rate_{db_suffix}"), 60)
    async with running(create_app(settings)) as client:
        answers = [(await client.get("/v1/public/complaints")).status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        refused = await client.get("/v1/public/complaints")
        assert refused.json()["code"] == "rate_limited"
        assert int(refused.headers["Retry-After"]) >= 1
        admin = support_bearer(Role.NATIONAL_ADMIN, "a", settings=settings)
        assert (await client.get("/v1/complaints", headers=admin)).status_code == 200
        assert (await client.get("/healthz")).status_code == 200
        metrics = (await client.get("/metrics")).text
        assert 'lapor_rate_limited_total{service="intake"}' in metrics


async def test_contact_details_are_sealed_at_rest_and_shown_only_to_who_may_see_them(
    client: httpx.AsyncClient, mongo: AsyncMongoClient[Any], settings: IntakeSettings
) -> None:
    body = {
        "title": "Pungli di loket",
        "body": "Petugas meminta uang tambahan di loket KTP",
        "category": "kependudukan.ktp",
        "region_code": "81.71",
        "report_type": "pengaduan",
        "reporter": {
            "name": "Siti Rahma",
            "email": "siti.sealed@example.id",
            "phone": "+6281200001111",
        },
    }
    citizen = support_bearer(Role.CITIZEN, "warga-sealed", settings=settings)
    created = await client.post("/v1/complaints", json=body, headers=citizen)
    cid = created.json()["tracking_id"]
    db = mongo[settings.database_name]
    raw = await db[COMPLAINTS].find_one({"_id": cid})
    assert raw is not None and set(raw["reporter"]) == {"report_sealed"}
    key = await db[REPORTER_KEYS].find_one({"_id": cid})
    assert key is not None
    data_key = settings.sealer().unwrap(key["key"])  # wrapped under PII_KEYS
    assert data_key.open(raw["reporter"]["report_sealed"])["name"] == "Siti Rahma"
    stored = json.dumps([raw, key], default=str)
    assert "siti.sealed@example.id" not in stored and "6281200001111" not in stored
    assert "Siti Rahma" not in stored
    admin = support_bearer(Role.NATIONAL_ADMIN, "admin", settings=settings)
    shown = (await client.get(f"/v1/complaints/{cid}", headers=admin)).json()
    assert shown["reporter"]["email"] == "siti.sealed@example.id"
    mine = (await client.get(f"/v1/complaints/{cid}", headers=citizen)).json()
    assert mine["reporter"]["phone"] == "+6281200001111"


async def test_notify_gets_the_key_that_opens_the_event_and_after_erasure_nothing_opens(
    client: httpx.AsyncClient,
    mongo: AsyncMongoClient[Any],
    settings: IntakeSettings,
    bootstrap: str,
) -> None:
    """The event carries the contact details sealed under the report's own key; only notify
    (by its service key) is handed the key, wrapped; erasure destroys it, after which neither
    the event on the topic nor intake's record opens, and the record reads as anonim."""
    contact = {"name": "Rina Kusuma", "email": "rina.keys@example.id", "phone": "+6281377770000"}
    citizen = support_bearer(Role.CITIZEN, "warga-keys", settings=settings)
    posted = await client.post(
        "/v1/complaints", json={**VALID, "reporter": contact}, headers=citizen
    )
    cid = posted.json()["tracking_id"]

    def submission(r: Any) -> bool:
        return bool(r.key == cid.encode() and r.type == ComplaintSubmitted.event_type())

    seen = await read_topic(
        bootstrap, COMPLAINT_EVENTS.name, until=lambda rs: any(submission(r) for r in rs)
    )
    [record] = [r.value or b"" for r in seen if submission(r)]
    assert not any(value in record.decode() for value in contact.values())
    token = json.loads(record)["sealed_reporter"]

    sealer = settings.sealer()
    path = f"{REPORTER_KEYS_PATH}?complaint_id={cid}"
    refused = await client.get(path, headers={SERVICE_KEY_HEADER: sealer.service_key("routing")})
    assert (refused.status_code, refused.json()["code"]) == (403, "not_a_key_holder")
    assert (await client.get(path)).status_code == 403
    as_notify = {SERVICE_KEY_HEADER: sealer.service_key("notify")}
    handed = await client.get(path, headers=as_notify)
    wrapped = handed.json()["keys"][cid]
    assert sealer.unwrap(wrapped).open(token) == contact
    assert sealer.unwrap(wrapped).key not in handed.text  # the key never travels in clear

    erased = await client.post(f"/v1/complaints/{cid}/reporter-erasure", headers=citizen)
    assert erased.status_code == 200, erased.text
    assert (await client.get(path, headers=as_notify)).json()["keys"] == {}
    assert await mongo[settings.database_name][REPORTER_KEYS].find_one({"_id": cid}) is None
    admin = support_bearer(Role.NATIONAL_ADMIN, "admin", settings=settings)
    shown = (await client.get(f"/v1/complaints/{cid}", headers=admin)).json()
    assert shown["reporter"] is None and shown["anonymous"] is True
    # With the data key gone, what the platform still holds (PII_KEYS) does not open the copy
    # on the topic, nor any backup of it.
    with pytest.raises(InvalidToken):
        sealer.open({"sealed": token})


def database_commands(metrics: str, command: str) -> float:
    pattern = (
        r'^lapor_database_commands_total\{command="'
        + command
        + r'",outcome="ok",service="intake"\} ([0-9.e+]+)$'
    )
    found = re.search(pattern, metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_the_database_commands_a_submission_sends_show_on_the_metrics(
    client: httpx.AsyncClient,
) -> None:
    before = (await client.get("/metrics")).text
    assert (await client.post("/v1/complaints", json=VALID)).status_code == 201
    after = (await client.get("/metrics")).text
    # The complaint and its event are inserted in one transaction.
    assert database_commands(after, "insert") >= database_commands(before, "insert") + 2
    assert database_commands(after, "commitTransaction") > database_commands(
        before, "commitTransaction"
    )
    assert 'lapor_database_command_duration_seconds_bucket{command="insert"' in after


async def test_a_location_places_the_report_in_its_regency_and_a_contradiction_is_flagged(
    client: httpx.AsyncClient, settings: IntakeSettings
) -> None:
    admin = support_bearer(Role.NATIONAL_ADMIN, "verifier", settings=settings)
    bandung = {"lat": -6.9175, "long": 107.6191}
    placed = await client.post(
        "/v1/complaints", json={**VALID, "region_code": "", "location": bandung}
    )
    assert placed.status_code == 201, placed.text
    found = await client.get(f"/v1/complaints/{placed.json()['tracking_id']}", headers=admin)
    assert (found.json()["region_code"], found.json()["flags"]) == ("32.73", [])

    contradicted = await client.post("/v1/complaints", json={**VALID, "location": bandung})
    assert contradicted.status_code == 201  # a report is never refused for it
    seen = await client.get(f"/v1/complaints/{contradicted.json()['tracking_id']}", headers=admin)
    [flag] = seen.json()["flags"]
    assert flag["code"] == "location_mismatch" and "Kota Bandung" in flag["detail"]
    assert seen.json()["region_code"] == VALID["region_code"]


async def test_a_record_on_the_wire_keeps_the_published_contract(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    """What an outside subscriber reads with a plain Kafka client: the key, the CloudEvents
    binary-mode headers (these and no others: no framework header such as FastStream's
    correlation_id), and the payload as its model writes it, byte for byte (a change of Kafka
    library or framework must leave this as it is). FastStream's producer writes content-type
    before the others; header order carries no meaning in the Kafka binding."""
    posted = await client.post(
        "/v1/complaints", json=VALID, headers={"X-Correlation-ID": "wire-contract-0001"}
    )
    tracking_id = posted.json()["tracking_id"]
    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: any(
            r.key == tracking_id.encode() and r.type == ComplaintSubmitted.event_type() for r in rs
        ),
    )
    [record] = [
        r
        for r in seen
        if r.key == tracking_id.encode() and r.type == ComplaintSubmitted.event_type()
    ]
    assert list(record.headers) == [
        "content-type",
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "ce_subject",
        "ce_dataschema",
        "ce_correlationid",
    ]
    headers = record.headers
    assert (headers["ce_specversion"], headers["ce_source"], headers["content-type"]) == (
        "1.0",
        "/lapor/intake",
        "application/json",
    )
    assert headers["ce_type"] == "id.go.lapor.complaint.submitted.v2"
    assert headers["ce_dataschema"] == ComplaintSubmitted.dataschema()
    assert headers["ce_subject"] == tracking_id
    assert headers["ce_correlationid"] == "wire-contract-0001"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["ce_id"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", headers["ce_time"])
    payload = ComplaintSubmitted.model_validate_json(record.value or b"")
    assert record.value == payload.model_dump_json().encode()
    assert set(json.loads(record.value or b"")) == set(ComplaintSubmitted.model_fields)
