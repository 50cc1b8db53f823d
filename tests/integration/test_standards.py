"""Standards registry on the real broker and database: publish, version, read, refuse."""

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from devstack import infra
from kernel.rebuild import RebuildReport
from schemas.complaint import Role
from schemas.events import StandardPublished, StandardSuperseded
from schemas.topics import COMPLAINT_EVENTS, STANDARD_EVENTS
from services.rebuild import rebuild
from services.standards.app import create_app
from services.standards.config import StandardsSettings
from services.standards.store import FEEDBACK, STANDARDS, VERSIONS
from tests import factories
from tests.conftest import service_env
from tests.factories import standard_row, standards_csv
from tests.support import as_event, bearer, eventually, publish, read_topic, running
from tests.unit.test_standards_domain import full_standard
from tests.unit.test_standards_scoring_import import xlsx_bytes

AGENCY = bearer(Role.AGENCY_ADMIN, "dinkes-admin", agency="dinkes-kota-ambon")
ADMIN = bearer(Role.NATIONAL_ADMIN, "admin")


@pytest.fixture(scope="module")
def settings(bootstrap: str, mongo_url: str, db_suffix: str) -> StandardsSettings:
    return StandardsSettings(
        **service_env(bootstrap, mongo_url, f"it_standards_{db_suffix}"),  # type: ignore[arg-type]
        outbox_poll_seconds=0.2,
        standards_score_refresh_seconds=0.5,
    )


@pytest.fixture(scope="module")
async def client(settings: StandardsSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app(settings)) as client:
        yield client


