"""``lapor-admin migrate``: every service's indexes, in each service's own database."""

from typing import Any

from pymongo import AsyncMongoClient

from kernel.settings import ServiceSettings
from services.migrate import migrate


async def test_migrate_creates_each_services_indexes_idempotently(
    mongo_url: str, mongo: AsyncMongoClient[Any]
) -> None:
    settings = ServiceSettings(service_name="admin", mongo_url=mongo_url)
    done = await migrate(settings)
    assert done == ["lapor_intake", "lapor_routing", "lapor_sla", "lapor_notify", "lapor_standards"]
    assert await migrate(settings) == done  # a second run changes nothing and does not fail
    notify = await mongo["lapor_notify"]["messages"].index_information()
    assert any(info["key"][0][0] == "channel" for info in notify.values())
    processed = await mongo["lapor_routing"]["processed_events"].index_information()
    assert any("expireAfterSeconds" in info for info in processed.values())
    clocks = await mongo["lapor_sla"]["clocks"].index_information()
    assert len(clocks) > 2
