"""A standard's versions reach routing, SLA and intake, and ``lapor-admin rebuild`` of each finds
the version in force, as live does: the one published last, even when an older draft is
published after a newer version (it supersedes it).

A module of its own: each service must be the only instance of its consumer group, so that
every standard event reaches the database the test reads."""

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from kernel.settings import ServiceSettings
from schemas.complaint import Role
from services.intake.app import create_app as intake_app
from services.intake.catalog import SERVICE_CATALOG
from services.intake.config import IntakeSettings
from services.rebuild import rebuild
from services.routing.app import create_app as routing_app
from services.routing.config import RoutingSettings
from services.routing.store import STANDARD_OWNERS
from services.sla.app import create_app as sla_app
from services.sla.config import SlaSettings
from services.sla.store import STANDARDS as SLA_STANDARDS
from services.standards.app import create_app as standards_app
from services.standards.config import StandardsSettings
from tests.conftest import service_env
from tests.support import bearer, eventually, running
from tests.unit.test_standards_domain import full_standard

DINKES = bearer(Role.AGENCY_ADMIN, "dinkes-admin", agency="dinkes-kota-ambon")


@pytest.fixture(scope="module")
def consumers(bootstrap: str, mongo_url: str) -> dict[str, ServiceSettings]:
    suffix = uuid.uuid4().hex[:8]

    def env(name: str) -> dict[str, Any]:
        return {
            **service_env(bootstrap, mongo_url, f"it_rb_{name}_{suffix}"),
            "outbox_poll_seconds": 0.2,
        }

    return {
        "standards": StandardsSettings(**env("standards")),
        "routing": RoutingSettings(**env("routing")),
        "sla": SlaSettings(**env("sla")),
        "intake": IntakeSettings(**env("intake")),
    }


@pytest.fixture(scope="module")
async def standards(consumers: dict[str, ServiceSettings]) -> AsyncIterator[httpx.AsyncClient]:
    apps: dict[str, Any] = {
        "standards": standards_app,
        "routing": routing_app,
        "sla": sla_app,
        "intake": intake_app,
    }
    async with AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(running(build(consumers[name])))
            for name, build in apps.items()
        }
        yield clients["standards"]


HELD_IN = {"intake": SERVICE_CATALOG, "sla": SLA_STANDARDS, "routing": STANDARD_OWNERS}


async def versions_held(
    mongo: AsyncMongoClient[Any], databases: dict[str, str], sid: str
) -> dict[str, int | None]:
    """The version of the standard each service keeps, in the databases named."""
    found = {}
    for service, database in databases.items():
        doc = await mongo[database][HELD_IN[service]].find_one({"_id": sid})
        found[service] = doc["version"] if doc else None
    return found


async def test_the_version_in_force_is_kept_live_and_rebuilt(
    standards: httpx.AsyncClient,
    consumers: dict[str, ServiceSettings],
    mongo: AsyncMongoClient[Any],
) -> None:
    body = full_standard(service_name=f"Layanan Uji {uuid.uuid4().hex[:6]}")
    first = await standards.post("/v1/standards", json=body, headers=DINKES)
    assert first.status_code == 201, first.text
    sid = first.json()["standard_id"]
    draft = await standards.post(
        "/v1/standards", json=body, params={"status": "draft"}, headers=DINKES
    )
    third = await standards.post("/v1/standards", json=body, headers=DINKES)
    assert (draft.json()["version"], third.json()["version"]) == (2, 3)
    # The older draft is published last: it supersedes version 3 and is the one in force.
    published = await standards.post(f"/v1/standards/{sid}/versions/2/publish", headers=DINKES)
    assert published.status_code == 200, published.text
    in_force = (await standards.get(f"/v1/standards/{sid}", headers=DINKES)).json()["version"]
    assert in_force == 2

    live = {service: consumers[service].database_name for service in HELD_IN}

    async def live_in_force() -> dict[str, int | None] | None:
        held = await versions_held(mongo, live, sid)
        return held if set(held.values()) == {in_force} else None

    await eventually(live_in_force, timeout=45)
    for service in HELD_IN:
        into = f"{live[service]}_rebuilt"
        report = await rebuild(service, into=into, live=consumers[service])
        assert report.equal, (service, report.collections)
        assert await versions_held(mongo, {service: into}, sid) == {service: in_force}