async def test_publish_serve_and_version_a_standard(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    body = full_standard()
    assert (await client.post("/v1/standards", json=body)).status_code == 401
    stranger = bearer(Role.AGENCY_ADMIN, "x", agency="pemkot-padang")
    forbidden = await client.post("/v1/standards", json=body, headers=stranger)
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "not_your_agency")
    citizen = await client.post("/v1/standards", json=body, headers=bearer(Role.CITIZEN, "c"))
    assert citizen.status_code == 403
    first = await client.post("/v1/standards", json=body, headers=AGENCY)
    assert first.status_code == 201
    version = first.json()
    sid = version["standard_id"]
    assert sid == "dinkes-kota-ambon.penerbitan-surat-izin-praktik-bidan"
    assert (version["version"], version["status"]) == (1, "published")
    assert version["created_by"] == "agency_admin:dinkes-admin"

    fetched = (await client.get(f"/v1/standards/{sid}", headers=AGENCY)).json()
    assert fetched["delivery"]["completion_time"] == {"amount": 5, "unit": "working_days"}
    assert fetched["management"]["staff_count"] == 3
    assert (await client.get(f"/v1/standards/{sid}")).status_code == 401
    assert (await client.get(f"/v1/standards/{sid}", headers=stranger)).status_code == 403

    paid = full_standard()
    paid["delivery"]["fee"] = {"free": False, "amount_idr": 50_000, "basis": "Perda 3/2024"}
    second = (await client.post("/v1/standards", json=paid, headers=ADMIN)).json()
    assert second["version"] == 2
    assert second["standard_id"] == sid

    listed = (
        await client.get("/v1/standards", params={"agency_id": "dinkes-kota-ambon"}, headers=ADMIN)
    ).json()
    assert [s["standard_id"] for s in listed] == [sid]

    seen = await read_topic(
        bootstrap,
        STANDARD_EVENTS.name,
        until=lambda rs: sum(r.key == sid.encode() for r in rs) >= 2,
    )
    published = [
        StandardPublished.model_validate_json(r.value or b"")
        for r in seen
        if r.type == StandardPublished.event_type()
    ]
    assert [(p.version, p.fee_idr, p.completion_time_days) for p in published] == [
        (1, 0, 5),
        (2, 50_000, 5),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (full_standard(agency_id={"$gt": ""}), "body.agency_id"),
        (full_standard(delivery={"requirements": []}), "body.delivery.requirements"),
        (full_standard(effective_date="kemarin"), "body.effective_date"),
    ],
)
async def test_invalid_standards_are_refused_and_not_stored(
    client: httpx.AsyncClient,
    mongo: AsyncMongoClient[Any],
    settings: StandardsSettings,
    body: dict[str, Any],
    field: str,
) -> None:
    before = await mongo[settings.database_name][STANDARDS].count_documents({})
    response = await client.post("/v1/standards", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await mongo[settings.database_name][STANDARDS].count_documents({}) == before


async def test_lookups_refuse_bad_parameters(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/standards/nope.none", headers=ADMIN)).status_code == 404
    bad = {"agency_id": "$gt"}
    assert (await client.get("/v1/standards", params=bad, headers=ADMIN)).status_code == 422
    huge = {"limit": 100000}
    assert (await client.get("/v1/standards", params=huge, headers=ADMIN)).status_code == 422
    assert (await client.get("/v1/public/standards", params={"q": "("})).status_code == 422


PADANG = bearer(Role.AGENCY_ADMIN, "padang-admin", agency="pemkot-padang")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def test_a_draft_is_published_and_supersedes_the_version_in_force(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    body = full_standard(
        agency_id="pemkot-padang",
        service_name="Izin Mendirikan Bangunan",
        region_code="13.71",
        agency_name="Pemerintah Kota Padang",
    )
    first = (await client.post("/v1/standards", json=body, headers=PADANG)).json()
    sid = first["standard_id"]
    draft = await client.post(
        "/v1/standards?status=draft", json=body | {"pledge": "Baru"}, headers=PADANG
    )
    assert (draft.status_code, draft.json()["status"], draft.json()["version"]) == (201, "draft", 2)
    # The public still sees version 1 while version 2 is a draft.
    public = (await client.get(f"/v1/public/standards/{sid}")).json()
    assert (public["version"], public["pledge"]) == (1, "Kami siap melayani")
    assert "management" not in public  # the eight internal components stay internal

    published = await client.post(f"/v1/standards/{sid}/versions/2/publish", headers=ADMIN)
    assert published.json()["status"] == "published"
    again = await client.post(f"/v1/standards/{sid}/versions/2/publish", headers=ADMIN)
    assert (again.status_code, again.json()["code"]) == (409, "not_a_draft")
    missing = await client.post(f"/v1/standards/{sid}/versions/9/publish", headers=ADMIN)
    assert missing.status_code == 404

    versions = (await client.get(f"/v1/standards/{sid}/versions", headers=PADANG)).json()
    assert [(v["version"], v["status"]) for v in versions] == [(2, "published"), (1, "superseded")]
    assert versions[0]["published_by"] == "national_admin:admin"
    assert versions[1]["superseded_at"] is not None
    assert (await client.get(f"/v1/public/standards/{sid}")).json()["pledge"] == "Baru"

    seen = await read_topic(
        bootstrap,
        STANDARD_EVENTS.name,
        until=lambda rs: any(
            r.key == sid.encode() and r.type == StandardSuperseded.event_type() for r in rs
        ),
    )
    mine = [r.type for r in seen if r.key == sid.encode()]
    # Superseded just before the publication, on the same key: compaction keeps the publication.
    assert mine[-2:] == [StandardSuperseded.event_type(), StandardPublished.event_type()]


async def test_import_is_all_or_nothing_with_every_row_error_named(
    client: httpx.AsyncClient, mongo: AsyncMongoClient[Any], settings: StandardsSettings
) -> None:
    versions = mongo[settings.database_name][VERSIONS]
    before = await versions.count_documents({})
    bad = standards_csv(
        [
            standard_row(),
            standard_row(service_name="Akta", effective_date="kemarin"),
            standard_row(service_name="KIA", staff_count="-3"),
        ]
    )
    refused = await client.post(
        "/v1/standards/import", content=bad, headers=PADANG | {"Content-Type": "text/csv"}
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "import_rejected"
    assert {(e["row"], e["field"]) for e in refused.json()["errors"]} == {
        (3, "effective_date"),
        (4, "staff_count"),
    }
    assert await versions.count_documents({}) == before  # nothing half-imported

    others = standards_csv([standard_row(agency_id="pemkot-ambon", region_code="81.71")])
    not_yours = await client.post(
        "/v1/standards/import", content=others, headers=PADANG | {"Content-Type": "text/csv"}
    )
    assert (not_yours.status_code, not_yours.json()["errors"][0]["field"]) == (422, "agency_id")
    wrong = await client.post(
        "/v1/standards/import", content=b"{}", headers=PADANG | {"Content-Type": "application/json"}
    )
    assert wrong.status_code == 415

    many = [standard_row(service_name=f"Layanan Kependudukan {n:03d}") for n in range(300)]
    imported = await client.post(
        "/v1/standards/import", content=xlsx_bytes(many), headers=PADANG | {"Content-Type": XLSX}
    )
    assert imported.status_code == 201, imported.text
    report = imported.json()
    assert (report["imported"], report["status"]) == (300, "draft")
    assert await versions.count_documents({}) == before + 300
    # Drafts are not public until published.
    found = (await client.get("/v1/public/standards", params={"q": "Layanan Kependudukan"})).json()
    assert found == []


async def test_scores_zones_and_public_search(client: httpx.AsyncClient) -> None:
    sloppy = full_standard(
        agency_id="dinas-pupr-kota-ambon",
        agency_name="Dinas PUPR Kota Ambon",
        region_code="81.71",
        service_name="Rekomendasi Teknis Jalan",
        pledge="-",
    )
    sloppy["management"] |= {
        "staff_competence": "-",
        "internal_supervision": "-",
        "service_guarantee": "-",
        "security_guarantee": "-",
        "performance_evaluation": "-",
    }
    sloppy["delivery"] |= {"complaint_handling": "-"}
    await client.post("/v1/standards", json=sloppy, headers=ADMIN)
    pupr = bearer(Role.AGENCY_ADMIN, "pupr", agency="dinas-pupr-kota-ambon")
    [scored] = (await client.get("/v1/compliance/standards", headers=pupr)).json()
    assert (scored["zone"], scored["score"]) == ("red", 56.2)
    assert "maklumat pelayanan" in scored["missing"]
    overview = (await client.get("/v1/compliance/agencies")).json()
    agencies = {a["agency_id"]: a for a in overview["agencies"]}
    assert agencies["dinas-pupr-kota-ambon"]["zone"] == "red"
    assert overview["thresholds"] == {"green": 90, "yellow": 60}

    by_region = (await client.get("/v1/public/standards", params={"region_code": "81.71"})).json()
    assert "dinas-pupr-kota-ambon.rekomendasi-teknis-jalan" in {s["standard_id"] for s in by_region}
    assert all(s["region_code"].startswith("81.71") for s in by_region)
    by_word = (await client.get("/v1/public/standards", params={"q": "pupr"})).json()
    assert [s["agency_id"] for s in by_word] == ["dinas-pupr-kota-ambon"]
    assert (await client.get("/v1/public/standards", params={"region_code": "13"})).json() == [
        s
        for s in (
            await client.get("/v1/public/standards", params={"agency_id": "pemkot-padang"})
        ).json()
    ]


async def test_complaints_and_violations_count_against_their_standard(
    client: httpx.AsyncClient, bootstrap: str
) -> None:
    sid = "dinkes-kota-ambon.penerbitan-surat-izin-praktik-bidan"
    complaints = [factories.submitted(service_standard_id=sid) for _ in range(3)]
    checked = factories.standard_checked(
        complaints[0].complaint_id, standard_id=sid, violations=["fee"]
    )
    events = [as_event(c) for c in complaints] + [as_event(checked)]
    await publish(bootstrap, COMPLAINT_EVENTS.name, events + events[:1])  # one redelivered

    async def counted() -> dict[str, Any] | None:
        scores = (await client.get("/v1/compliance/standards", headers=AGENCY)).json()
        mine = next(s for s in scores if s["standard_id"] == sid)
        return mine if mine["complaints"] == 3 and mine["violations"] else None

    mine = await eventually(counted, timeout=30)
    assert mine["violations"] == {"fee": 1}


async def test_compliance_gauges_are_exported(client: httpx.AsyncClient) -> None:
    pupr = 'lapor_standards_agency_score_ratio{agency="dinas-pupr-kota-ambon"} 0.562'

    async def exported() -> str | None:
        text = (await client.get("/metrics")).text
        return text if pupr in text else None

    metrics = await eventually(exported, timeout=10)
    red = next(
        line
        for line in metrics.splitlines()
        if line.startswith('lapor_standards_in_force{zone="red"}')
    )
    assert float(red.split()[-1]) >= 1


async def test_feedback_rebuilt_from_the_stream_equals_the_live_counts(
    client: httpx.AsyncClient,
    bootstrap: str,
    mongo: AsyncMongoClient[Any],
    settings: StandardsSettings,
) -> None:
    db = mongo[settings.database_name]
    more = factories.submitted(service_standard_id="pemkot-padang.izin-mendirikan-bangunan")
    await publish(bootstrap, COMPLAINT_EVENTS.name, [as_event(more), as_event(more)])
    into = f"{settings.database_name}_rebuilt"

    async def caught_up() -> RebuildReport | None:
        report = await rebuild("standards", into=into, live=settings)
        return report if report.equal and report.collections[FEEDBACK].live else None

    await eventually(caught_up, timeout=30)
    counted = await db[FEEDBACK].find_one({"_id": "pemkot-padang.izin-mendirikan-bangunan"})
    assert counted is not None and counted["complaints"] >= 1
    # After a loss (the service stopped), the rebuilt counts replace the live ones.
    await db[FEEDBACK].delete_many({})
    report = await rebuild("standards", into=into, live=settings, replace=True)
    assert report.collections[FEEDBACK].live == 0
    restored = await db[FEEDBACK].find({}).to_list(None)
    assert len(restored) == report.collections[FEEDBACK].rebuilt
    assert await db[FEEDBACK].find_one({"_id": counted["_id"]}) == counted
    # The operator's command says the same, as JSON, exit status 0.
    command = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kernel.admin",
        "rebuild",
        "standards",
        env=infra.child_env(
            KAFKA_BOOTSTRAP_SERVERS=bootstrap,
            MONGO_URL=settings.mongo_url,
            MONGO_DATABASE=settings.database_name,
            LOG_LEVEL="WARNING",
        ),
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await command.communicate()
    assert command.returncode == 0
    printed = json.loads(output)
    assert printed["equal"] is True
    assert printed["collections"][FEEDBACK]["live"] == len(restored)
