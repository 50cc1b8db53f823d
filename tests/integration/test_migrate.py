"""``lapor-admin migrate``: every service's indexes, in each service's own database."""

from typing import Any

from pymongo import AsyncMongoClient

from kernel.outbox import OUTBOX_COLLECTION
from kernel.settings import ServiceSettings
from services.intake.store import COMPLAINTS, UNUSED_REGION_INDEX
from services.migrate import migrate
from services.notify.store import MESSAGES, UNUSED_LOG_INDEX


async def test_migrate_creates_each_services_indexes_idempotently(
    mongo_url: str, mongo: AsyncMongoClient[Any]
) -> None:
    settings = ServiceSettings(service_name="admin", mongo_url=mongo_url)
    done = await migrate(settings)
    assert done == ["lapor_intake", "lapor_routing", "lapor_sla", "lapor_notify", "lapor_standards"]
    assert await migrate(settings) == done  # a second run changes nothing and does not fail
    notify = await mongo["lapor_notify"]["messages"].index_information()
    assert any(info["key"][0][0] == "complaint_id" for info in notify.values())
    processed = await mongo["lapor_routing"]["processed_events"].index_information()
    assert any("expireAfterSeconds" in info for info in processed.values())
    clocks = await mongo["lapor_sla"]["clocks"].index_information()
    assert len(clocks) > 2


async def test_migrate_drops_the_indexes_no_query_uses(
    mongo_url: str, mongo: AsyncMongoClient[Any]
) -> None:
    complaints = mongo["lapor_intake"][COMPLAINTS]
    messages = mongo["lapor_notify"][MESSAGES]
    # What a deployment of an earlier version has.
    await complaints.create_index([("region_code", 1), ("submitted_at", -1)])
    await messages.create_index([("channel", 1), ("status", 1), ("next_attempt_at", 1)])
    await migrate(ServiceSettings(service_name="admin", mongo_url=mongo_url))
    kept = set(await complaints.index_information())
    assert UNUSED_REGION_INDEX not in kept
    assert "regency_1_category_group_1_submitted_at_-1" in kept  # the duplicate check's
    assert UNUSED_LOG_INDEX not in set(await messages.index_information())


async def test_the_outbox_keeps_no_index_but_its_id(
    mongo_url: str, mongo: AsyncMongoClient[Any]
) -> None:
    outbox = mongo["lapor_sla"][OUTBOX_COLLECTION]
    await outbox.create_index([("created_at", 1)])  # as earlier versions made it
    await migrate(ServiceSettings(service_name="admin", mongo_url=mongo_url))
    assert set(await outbox.index_information()) == {"_id_"}


async def test_a_pods_init_container_migrates_its_own_service_only(
    mongo_url: str, mongo: AsyncMongoClient[Any]
) -> None:
    """Each pod builds its own service's indexes before it serves (``--service``), and touches
    no other service's database."""
    settings = ServiceSettings(
        service_name="admin", mongo_url=mongo_url, mongo_database="one_{service}"
    )
    assert await migrate(settings, only=["sla"]) == ["one_sla"]
    assert len(await mongo["one_sla"]["clocks"].index_information()) > 2
    assert "one_intake" not in await mongo.list_database_names()
