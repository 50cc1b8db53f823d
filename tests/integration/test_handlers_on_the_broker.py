"""The handler tests of ``tests/unit/test_handlers.py`` again, on the real broker: FastStream's
``TestKafkaBroker(with_real=True)`` publishes to Tansu and the five services' declared consumer
groups read from it, each event reaching the method its declaration names."""

import asyncio

from schemas.envelope import Event
from schemas.topics import COMPLAINT_EVENTS
from tests.handler_cases import (
    EXPECTED,
    SAMPLES,
    Recorder,
    deliver,
    on_test_broker,
    service_groups,
)
from tests.support import as_event, eventually


async def test_every_service_group_takes_its_events_from_the_real_broker(bootstrap: str) -> None:
    cases = service_groups()
    events = [as_event(sample()) for sample in SAMPLES.values()]
    mine = {event.id for event in events}

    def received(recorders: dict[str, Recorder]) -> dict[type, str]:
        calls = [call for r in recorders.values() for call in r.calls]
        return {type(e.data): method for method, e in calls if e.id in mine}

    async def all_in() -> bool:
        await asyncio.sleep(0)
        return all(received(recorders) == EXPECTED[service] for service, _, recorders in cases)

    async with on_test_broker(*(group for _, group, _ in cases), bootstrap=bootstrap) as (
        broker,
        letters,
    ):
        for event in events:
            await deliver(broker, COMPLAINT_EVENTS.name, event)
        await eventually(all_in, timeout=60)
    for _, _, recorders in cases:
        for recorder in recorders.values():
            assert all(isinstance(e, Event) for _, e in recorder.calls)
    assert letters == []
