"""Open311 GeoReport v2 on intake, read by the independent ``georeport`` client over real HTTP."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from georeport import GeoReport

from kernel.auth import issue_token
from schemas.complaint import Role
from schemas.events import StandardPublished
from schemas.topics import STANDARD_EVENTS
from services.intake.app import create_app
from services.intake.config import IntakeSettings
from tests.conftest import service_env
from tests.support import announce_agencies, as_event, eventually, publish, serving

API_KEY = "open311-client-key"
STANDARD_ID = "disdukcapil-kota-ambon.penerbitan-ktp-el"


@pytest.fixture(scope="module")
def settings(bootstrap: str, mongo_url: str, db_suffix: str) -> IntakeSettings:
    return IntakeSettings(
        **service_env(bootstrap, mongo_url, f"it_open311_{db_suffix}"),  # type: ignore[arg-type]
        intake_open311_api_keys=[API_KEY],
        outbox_poll_seconds=0.2,
    )


@pytest.fixture(scope="module")
async def base_url(settings: IntakeSettings, bootstrap: str, mongo_url: str) -> AsyncIterator[str]:
    async with serving(create_app(settings)) as url:
        await announce_agencies(bootstrap, mongo_url, settings.database_name)
        yield f"{url}/open311/v2"


@pytest.fixture(scope="module")
def admin(settings: IntakeSettings) -> dict[str, str]:
    return {
        "Authorization": "Bearer " + issue_token(settings, role=Role.NATIONAL_ADMIN, subject="a")
    }


def form(**changes: str | None) -> dict[str, str]:
    body: dict[str, str | None] = {
        "api_key": API_KEY,
        "service_code": "infrastruktur.jalan",
        "lat": "-3.6954",
        "long": "128.1814",
        "attribute[region_code]": "81.71",
        "description": "Lubang besar di Jalan Pattimura depan Pasar Mardika",
        "first_name": "Siti",
        "last_name": "Rahma",
        "email": "siti@example.id",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


async def post(base_url: str, body: dict[str, str], fmt: str = "json") -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.post(f"{base_url}/requests.{fmt}", data=body)


async def forward(base_url: str, request_id: str, admin: dict[str, str]) -> None:
    root = base_url.removesuffix("/open311/v2")
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{root}/v1/complaints/{request_id}/actions",
            json={
                "action": "forward",
                "agency_id": "pemkot-ambon",
                "needs_examination": False,
            },
            headers=admin,
        )
        assert response.status_code == 200, response.text


async def test_services_come_from_categories_and_published_standards(
    base_url: str, bootstrap: str
) -> None:
    standard = StandardPublished(
        standard_id=STANDARD_ID,
        agency_id="disdukcapil-kota-ambon",
        service_name="Penerbitan KTP-el",
        version=1,
        completion_time_days=1,
        fee_idr=0,
        published_at=datetime.now(UTC),
    )
    await publish(bootstrap, STANDARD_EVENTS.name, [as_event(standard)])
    client = GeoReport(base_url)

    async def listed() -> list[dict[str, Any]] | None:
        services: list[dict[str, Any]] = await asyncio.to_thread(client.get_service_list)
        return services if any(s["service_code"] == STANDARD_ID for s in services) else None

    services = await eventually(listed, timeout=30)
    codes = {s["service_code"] for s in services}
    assert {"infrastruktur.jalan", "kesehatan.puskesmas", STANDARD_ID} <= codes
    assert all(s["metadata"] is True for s in services)

    definition = await asyncio.to_thread(client.get_service_definition, "infrastruktur.jalan")
    region = next(a for a in definition["attributes"] if a["code"] == "region_code")
    assert region["required"] is False  # resolved from lat/long when left out
    xml_client = GeoReport(base_url, output_format="xml")
    xml_services = await asyncio.to_thread(xml_client.get_service_list)
    assert "infrastruktur.jalan" in {s["service_code"] for s in xml_services}


async def test_post_then_read_back_in_json_and_xml(base_url: str, admin: dict[str, str]) -> None:
    created = await post(base_url, form())
    assert created.status_code == 201
    [receipt] = created.json()
    request_id = receipt["service_request_id"]
    await forward(base_url, request_id, admin)

    client = GeoReport(base_url)
    one = await asyncio.to_thread(client.get_service_request, request_id)
    assert (one["status"], one["service_code"], one["agency_responsible"]) == (
        "open",
        "infrastruktur.jalan",
        "Pemerintah Kota Ambon",
    )
    assert (one["lat"], one["long"]) == (-3.6954, 128.1814)
    assert "Siti" not in str(one)
    assert "siti@example.id" not in str(one)

    open_ones = await asyncio.to_thread(client.get_service_requests, status="open")
    assert request_id in {r["service_request_id"] for r in open_ones}
    by_code = await asyncio.to_thread(
        client.get_service_requests, service_code="kesehatan.puskesmas"
    )
    assert request_id not in {r["service_request_id"] for r in by_code}
    closed = await asyncio.to_thread(client.get_service_requests, status="closed")
    assert request_id not in {r["service_request_id"] for r in closed}

    xml = await asyncio.to_thread(
        GeoReport(base_url, output_format="xml").get_service_request, request_id
    )
    assert xml["service_request_id"] == request_id
    assert xml["status"] == "open"

    async with httpx.AsyncClient() as http:
        token = (await http.get(f"{base_url}/tokens/{request_id}.json")).json()
        assert token == [{"service_request_id": request_id, "token": request_id}]
        updates = (await http.get(f"{base_url}/servicerequestupdates.json")).json()
        mine = [u for u in updates if u["service_request_id"] == request_id]
        assert [u["status"] for u in mine] == ["OPEN"]
        discovery = await http.get(f"{base_url}/discovery.xml")
        assert discovery.headers["content-type"].startswith("text/xml")
        assert (
            b"<specification>http://wiki.open311.org/GeoReport_v2</specification>"
            in discovery.content
        )


async def test_a_request_for_a_published_standard_is_linked_to_it(
    base_url: str, admin: dict[str, str], settings: IntakeSettings
) -> None:
    citizen = {
        "Authorization": "Bearer " + issue_token(settings, role=Role.CITIZEN, subject="warga")
    }
    created = await post(
        base_url,
        form(
            service_code=STANDARD_ID, description="Pembuatan KTP-el sudah tiga bulan belum selesai"
        ),
    )
    assert created.status_code == 201, created.text
    request_id = created.json()[0]["service_request_id"]
    await forward(base_url, request_id, admin)
    one = await asyncio.to_thread(GeoReport(base_url).get_service_request, request_id)
    assert (one["service_code"], one["service_name"]) == (STANDARD_ID, "Penerbitan KTP-el")

    # A complaint filed through the API about a road that names the standard too: its code is
    # the standard's. A filter returns exactly the requests whose service_code it names.
    async with httpx.AsyncClient() as http:
        filed = await http.post(
            base_url.removesuffix("/open311/v2") + "/v1/complaints",
            json={
                "title": "Jalan rusak dan KTP lambat",
                "body": "Jalan ke kantor Disdukcapil rusak, KTP-el tiga bulan belum jadi",
                "category": "infrastruktur.jalan",
                "region_code": "81.71",
                "report_type": "pengaduan",
                "service_standard_id": STANDARD_ID,
                "reporter": {"email": "siti@example.id"},
            },
            headers=citizen,
        )
    assert filed.status_code == 201, filed.text
    both = filed.json()["tracking_id"]
    await forward(base_url, both, admin)
    plain = (await post(base_url, form())).json()[0]["service_request_id"]
    await forward(base_url, plain, admin)
    for fmt in ("json", "xml"):
        client = GeoReport(base_url, output_format=fmt)
        for code in (STANDARD_ID, "infrastruktur.jalan", f"{STANDARD_ID},infrastruktur.jalan"):
            found = await asyncio.to_thread(client.get_service_requests, service_code=code)
            assert {r["service_code"] for r in found} <= set(code.split(",")), (fmt, code)
            ids = {r["service_request_id"] for r in found}
            assert (request_id in ids, both in ids, plain in ids) == (
                STANDARD_ID in code,
                STANDARD_ID in code,
                "infrastruktur.jalan" in code,
            ), (fmt, code)


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (form(api_key=None), 403, "api_key"),
        (form(api_key="guess"), 403, "api_key"),
        (form(service_code="teleportasi"), 400, "unknown service_code"),
        (form(service_code=None), 400, "service_code is required"),
        (form(lat=None, long=None), 400, "location is required"),
        (form(lat="north"), 400, "decimal degrees"),
        (form(**{"attribute[region_code]": "99"}), 400, "region_code"),
        (form(**{"attribute[region_code]": "81.99"}), 400, "region_code"),
        (
            form(
                lat=None,
                long=None,
                address_string="Jl. Pattimura",
                **{"attribute[region_code]": None},
            ),
            400,
            "region_code",
        ),
        (form(**{"attribute[report_type]": "gugatan"}), 400, "report_type"),
        (form(description="x" * 4001), 400, "description"),
        (form(email=None), 400, "reporter"),
        (form(lat="80", long="10"), 400, "location"),
    ],
)
async def test_bad_requests_get_the_spec_error_format(
    base_url: str, body: dict[str, str], status: int, fragment: str
) -> None:
    response = await post(base_url, body)
    assert response.status_code == status
    [error] = response.json()
    assert error["code"] == status
    assert fragment in error["description"]


async def test_a_request_without_region_code_is_placed_by_its_coordinates(
    base_url: str, admin: dict[str, str]
) -> None:
    # A point in Bukittinggi, Sumatera Barat (the seat of Kota Bukittinggi is 13.75).
    created = await post(
        base_url, form(lat="-0.3051", long="100.3692", **{"attribute[region_code]": None})
    )
    assert created.status_code == 201, created.text
    [receipt] = created.json()
    root = base_url.removesuffix("/open311/v2")
    async with httpx.AsyncClient() as http:
        stored = await http.get(
            f"{root}/v1/complaints/{receipt['service_request_id']}", headers=admin
        )
    assert stored.json()["region_code"] == "13.75"


async def test_lookups_refuse_bad_parameters_in_the_spec_format(base_url: str) -> None:
    async with httpx.AsyncClient() as http:
        missing = await http.get(f"{base_url}/requests/LPR-00000-00000.xml")
        assert missing.status_code == 404
        assert b"<errors><error><code>404</code>" in missing.content
        for params in (
            {"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
            {"start_date": "2025-01-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"},
            {"start_date": "yesterday"},
            {"status": "pending"},
            {"service_request_id": "$gt"},
        ):
            response = await http.get(f"{base_url}/requests.json", params=params)
            assert response.status_code == 400, params
            assert response.json()[0]["code"] == 400
        assert (await http.get(f"{base_url}/services.csv")).status_code == 400
        assert (await http.get(f"{base_url}/services/nothing.json")).status_code == 404


async def test_rahasia_requests_never_appear(
    base_url: str, admin: dict[str, str], settings: IntakeSettings
) -> None:
    root = base_url.removesuffix("/open311/v2")
    citizen = {"Authorization": "Bearer " + issue_token(settings, role=Role.CITIZEN, subject="c")}
    async with httpx.AsyncClient() as http:
        secret = await http.post(
            f"{root}/v1/complaints",
            json={
                "title": "Laporan rahasia",
                "body": "Isi laporan yang rahasia sekali",
                "category": "infrastruktur.jalan",
                "region_code": "81.71",
                "report_type": "pengaduan",
                "confidential": True,
                "reporter": {"email": "r@example.id"},
            },
            headers=citizen,
        )
        request_id = secret.json()["tracking_id"]
    await forward(base_url, request_id, admin)
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{base_url}/requests/{request_id}.json")).status_code == 404
        listed = (await http.get(f"{base_url}/requests.json")).json()
        assert request_id not in {r["service_request_id"] for r in listed}
