"""The complaint lifecycle over HTTP with roles and privacy, on the real broker and database."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from kernel.auth import issue_token
from schemas.complaint import Role
from schemas.events import (
    ComplaintMerged,
    ComplaintStatusChanged,
    PublicComplaintSnapshot,
    SlaBreached,
    SlaStage,
    SlaWindowExpired,
    StandardChecked,
)
from schemas.topics import COMPLAINT_EVENTS, INTAKE_GROUP, PUBLIC_COMPLAINTS, dead_letter_topic
from services.intake.access_log import ACCESS_LOG
from services.intake.config import IntakeSettings
from services.intake.store import COMPLAINTS
from tests import factories
from tests.conftest import service_env
from tests.support import (
    as_event,
    eventually,
    intake_serving,
    payloads,
    publish,
    read_topic,
)
from tests.support import bearer as support_bearer

SECRETS = ("Siti Rahma", "siti@example.id", "6281234567890")
COMPLAINT: dict[str, Any] = {
    "title": "Pungutan liar di loket KTP",
    "body": "Petugas meminta uang tambahan untuk mempercepat KTP-el.",
    "category": "kependudukan.ktp",
    "region_code": "81.71",
    "report_type": "pengaduan",
    "anonymous": True,
    "reporter": {"name": SECRETS[0], "email": SECRETS[1], "phone": "+" + SECRETS[2]},
}
AMBON, PADANG = "pemkot-ambon", "pemkot-padang"
NATIONAL_DESK = "kemenpanrb-admin-nasional"


@pytest.fixture(scope="module")
def settings(bootstrap: str, mongo_url: str, db_suffix: str) -> IntakeSettings:
    return IntakeSettings(
        **service_env(bootstrap, mongo_url, f"it_lifecycle_{db_suffix}"),  # type: ignore[arg-type]
        outbox_poll_seconds=0.2,
    )


@pytest.fixture(scope="module")
async def client(
    settings: IntakeSettings, bootstrap: str, mongo_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    async with intake_serving(settings, bootstrap, mongo_url) as client:
        yield client


class People:
    """Bearer headers for every kind of caller."""

    def __init__(self, settings: IntakeSettings) -> None:
        def bearer(
            role: Role, subject: str, agency_id: str | None = None, unit_id: str | None = None
        ) -> dict[str, str]:
            return support_bearer(role, subject, agency=agency_id, unit=unit_id, settings=settings)

        self.nobody: dict[str, str] = {}
        self.reporter = bearer(Role.CITIZEN, "citizen-reporter")
        self.neighbour = bearer(Role.CITIZEN, "citizen-neighbour")
        self.admin = bearer(Role.NATIONAL_ADMIN, "admin-1")
        self.agency = bearer(Role.AGENCY_ADMIN, "ambon-admin", agency_id=AMBON)
        self.other_agency = bearer(Role.AGENCY_ADMIN, "padang-admin", agency_id=PADANG)
        self.unit = bearer(Role.UNIT_OFFICER, "ambon-pu", agency_id=AMBON, unit_id="disdukcapil")
        self.other_unit = bearer(Role.UNIT_OFFICER, "ambon-x", agency_id=AMBON, unit_id="dinkes")
        self.auditor = bearer(Role.AUDITOR, "auditor-1")
        self.pupr = bearer(Role.AGENCY_ADMIN, "pupr-admin", agency_id="dinas-pupr-kota-ambon")


@pytest.fixture(scope="module")
def people(settings: IntakeSettings) -> People:
    return People(settings)


async def submit(client: httpx.AsyncClient, people: People, **changes: Any) -> str:
    response = await client.post(
        "/v1/complaints", json={**COMPLAINT, **changes}, headers=people.reporter
    )
    assert response.status_code == 201, response.text
    tracking_id: str = response.json()["tracking_id"]
    return tracking_id


async def act(
    client: httpx.AsyncClient, tracking_id: str, who: dict[str, str], **body: Any
) -> httpx.Response:
    return await client.post(f"/v1/complaints/{tracking_id}/actions", json=body, headers=who)


async def ok(
    client: httpx.AsyncClient, tracking_id: str, who: dict[str, str], **body: Any
) -> dict[str, Any]:
    response = await act(client, tracking_id, who, **body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_one_complaint_through_every_stage_with_its_history_and_events(
    client: httpx.AsyncClient, people: People, bootstrap: str
) -> None:
    cid = await submit(client, people)
    await ok(client, cid, people.admin, action="defer", reason="Lokasi loket kurang jelas")
    await ok(client, cid, people.reporter, action="complete", text="Loket 3 Disdukcapil Ambon")
    await ok(
        client,
        cid,
        people.admin,
        action="forward",
        agency_id=AMBON,
        agency_name="Pemerintah Kota Ambon",
        needs_examination=True,
    )
    await ok(client, cid, people.agency, action="forward_to_unit", unit_id="disdukcapil")
    await ok(client, cid, people.unit, action="follow_up", text="Petugas loket diperiksa")
    await ok(client, cid, people.unit, action="answer", text="Petugas diberi sanksi")
    await ok(client, cid, people.reporter, action="reply", text="Masih terjadi di loket 4")
    await ok(client, cid, people.unit, action="follow_up", text="Loket 4 diperiksa")
    await ok(client, cid, people.unit, action="answer", text="Semua loket diawasi CCTV")
    final = await ok(client, cid, people.agency, action="close", reason="Jawaban final")

    assert final["status"] == "closed"
    assert final["needs_examination"] is True
    assert final["agency"] == {"id": AMBON, "name": "Pemerintah Kota Ambon"}
    assert [(h["action"], h["to_status"], h["actor_role"]) for h in final["history"]] == [
        ("submit", "submitted", "citizen"),
        ("defer", "deferred", "national_admin"),
        ("complete", "submitted", "citizen"),
        ("forward", "forwarded_to_agency", "national_admin"),
        ("forward_to_unit", "forwarded_to_unit", "agency_admin"),
        ("follow_up", "in_follow_up", "unit_officer"),
        ("answer", "answered", "unit_officer"),
        ("reply", "reopened", "citizen"),
        ("follow_up", "in_follow_up", "unit_officer"),
        ("answer", "answered", "unit_officer"),
        ("close", "closed", "agency_admin"),
    ]
    rated = await client.put(
        f"/v1/complaints/{cid}/rating",
        json={"score": 4, "comment": "Cepat"},
        headers=people.reporter,
    )
    assert rated.status_code == 200
    assert rated.json()["rating"]["score"] == 4

    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: len(payloads(rs, cid, ComplaintStatusChanged)) >= 10,
    )
    changes = payloads(seen, cid, ComplaintStatusChanged)
    assert [c.action.value for c in changes] == [h["action"] for h in final["history"][1:]]
    for record in seen:
        if record.type == ComplaintStatusChanged.event_type():
            assert not any(secret.encode() in (record.value or b"") for secret in SECRETS)
            assert b"citizen-reporter" not in (record.value or b"")


async def test_bukan_wewenang_returns_to_the_admin_and_is_rerouted_elsewhere(
    client: httpx.AsyncClient, people: People
) -> None:
    cid = await submit(client, people, anonymous=False)
    await ok(client, cid, people.admin, action="forward", agency_id=PADANG, needs_examination=False)
    bounced = await ok(client, cid, people.other_agency, action="bounce", reason="Bukan wewenang")
    assert bounced["status"] == "bounced"

    again = await act(client, cid, people.admin, action="reroute", agency_id=PADANG)
    assert again.status_code == 422
    assert again.json()["code"] == "agency_already_bounced"
    rerouted = await ok(client, cid, people.admin, action="reroute", agency_id=AMBON)
    assert rerouted["agency"]["id"] == AMBON

    # The agency that bounced it has lost sight of it; the new one has it.
    assert (
        await client.get(f"/v1/complaints/{cid}", headers=people.other_agency)
    ).status_code == 403
    assert (await client.get(f"/v1/complaints/{cid}", headers=people.agency)).status_code == 200


async def test_out_of_scope_reports_are_rejected_with_a_reason_and_stay_archived(
    client: httpx.AsyncClient, people: People
) -> None:
    cid = await submit(client, people)
    missing = await act(client, cid, people.admin, action="reject", reason="Perkara pidana")
    assert (missing.status_code, missing.json()["code"]) == (422, "rejection_required")
    rejected = await ok(
        client,
        cid,
        people.admin,
        action="reject",
        reason="Perkara pidana",
        rejection="out_of_scope",
    )
    assert rejected["status"] == "rejected"
    assert rejected["history"][-1]["reason"] == "Perkara pidana"
    late = await act(
        client, cid, people.admin, action="forward", agency_id=AMBON, needs_examination=True
    )
    assert (late.status_code, late.json()["code"]) == (409, "illegal_transition")
    assert (await client.get(f"/v1/complaints/{cid}", headers=people.reporter)).json()[
        "status"
    ] == "rejected"


async def test_escalated_complaints_can_still_be_answered(
    client: httpx.AsyncClient, people: People
) -> None:
    cid = await submit(client, people)
    await ok(client, cid, people.admin, action="forward", agency_id=AMBON, needs_examination=False)
    escalated = await ok(
        client, cid, people.admin, action="escalate", reason="Melewati batas waktu"
    )
    assert escalated["status"] == "escalated"
    answered = await ok(client, cid, people.agency, action="answer", text="Sudah ditangani")
    assert answered["status"] == "answered"


async def test_role_and_agency_matrix_for_every_endpoint(
    client: httpx.AsyncClient, people: People
) -> None:
    cid = await submit(client, people, anonymous=False, confidential=False)
    await ok(client, cid, people.admin, action="forward", agency_id=AMBON, needs_examination=False)
    await ok(client, cid, people.agency, action="forward_to_unit", unit_id="disdukcapil")

    view = {
        "nobody": 200,
        "reporter": 200,
        "neighbour": 403,
        "admin": 200,
        "agency": 200,
        "other_agency": 403,
        "unit": 200,
        "other_unit": 403,
        "auditor": 200,
    }
    follow_up = {
        "nobody": 401,
        "reporter": 403,
        "neighbour": 403,
        "admin": 403,
        "agency": 200,
        "other_agency": 403,
        "unit": 200,
        "other_unit": 403,
        "auditor": 403,
    }
    support = {
        "nobody": 401,
        "reporter": 422,
        "neighbour": 200,
        "admin": 403,
        "agency": 403,
        "other_agency": 403,
        "unit": 403,
        "other_unit": 403,
        "auditor": 403,
    }
    for who, expected in view.items():
        got = await client.get(f"/v1/complaints/{cid}", headers=getattr(people, who))
        assert got.status_code == expected, (who, got.text)
    for who, expected in follow_up.items():
        got = await act(client, cid, getattr(people, who), action="follow_up", text="Dicek")
        assert got.status_code == expected, (who, got.text)
    for who, expected in support.items():
        got = await client.post(f"/v1/complaints/{cid}/supports", headers=getattr(people, who))
        assert got.status_code == expected, (who, got.text)
    twice = await client.post(f"/v1/complaints/{cid}/supports", headers=people.neighbour)
    assert (twice.status_code, twice.json()["code"]) == (409, "already_supported")
    assert (await client.get(f"/v1/public/complaints/{cid}")).json()["supporters"] == 1

    listings = {
        "reporter": True,
        "neighbour": False,
        "admin": True,
        "agency": True,
        "other_agency": False,
        "unit": True,
        "other_unit": False,
        "auditor": True,
    }
    for who, listed in listings.items():
        got = await client.get(
            "/v1/complaints", params={"limit": 200}, headers=getattr(people, who)
        )
        assert got.status_code == 200
        assert (cid in [c["tracking_id"] for c in got.json()]) is listed, who
    assert (await client.get("/v1/complaints")).status_code == 401

    early = await client.put(
        f"/v1/complaints/{cid}/rating", json={"score": 5}, headers=people.reporter
    )
    assert (early.status_code, early.json()["code"]) == (409, "not_answered_yet")
    await ok(client, cid, people.unit, action="answer", text="Selesai")
    stranger = await client.put(
        f"/v1/complaints/{cid}/rating", json={"score": 1}, headers=people.neighbour
    )
    assert stranger.status_code == 403
    first = await client.put(
        f"/v1/complaints/{cid}/rating", json={"score": 5}, headers=people.reporter
    )
    assert first.status_code == 200
    again = await client.put(
        f"/v1/complaints/{cid}/rating", json={"score": 1}, headers=people.reporter
    )
    assert (again.status_code, again.json()["code"]) == (409, "already_rated")


async def test_anonim_and_rahasia_hold_in_every_view(
    client: httpx.AsyncClient, people: People, bootstrap: str
) -> None:
    anonim = await submit(client, people, anonymous=True, confidential=False)
    rahasia = await submit(client, people, anonymous=False, confidential=True)
    for cid in (anonim, rahasia):
        await ok(
            client, cid, people.admin, action="forward", agency_id=AMBON, needs_examination=False
        )
        await ok(client, cid, people.agency, action="forward_to_unit", unit_id="disdukcapil")

    def leaks(text: str) -> list[str]:
        return [secret for secret in SECRETS if secret in text]

    for who in ("agency", "unit", "auditor"):
        response = await client.get(f"/v1/complaints/{anonim}", headers=getattr(people, who))
        assert response.status_code == 200
        assert response.json()["reporter"] is None
        assert leaks(response.text) == [], who
        listing = await client.get(
            "/v1/complaints", params={"limit": 200}, headers=getattr(people, who)
        )
        # Contact details never reach the agency side; anonim reporters not even by name.
        assert [s for s in leaks(listing.text) if s != SECRETS[0]] == [], who
        for listed in listing.json():
            if listed["anonymous"]:
                assert listed["reporter"] is None, who
        # Not anonim: the name, but never the contact details.
        named = (await client.get(f"/v1/complaints/{rahasia}", headers=getattr(people, who))).json()
        assert named["reporter"] == {"name": SECRETS[0], "email": None, "phone": None}

    assert leaks((await client.get(f"/v1/complaints/{anonim}")).text) == []
    public = await client.get(f"/v1/public/complaints/{anonim}")
    assert public.status_code == 200
    assert leaks(public.text) == []
    assert (await client.get(f"/v1/public/complaints/{rahasia}")).status_code == 404
    public_list = (await client.get("/v1/public/complaints", params={"limit": 200})).json()
    ids = [c["tracking_id"] for c in public_list]
    assert anonim in ids
    assert rahasia not in ids

    # The public stream carries the anonim report, without its reporter, and never the rahasia one.
    stream = await read_topic(
        bootstrap,
        PUBLIC_COMPLAINTS.name,
        until=lambda rs: sum(r.key == anonim.encode() for r in rs) >= 2,
    )
    snapshots = [
        PublicComplaintSnapshot.model_validate_json(r.value or b"")
        for r in stream
        if r.key == anonim.encode()
    ]
    assert [s.status.value for s in snapshots] == ["forwarded_to_agency", "forwarded_to_unit"]
    assert all(leaks((r.value or b"").decode()) == [] for r in stream)
    assert rahasia.encode() not in {r.key for r in stream}

    page = await client.get(f"/v1/public/complaints/{anonim}/page")
    assert page.headers["content-type"].startswith("text/html")
    assert COMPLAINT["title"] in page.text
    assert "Didisposisikan ke unit" in page.text
    assert leaks(page.text) == []
    # Read by people of Ambon: the category and the city by name, times in WIT.
    assert "KTP" in page.text and "Kota Ambon" in page.text
    assert "kependudukan.ktp" not in page.text and "81.71" not in page.text
    assert " WIT</time>" in page.text and "UTC" not in page.text
    assert (await client.get(f"/v1/public/complaints/{rahasia}/page")).status_code == 404

    for who in ("reporter", "admin"):
        full = (await client.get(f"/v1/complaints/{anonim}", headers=getattr(people, who))).json()
        assert full["reporter"] == {
            "name": SECRETS[0],
            "email": SECRETS[1],
            "phone": "+" + SECRETS[2],
        }


async def test_bad_tokens_and_bad_actions_get_precise_errors(
    client: httpx.AsyncClient, people: People
) -> None:
    cid = await submit(client, people)
    bad_token = await client.get(f"/v1/complaints/{cid}", headers={"Authorization": "Bearer nope"})
    assert (bad_token.status_code, bad_token.json()["code"]) == (401, "invalid_token")
    assert bad_token.headers["WWW-Authenticate"] == "Bearer"

    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"action": "teleport"}, 422, "validation_failed"),
        ({"action": "defer"}, 422, "reason_required"),
        ({"action": "forward", "agency_id": {"$gt": ""}}, 422, "validation_failed"),
        ({"action": "forward", "agency_id": AMBON}, 422, "needs_examination_required"),
        ({"action": "answer", "text": "x"}, 403, "role_not_allowed"),
        (
            {"action": "close", "reason": "x", "$set": {"status": "closed"}},
            422,
            "validation_failed",
        ),
    ]

    async def stored() -> dict[str, Any]:
        # Duplicate suggestions come from intake's own consumer, whenever it gets to them:
        # not something a refused action may change, so not compared.
        found = (await client.get(f"/v1/complaints/{cid}", headers=people.admin)).json()
        found.pop("possible_duplicates")
        return dict(found)

    before = await stored()
    for body, status, code in cases:
        response = await act(client, cid, people.admin, **body)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    assert await stored() == before

    unknown = await act(client, "LPR-00000-00000", people.admin, action="defer", reason="x")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "complaint_not_found")
    officials_cannot_file = await client.post(
        "/v1/complaints", json=COMPLAINT, headers=people.agency
    )
    assert officials_cannot_file.status_code == 403


async def test_duplicates_are_suggested_and_merging_keeps_everyone_informed(
    client: httpx.AsyncClient, people: People, settings: IntakeSettings, bootstrap: str
) -> None:
    pothole = {
        **COMPLAINT,
        "title": "Lubang besar di Jalan Pattimura",
        "body": "Lubang besar di Jalan Pattimura depan Pasar Mardika, motor sering jatuh.",
        "category": "infrastruktur.jalan",
        "region_code": "81.71.01",
        "location": {"lat": -3.6954, "long": 128.1814},
        "anonymous": False,
    }
    original = await submit(client, people, **pothole)
    await ok(
        client, original, people.admin, action="forward", agency_id=AMBON, needs_examination=False
    )

    second_reporter = {
        "Authorization": "Bearer "
        + issue_token(settings, role=Role.CITIZEN, subject="citizen-second")
    }
    again = await client.post(
        "/v1/complaints",
        json={
            **pothole,
            "title": "Jalan Pattimura berlubang",
            "body": "Ada lubang besar di Jalan Pattimura dekat Pasar Mardika, bahaya untuk motor.",
            "location": {"lat": -3.6957, "long": 128.1817},
        },
        headers=second_reporter,
    )
    duplicate = again.json()["tracking_id"]
    await ok(
        client, duplicate, people.admin, action="forward", agency_id=AMBON, needs_examination=False
    )
    supported = await client.post(f"/v1/complaints/{duplicate}/supports", headers=people.neighbour)
    assert supported.status_code == 200

    # Suggested by intake's consumer of complaint.submitted, a moment after the POST.
    async def suggested() -> list[str] | None:
        got = (await client.get(f"/v1/complaints/{duplicate}", headers=people.admin)).json()
        return [d["tracking_id"] for d in got["possible_duplicates"]] or None

    assert await eventually(suggested, timeout=30) == [original]
    own_view = (await client.get(f"/v1/complaints/{duplicate}", headers=second_reporter)).json()
    assert own_view["possible_duplicates"] == []

    into_itself = await act(client, duplicate, people.admin, action="merge", merge_into=duplicate)
    assert (into_itself.status_code, into_itself.json()["code"]) == (422, "merge_into_itself")
    merged = await ok(client, duplicate, people.admin, action="merge", merge_into=original)
    assert (merged["status"], merged["merged_into"]) == ("merged", original)

    survivor = (await client.get(f"/v1/complaints/{original}", headers=people.admin)).json()
    assert survivor["merged_from"] == [duplicate]
    assert survivor["supporters"] == 1  # the neighbour's support moved with the duplicate
    # The second reporter now follows the surviving complaint (without its reporter's contact).
    followed = await client.get(f"/v1/complaints/{original}", headers=second_reporter)
    assert followed.status_code == 200
    assert followed.json()["reporter"] == {"name": SECRETS[0], "email": None, "phone": None}
    mine = await client.get("/v1/complaints", headers=second_reporter)
    assert {c["tracking_id"] for c in mine.json()} == {original, duplicate}

    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: any(
            r.key == original.encode() and r.type == ComplaintMerged.event_type() for r in rs
        ),
    )
    [event] = [
        ComplaintMerged.model_validate_json(r.value or b"")
        for r in seen
        if r.key == original.encode() and r.type == ComplaintMerged.event_type()
    ]
    assert event.merged_complaint_id == duplicate


async def test_a_reply_after_the_window_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    people: People,
    settings: IntakeSettings,
    mongo: AsyncMongoClient[Any],
) -> None:
    cid = await submit(client, people)
    await ok(client, cid, people.admin, action="forward", agency_id=AMBON, needs_examination=False)
    await ok(client, cid, people.agency, action="answer", text="Sudah diperbaiki")
    # The answer was given eleven days ago (the window is ten).
    complaints = mongo[settings.database_name][COMPLAINTS]
    await complaints.update_one(
        {"_id": cid}, {"$set": {"answered_at": datetime.now(UTC) - timedelta(days=11)}}
    )
    before = await complaints.find_one({"_id": cid})
    late = await act(client, cid, people.reporter, action="reply", text="Belum diperbaiki")
    assert (late.status_code, late.json()["code"]) == (409, "reply_window_closed")
    assert without_consumer_fields(await complaints.find_one({"_id": cid})) == (
        without_consumer_fields(before)
    )


def without_consumer_fields(record: dict[str, Any] | None) -> dict[str, Any]:
    """The record as the API writes it: intake's consumers fill in duplicate suggestions and
    deadlines on their own time, so a refused request is judged on everything else."""
    assert record is not None
    return {k: v for k, v in record.items() if k not in {"possible_duplicates", "deadlines"}}


async def test_the_public_page_escapes_what_the_public_wrote(
    client: httpx.AsyncClient, people: People
) -> None:
    cid = await submit(client, people, title="<script>alert('x')</script> jalan", anonymous=False)
    await ok(client, cid, people.admin, action="forward", agency_id=AMBON, needs_examination=False)
    page = await client.get(f"/v1/public/complaints/{cid}/page")
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;" in page.text


async def test_sla_outcomes_escalate_and_auto_close(
    client: httpx.AsyncClient, people: People, bootstrap: str
) -> None:
    late = await submit(client, people)
    await ok(client, late, people.admin, action="forward", agency_id=AMBON, needs_examination=False)
    quiet = await submit(client, people)
    await ok(
        client, quiet, people.admin, action="forward", agency_id=AMBON, needs_examination=False
    )
    await ok(client, quiet, people.agency, action="answer", text="Sudah diperbaiki")
    now = datetime.now(UTC)

    def breach(cid: str, to: str) -> SlaBreached:
        return SlaBreached(
            complaint_id=cid,
            stage=SlaStage.FIRST_FOLLOW_UP,
            agency_id=AMBON,
            holder="agency",
            due_at=now,
            breached_at=now,
            level=1,
            escalate_to=to,
        )

    await publish(
        bootstrap,
        COMPLAINT_EVENTS.name,
        [
            as_event(breach(late, "agency_admin")),  # the agency admin is told; no change
            as_event(breach(late, "national_admin")),
            as_event(breach(quiet, "national_admin")),  # answered already: nothing to escalate
            as_event(
                SlaWindowExpired(complaint_id=quiet, stage=SlaStage.REPLY_WINDOW, expired_at=now)
            ),
        ],
    )

    async def settled() -> tuple[dict[str, Any], dict[str, Any]] | None:
        a = (await client.get(f"/v1/complaints/{late}", headers=people.admin)).json()
        b = (await client.get(f"/v1/complaints/{quiet}", headers=people.admin)).json()
        return (a, b) if a["status"] == "escalated" and b["status"] == "closed" else None

    escalated, closed = await eventually(settled, timeout=30)
    assert [(h["action"], h["actor_role"]) for h in escalated["history"][-1:]] == [
        ("escalate", "system")
    ]
    assert escalated["history"][-1]["reason"] == "first_follow_up deadline passed"
    assert [(h["action"], h["actor_role"]) for h in closed["history"][-2:]] == [
        ("answer", "agency_admin"),
        ("auto_close", "system"),
    ]


async def test_the_standard_check_shows_on_the_complaint(
    client: httpx.AsyncClient, people: People, bootstrap: str
) -> None:
    cid = await submit(client, people)
    checked = StandardChecked(
        complaint_id=cid,
        standard_id="disdukcapil-kota-ambon.penerbitan-ktp-el",
        standard_version=3,
        promised_days=1,
        promised_fee_idr=0,
        waited_days=30,
        paid_idr=50_000,
        violations=["completion_time", "fee"],
        checked_at=datetime.now(UTC),
    )
    await publish(bootstrap, COMPLAINT_EVENTS.name, [as_event(checked)])

    async def attached() -> dict[str, Any] | None:
        body: dict[str, Any] = (
            await client.get(f"/v1/complaints/{cid}", headers=people.admin)
        ).json()
        found: dict[str, Any] | None = body["standard"]
        return found

    standard = await eventually(attached, timeout=30)
    assert (standard["standard_version"], standard["violations"]) == (3, ["completion_time", "fee"])


async def test_routing_decision_after_a_bounce_reroutes_it(
    client: httpx.AsyncClient, people: People, bootstrap: str
) -> None:
    cid = await submit(client, people)
    await ok(client, cid, people.admin, action="forward", agency_id=PADANG, needs_examination=False)
    await ok(client, cid, people.other_agency, action="bounce", reason="Bukan wewenang")
    decision = factories.routed(cid, agency_id=AMBON, agency_name="Pemkot Ambon", reason="again")
    await publish(bootstrap, COMPLAINT_EVENTS.name, [as_event(decision)])

    async def rerouted() -> dict[str, Any] | None:
        body: dict[str, Any] = (
            await client.get(f"/v1/complaints/{cid}", headers=people.admin)
        ).json()
        return body if body["status"] == "forwarded_to_agency" else None

    body = await eventually(rerouted, timeout=30)
    assert body["agency"] == {"id": AMBON, "name": "Pemkot Ambon"}
    assert (body["history"][-1]["action"], body["history"][-1]["actor_role"]) == (
        "reroute",
        "system",
    )


async def test_a_routing_decision_published_again_after_a_bounce_changes_nothing(
    client: httpx.AsyncClient, people: People, bootstrap: str
) -> None:
    """The relay may publish a decision twice (it died before noting it sent): the copy that
    comes after the agency bounced the complaint is the same decision, taken in already, not a
    re-route to the agency that just refused it, nor a failure for an operator to look at."""
    cid = await submit(client, people)
    first = as_event(factories.routed(cid, agency_id=PADANG, agency_name="Pemkot Padang"))
    await publish(bootstrap, COMPLAINT_EVENTS.name, [first])

    async def status_is(wanted: str) -> dict[str, Any] | None:
        body = await detail(client, cid, people.admin)
        return body if body["status"] == wanted else None

    await eventually(lambda: status_is("forwarded_to_agency"), timeout=30)
    await ok(client, cid, people.other_agency, action="bounce", reason="Bukan wewenang")
    second = as_event(factories.routed(cid, agency_id=AMBON, agency_name="Pemkot Ambon"))
    await publish(bootstrap, COMPLAINT_EVENTS.name, [first, second])

    body = await eventually(lambda: status_is("forwarded_to_agency"), timeout=30)
    assert body["agency"] == {"id": AMBON, "name": "Pemkot Ambon"}
    assert [entry["action"] for entry in body["history"]] == [
        "submit",
        "forward",
        "bounce",
        "reroute",
    ]
    # The copy came before the second decision on the complaint's partition: had it been
    # dead-lettered, it would be on the topic by now.
    dead = await read_topic(
        bootstrap, dead_letter_topic(INTAKE_GROUP).name, until=lambda _: False, timeout=3
    )
    assert first.id not in {r.headers.get("ce_id") for r in dead}


async def detail(client: httpx.AsyncClient, cid: str, who: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get(f"/v1/complaints/{cid}", headers=who)).json()
    return body


async def test_a_decision_naming_a_unit_lands_there_and_units_hand_over_to_siblings(
    client: httpx.AsyncClient, people: People, bootstrap: str
) -> None:
    cid = await submit(client, people)
    decision = factories.routed(
        cid,
        agency_id=AMBON,
        agency_name="Pemkot Ambon",
        unit_id="disdukcapil",
        agency_units=["disdukcapil", "dinkes"],
    )
    await publish(bootstrap, COMPLAINT_EVENTS.name, [as_event(decision)])

    async def at_unit() -> dict[str, Any] | None:
        body = await detail(client, cid, people.admin)
        return body if body["status"] == "forwarded_to_unit" else None

    body = await eventually(at_unit, timeout=30)
    assert body["unit_id"] == "disdukcapil"
    assert [h["action"] for h in body["history"][-2:]] == ["forward", "forward_to_unit"]

    # The unit hands it to a sibling; an unknown unit and the holder's own are refused.
    unknown = await act(client, cid, people.unit, action="forward_to_unit", unit_id="bappeda")
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_unit")
    same = await act(client, cid, people.unit, action="forward_to_unit", unit_id="disdukcapil")
    assert (same.status_code, same.json()["code"]) == (422, "same_unit")
    handed = await ok(
        client, cid, people.unit, action="forward_to_unit", unit_id="dinkes", reason="urusan RS"
    )
    assert handed["unit_id"] == "dinkes"
    refused = await act(client, cid, people.unit, action="follow_up", text="Masih kami?")
    assert refused.status_code == 403
    await ok(client, cid, people.other_unit, action="follow_up", text="Diterima Dinkes")

    events = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: len(payloads(rs, cid, ComplaintStatusChanged)) >= 4,
    )
    actions = [(e.action.value, e.unit_id) for e in payloads(events, cid, ComplaintStatusChanged)]
    assert ("forward_to_unit", "dinkes") in actions


async def test_a_proposed_route_waits_for_the_admin_who_confirms_it_without_retyping(
    client: httpx.AsyncClient, people: People, bootstrap: str
) -> None:
    cid = await submit(client, people, anonymous=False)
    proposal = factories.routed(
        cid, agency_id=AMBON, agency_name="Pemkot Ambon", proposal=True, confidence="medium"
    )
    await publish(bootstrap, COMPLAINT_EVENTS.name, [as_event(proposal)])

    async def proposed() -> dict[str, Any] | None:
        body = await detail(client, cid, people.admin)
        return body if body.get("route_proposal") else None

    body = await eventually(proposed, timeout=30)
    assert body["status"] == "submitted"  # nothing moves until the admin confirms
    assert (body["route_proposal"]["agency_id"], body["route_proposal"]["confidence"]) == (
        AMBON,
        "medium",
    )
    assert (await detail(client, cid, people.reporter)).get("route_proposal") is None

    confirmed = await ok(client, cid, people.admin, action="forward", needs_examination=False)
    assert confirmed["status"] == "forwarded_to_agency"
    assert confirmed["agency"] == {"id": AMBON, "name": "Pemerintah Kota Ambon"}
    assert confirmed["route_proposal"] is None
    # Without a proposal, a forward still needs the agency.
    other = await submit(client, people)
    missing = await act(client, other, people.admin, action="forward", needs_examination=False)
    assert (missing.status_code, missing.json()["code"]) == (422, "agency_id_required")


async def test_a_forward_by_hand_takes_the_agency_name_from_the_directory(
    client: httpx.AsyncClient, people: People, bootstrap: str
) -> None:
    cid = await submit(client, people)
    unknown = await act(
        client,
        cid,
        people.admin,
        action="forward",
        agency_id="dinas-fiktif",
        needs_examination=False,
    )
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_agency")
    forwarded = await ok(
        client, cid, people.admin, action="forward", agency_id=PADANG, needs_examination=False
    )
    assert forwarded["agency"] == {"id": PADANG, "name": "Pemerintah Kota Padang"}
    await ok(client, cid, people.other_agency, action="bounce", reason="Bukan wewenang")
    # Re-routed by hand to an agency routing never named: the name still comes with it, on the
    # complaint and in the event notify writes the citizen's message from.
    rerouted = await ok(
        client, cid, people.admin, action="reroute", agency_id="dinas-pupr-kota-ambon"
    )
    assert rerouted["agency"] == {"id": "dinas-pupr-kota-ambon", "name": "Dinas PUPR Kota Ambon"}
    # The directory's units come with it: a disposition to a unit it lacks is refused.
    wrong = await act(client, cid, people.pupr, action="forward_to_unit", unit_id="disdukcapil")
    assert (wrong.status_code, wrong.json()["code"]) == (422, "unknown_unit")
    events = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: len(payloads(rs, cid, ComplaintStatusChanged)) >= 3,
    )
    names = [(e.action.value, e.agency_name) for e in payloads(events, cid, ComplaintStatusChanged)]
    assert names == [
        ("forward", "Pemerintah Kota Padang"),
        ("bounce", "Pemerintah Kota Padang"),
        ("reroute", "Dinas PUPR Kota Ambon"),
    ]


async def test_the_national_admin_disposes_of_what_waits_in_the_national_queue(
    client: httpx.AsyncClient, people: People, bootstrap: str
) -> None:
    cid = await submit(client, people)
    await ok(client, cid, people.admin, action="forward", agency_id=PADANG, needs_examination=False)
    await ok(client, cid, people.other_agency, action="bounce", reason="Bukan wewenang")
    # Routing gave up after the bounces: the complaint sits in the national fallback queue.
    fallback = factories.routed(
        cid, agency_id=NATIONAL_DESK, agency_name="Admin Nasional", reason="no agency left"
    )
    await publish(bootstrap, COMPLAINT_EVENTS.name, [as_event(fallback)])

    async def queued() -> dict[str, Any] | None:
        body = await detail(client, cid, people.admin)
        return body if body["status"] == "forwarded_to_agency" else None

    assert (await eventually(queued, timeout=30))["agency"]["id"] == NATIONAL_DESK
    # Loop protection holds: not back to an agency that bounced it, nor to where it sits.
    again = await act(client, cid, people.admin, action="reroute", agency_id=PADANG)
    assert (again.status_code, again.json()["code"]) == (422, "agency_already_bounced")
    stay = await act(client, cid, people.admin, action="reroute", agency_id=NATIONAL_DESK)
    assert (stay.status_code, stay.json()["code"]) == (422, "same_agency")
    moved = await ok(client, cid, people.admin, action="reroute", agency_id=AMBON, reason="KTP")
    assert (moved["status"], moved["agency"]["id"]) == ("forwarded_to_agency", AMBON)
    assert (moved["history"][-1]["action"], moved["history"][-1]["actor_role"]) == (
        "reroute",
        "national_admin",
    )
    # Once the agency is working on it, it is the agency's to answer or bounce.
    await ok(client, cid, people.agency, action="follow_up", text="Kami periksa")
    late = await act(client, cid, people.admin, action="reroute", agency_id=PADANG)
    assert (late.status_code, late.json()["code"]) == (409, "illegal_transition")


async def test_a_forbidden_action_is_refused_before_its_body_is_judged(
    client: httpx.AsyncClient, people: People
) -> None:
    cid = await submit(client, people)
    forged = await act(client, cid, people.reporter, action="forward", agency_id={"$gt": ""})
    assert (forged.status_code, forged.json()["code"]) == (403, "role_not_allowed")
    assert forged.json()["detail"] == "a citizen may not forward"
    merge = await act(client, cid, people.agency, action="merge", merge_into="not-an-id")
    assert (merge.status_code, merge.json()["detail"]) == (403, "an agency admin may not merge")
    # A role that may take the action still hears what is wrong with the body.
    bad = await act(client, cid, people.admin, action="forward", agency_id={"$gt": ""})
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_failed")
    anonymous = await act(client, cid, people.nobody, action="forward", agency_id=7)
    assert anonymous.status_code == 401


async def test_an_action_retried_under_its_idempotency_key_is_recorded_once(
    client: httpx.AsyncClient, people: People, bootstrap: str
) -> None:
    cid = await submit(client, people)
    await ok(client, cid, people.admin, action="forward", agency_id=AMBON, needs_examination=False)

    async def follow_up(text: str, key: str) -> httpx.Response:
        return await client.post(
            f"/v1/complaints/{cid}/actions",
            json={"action": "follow_up", "text": text},
            headers={**people.agency, "Idempotency-Key": key},
        )

    first, again = (
        await follow_up("Tim ke lokasi", "fu-1"),
        await follow_up("Tim ke lokasi", "fu-1"),
    )
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["history"] == first.json()["history"]
    other = await follow_up("Sudah diukur", "fu-1")
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
    assert (await follow_up("Sudah diukur", "fu-2")).status_code == 200
    history = (await detail(client, cid, people.admin))["history"]
    assert [h["text"] for h in history if h["action"] == "follow_up"] == [
        "Tim ke lokasi",
        "Sudah diukur",
    ]
    events = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: len(payloads(rs, cid, ComplaintStatusChanged)) >= 3,
        timeout=10,
    )
    follow_ups = [e for e in payloads(events, cid, ComplaintStatusChanged) if e.text]
    assert [e.text for e in follow_ups] == ["Tim ke lokasi", "Sudah diukur"]


# Reporters' data under UU 27/2022 (PDP): every disclosure of a reporter's name or contact
# details to someone other than the reporter is logged before it is answered, the auditor reads
# that log, and a reporter downloads everything intake holds about them.


def report(name: str, email: str) -> dict[str, Any]:
    return {
        "title": "Antrean puskesmas tidak dilayani",
        "body": "Sudah tiga jam menunggu dan loket tutup tanpa pemberitahuan",
        "category": "kesehatan.puskesmas",
        "region_code": "81.71",
        "report_type": "pengaduan",
        "reporter": {"name": name, "email": email, "phone": "+6281233334444"},
    }


async def test_every_disclosure_is_logged_and_only_the_auditor_reads_the_log(
    client: httpx.AsyncClient, settings: IntakeSettings, mongo: AsyncMongoClient[Any]
) -> None:
    citizen = support_bearer(Role.CITIZEN, "warga-audit", settings=settings)
    admin = support_bearer(Role.NATIONAL_ADMIN, "admin-7", settings=settings)
    auditor = support_bearer(Role.AUDITOR, "inspektorat-1", settings=settings)
    filed = await client.post(
        "/v1/complaints", json=report("Rahmat Hidayat", "rahmat@example.id"), headers=citizen
    )
    cid = filed.json()["tracking_id"]

    # The reporter's own reads are not disclosures.
    assert (await client.get(f"/v1/complaints/{cid}", headers=citizen)).status_code == 200
    # The national admin sees the contact details, saying why; then in a list, without saying.
    read = await client.get(
        f"/v1/complaints/{cid}", headers={**admin, "X-Access-Purpose": "verifikasi laporan"}
    )
    assert read.json()["reporter"]["email"] == "rahmat@example.id"
    listed = await client.get("/v1/complaints", headers=admin)
    assert cid in {c["tracking_id"] for c in listed.json()}

    entries = (
        await client.get(f"/v1/audit/contact-access?complaint_id={cid}", headers=auditor)
    ).json()
    assert [(e["viewer"]["subject"], e["purpose"], e["route"]) for e in entries] == [
        ("admin-7", "(not stated)", "/v1/complaints"),
        ("admin-7", "verifikasi laporan", "/v1/complaints/{tracking_id}"),
    ]
    assert all(e["fields"] == ["name", "email", "phone"] for e in entries)
    assert all(e["viewer"]["role"] == "national_admin" for e in entries)
    by_viewer = (
        await client.get("/v1/audit/contact-access?viewer=admin-7", headers=auditor)
    ).json()
    assert {e["complaint_id"] for e in by_viewer} >= {cid}

    # The admin, whose reads are logged, cannot read the log; nor can the public.
    assert (await client.get("/v1/audit/contact-access", headers=admin)).status_code == 403
    assert (await client.get("/v1/audit/contact-access")).status_code == 401
    stored = await mongo[settings.database_name][ACCESS_LOG].count_documents({"complaint_id": cid})
    assert stored == 2


async def test_a_reporter_downloads_everything_intake_holds_about_them(
    client: httpx.AsyncClient, settings: IntakeSettings
) -> None:
    me = support_bearer(Role.CITIZEN, "warga-export", settings=settings)
    someone_else = support_bearer(Role.CITIZEN, "warga-lain", settings=settings)
    admin = support_bearer(Role.NATIONAL_ADMIN, "admin-8", settings=settings)
    mine = [
        (
            await client.post(
                "/v1/complaints", json=report("Dewi", f"dewi{n}@example.id"), headers=me
            )
        ).json()["tracking_id"]
        for n in range(2)
    ]
    await client.post(
        "/v1/complaints", json=report("Budi", "budi@example.id"), headers=someone_else
    )
    await client.get(
        f"/v1/complaints/{mine[0]}", headers={**admin, "X-Access-Purpose": "tindak lanjut"}
    )

    export = await client.get("/v1/me/data", headers=me)
    assert export.status_code == 200
    assert export.headers["content-disposition"] == 'attachment; filename="lapor-my-data.json"'
    data = export.json()
    assert data["subject"] == "warga-export" and data["complaints_truncated"] is False
    assert data["seen_by_truncated"] is False
    assert sorted(c["tracking_id"] for c in data["complaints"]) == sorted(mine)
    assert {c["reporter"]["email"] for c in data["complaints"]} == {
        "dewi0@example.id",
        "dewi1@example.id",
    }
    assert [(s["complaint_id"], s["viewer"]["subject"], s["purpose"]) for s in data["seen_by"]] == [
        (mine[0], "admin-8", "tindak lanjut")
    ]
    assert "budi@example.id" not in export.text
    assert (await client.get("/v1/me/data", headers=admin)).status_code == 403


async def test_public_reports_are_searched_by_words_of_their_title(
    client: httpx.AsyncClient, people: People
) -> None:
    lamp = await submit(client, people, title="Lampu jalan (PJU) padam di Batu Merah")
    hidden = await submit(
        client, people, title="Lampu PJU padam, laporan rahasia", confidential=True
    )
    for cid in (lamp, hidden):  # public once with an agency
        await ok(
            client, cid, people.admin, action="forward", agency_id=AMBON, needs_examination=False
        )

    async def found(words: str) -> list[str]:
        answer = await client.get("/v1/public/complaints", params={"q": words, "limit": 200})
        assert answer.status_code == 200
        return [c["tracking_id"] for c in answer.json()]

    assert lamp in await found("pju) PADAM")  # any case, and "(" read as itself
    assert hidden not in await found("pju")
    assert lamp not in await found("jembatan")
    refused = await client.get("/v1/public/complaints", params={"q": "x"})
    assert refused.status_code == 422
