"""Integration clients on the real broker and database: an agency's app files reports with its
own API key, within its own rate limit, and every report it filed is on record.

A module of its own: the test needs the only intake instance of the consumer group, so that
every agency the directory announces reaches its database."""

from typing import Any

import httpx

from schemas.complaint import Role
from schemas.events import ComplaintSubmitted
from schemas.topics import COMPLAINT_EVENTS
from services.intake.app import create_app
from tests.conftest import service_env
from tests.integration.test_intake import VALID, limited
from tests.support import announce_agencies, read_topic, running
from tests.support import bearer as support_bearer


async def test_an_agency_app_files_with_its_own_key_limit_and_audit(
    bootstrap: str, mongo_url: str, db_suffix: str
) -> None:
    settings = limited(service_env(bootstrap, mongo_url, f"it_intake_clients_{db_suffix}"), 1)
    ambon = support_bearer(Role.AGENCY_ADMIN, "kominfo", agency="pemkot-ambon", settings=settings)
    padang = support_bearer(Role.AGENCY_ADMIN, "x", agency="pemkot-padang", settings=settings)
    admin = support_bearer(Role.NATIONAL_ADMIN, "a", settings=settings)
    async with running(create_app(settings)) as client:
        await announce_agencies(bootstrap, mongo_url, settings.database_name)

        async def register(who: dict[str, str], **body: Any) -> httpx.Response:
            fields = {"agency_id": "pemkot-ambon", "name": "Ambon Manise app", **body}
            return await client.post("/v1/integration-clients", json=fields, headers=who)

        assert (await register(padang, client_id="ambon-app")).status_code == 403
        unknown = await register(admin, client_id="x-app", agency_id="dinas-fiktif")
        assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_agency")
        made = await register(ambon, client_id="ambon-app", per_minute=1, burst=4)
        assert made.status_code == 201, made.text
        key = made.json()["api_key"]
        assert (await register(ambon, client_id="ambon-app")).status_code == 409
        listed = (await client.get("/v1/integration-clients", headers=ambon)).json()
        assert [c["client_id"] for c in listed] == ["ambon-app"]
        assert "api_key" not in listed[0] and "key_sha256" not in listed[0]

        # Anonymous callers from this address have used their three requests ...
        for _ in range(3):
            await client.get("/v1/public/complaints")
        assert (await client.get("/v1/public/complaints")).status_code == 429
        # ... the app is not one of them: it has four of its own, then 429 for it alone.
        app = {"X-API-Key": key}
        filed = [await client.post("/v1/complaints", json=VALID, headers=app) for _ in range(5)]
        assert [r.status_code for r in filed] == [201, 201, 201, 201, 429]
        assert filed[-1].json()["code"] == "rate_limited"
        assert int(filed[-1].headers["Retry-After"]) >= 1

        # Open311 clients keyed the same way have their own limit too.
        made = await register(admin, client_id="ambon-311", burst=2)
        form = {
            "api_key": made.json()["api_key"],
            "service_code": "infrastruktur.jalan",
            "attribute[region_code]": "81.71",
            "lat": "-3.6954",
            "long": "128.1814",
            "description": "Lubang besar di Jalan Pattimura",
            "email": "warga@example.id",
        }
        posted = [
            (await client.post("/open311/v2/requests.json", data=form)).status_code
            for _ in range(3)
        ]
        assert posted == [201, 201, 429]

        audit = await client.get("/v1/integration-clients/ambon-app/submissions", headers=ambon)
        assert {s["tracking_id"] for s in audit.json()} == {
            r.json()["tracking_id"] for r in filed[:4]
        }
        forbidden = "/v1/integration-clients/ambon-app/submissions"
        assert (await client.get(forbidden, headers=padang)).status_code == 403

        wrong = await client.post("/v1/complaints", json=VALID, headers={"X-API-Key": key + "x"})
        assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_api_key")
        officials = await client.post("/v1/complaints", json=VALID, headers=ambon)
        assert officials.status_code == 403 and "X-API-Key" in officials.json()["detail"]
        revoked = await client.delete("/v1/integration-clients/ambon-app", headers=ambon)
        assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
        gone = await client.post("/v1/complaints", json=VALID, headers=app)
        assert (gone.status_code, gone.json()["code"]) == (401, "invalid_api_key")

    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: all(
            any(r.key == tid.encode() for r in rs)
            for tid in (x.json()["tracking_id"] for x in filed[:4])
        ),
    )
    wanted = {r.json()["tracking_id"].encode() for r in filed[:4]}
    clients = {
        ComplaintSubmitted.model_validate_json(r.value or b"").integration_client
        for r in seen
        if r.key in wanted and r.type == ComplaintSubmitted.event_type()
    }
    assert clients == {"ambon-app"}
