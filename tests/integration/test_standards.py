"""Standards registry on the real broker and database: publish, version, read, refuse."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from schemas.complaint import Role
from schemas.events import StandardPublished
from schemas.topics import STANDARD_EVENTS
from services.standards.app import create_app
from services.standards.config import StandardsSettings
from services.standards.store import STANDARDS
from tests.conftest import service_env
from tests.support import bearer, read_topic, running
from tests.unit.test_standards_domain import full_standard

AGENCY = bearer(Role.AGENCY_ADMIN, "dinkes-admin", agency="dinkes-kota-ambon")
ADMIN = bearer(Role.NATIONAL_ADMIN, "admin")


@pytest.fixture(scope="module")
def settings(bootstrap: str, mongo_url: str, db_suffix: str) -> StandardsSettings:
    return StandardsSettings(
        **service_env(bootstrap, mongo_url, f"it_standards_{db_suffix}"),  # type: ignore[arg-type]
        outbox_poll_seconds=0.2,
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
    standard = first.json()
    sid = standard["standard_id"]
    assert sid == "dinkes-kota-ambon.penerbitan-surat-izin-praktik-bidan"
    assert standard["version"] == 1
    assert standard["delivery"]["completion_time"] == {"amount": 5, "unit": "working_days"}
    assert standard["management"]["staff_count"] == 3

    fetched = (await client.get(f"/v1/standards/{sid}")).json()
    assert fetched == standard

    paid = full_standard()
    paid["delivery"]["fee"] = {"free": False, "amount_idr": 50_000, "basis": "Perda 3/2024"}
    second = (await client.post("/v1/standards", json=paid, headers=ADMIN)).json()
    assert second["version"] == 2
    assert second["standard_id"] == sid

    listed = (await client.get("/v1/standards", params={"agency_id": "dinkes-kota-ambon"})).json()
    assert [s["standard_id"] for s in listed] == [sid]

    seen = await read_topic(
        bootstrap,
        STANDARD_EVENTS.name,
        until=lambda rs: sum(r.key == sid.encode() for r in rs) >= 2,
    )
    published = [StandardPublished.model_validate_json(r.value or b"") for r in seen]
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
    assert (await client.get("/v1/standards/nope.none")).status_code == 404
    assert (await client.get("/v1/standards", params={"agency_id": "$gt"})).status_code == 422
    assert (await client.get("/v1/standards", params={"limit": 100000})).status_code == 422
