"""Two routing instances in one consumer group share the partitions; every complaint is routed
exactly once, also when one of them leaves."""

import pytest
from fastapi import FastAPI

from schemas.envelope import Event
from schemas.events import ComplaintRouted
from schemas.topics import COMPLAINT_EVENTS
from services.routing.app import create_app
from services.routing.config import RoutingSettings
from tests import factories
from tests.conftest import service_env
from tests.support import (
    as_event,
    eventually,
    key_on_partition,
    payloads,
    publish,
    read_topic,
    running,
    subjects,
)

PARTITIONS = COMPLAINT_EVENTS.partitions


@pytest.fixture
def settings(bootstrap: str, mongo_url: str, db_suffix: str) -> RoutingSettings:
    return RoutingSettings(
        **service_env(bootstrap, mongo_url, f"it_routing_scale_{db_suffix}"),  # type: ignore[arg-type]
        outbox_poll_seconds=0.2,
    )


def held(app: FastAPI) -> frozenset[int]:
    partitions: frozenset[int] = app.state.consumer.partitions
    return partitions


def one_per_partition(round_: int) -> list[Event]:
    return [
        as_event(
            factories.submitted(
                key_on_partition(p, PARTITIONS), category="pendidikan", region_code="13"
            )
        )
        for p in range(PARTITIONS)
        for _ in range(round_)
    ]


async def routed_once(bootstrap: str, events: list[Event]) -> None:
    wanted = {event.subject for event in events}
    seen = await read_topic(
        bootstrap,
        COMPLAINT_EVENTS.name,
        until=lambda rs: wanted <= subjects(rs, ComplaintRouted),
        timeout=60,
    )
    for event in events:
        assert len(payloads(seen, event.subject, ComplaintRouted)) == 1, event.subject


async def test_two_instances_share_the_partitions_and_route_each_complaint_once(
    settings: RoutingSettings, bootstrap: str
) -> None:
    first, second = create_app(settings), create_app(settings)
    async with running(second):
        async with running(first):

            async def shared() -> bool:
                a, b = held(first), held(second)
                return bool(a and b and not a & b and len(a | b) == PARTITIONS)

            await eventually(shared, timeout=60)
            wave = one_per_partition(2)  # so both instances have work
            await publish(bootstrap, COMPLAINT_EVENTS.name, wave)
            await routed_once(bootstrap, wave)

        # The first instance leaves (a deploy, a crash): the second takes every partition over.
        async def alone() -> bool:
            return len(held(second)) == PARTITIONS

        await eventually(alone, timeout=60)
        later = one_per_partition(1)
        await publish(bootstrap, COMPLAINT_EVENTS.name, later)
        await routed_once(bootstrap, wave + later)
