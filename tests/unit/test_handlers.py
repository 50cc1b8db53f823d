"""Each service's ``handlers.py`` on FastStream's in-memory broker (``TestKafkaBroker``): no Kafka,
no MongoDB. An event of a type a service takes reaches the method its declaration names, already
typed; a type it does not take is left alone; what it cannot read, or refuses, or keeps failing
on, is dead-lettered byte for byte with the ``x-dlq-*`` provenance. The same groups run on the
real broker in ``tests/integration/test_handlers_on_the_broker.py`` (``with_real=True``), and
the kernel's consumer in ``tests/integration/test_kernel.py``."""

import pytest

from kernel.subscriptions import EventGroup, RejectedEvent
from schemas.complaint import ComplaintStatus, LifecycleAction, Role
from schemas.envelope import Event
from schemas.events import ComplaintRouted, ComplaintSubmitted
from schemas.topics import COMPLAINT_EVENTS
from services.routing import handlers as routing
from services.routing.service import RoutingService, load_directory
from tests import factories
from tests.handler_cases import (
    EXPECTED,
    SAMPLES,
    InMemoryRoutingStore,
    InMemoryUnitOfWork,
    Recorder,
    deliver,
    on_test_broker,
    service_groups,
)
from tests.support import as_event


@pytest.mark.parametrize("index", range(5))
async def test_each_complaint_event_reaches_the_declared_handler_typed(index: int) -> None:
    service, group, recorders = service_groups()[index]
    expected = EXPECTED[service]
    async with on_test_broker(group) as (broker, letters):
        for sample in SAMPLES.values():
            await deliver(broker, COMPLAINT_EVENTS.name, as_event(sample()))
    calls = [call for recorder in recorders.values() for call in recorder.calls]
    got = {type(event.data): method for method, event in calls}
    assert got == {kind: expected[kind] for kind in expected}
    assert all(isinstance(event, Event) for _, event in calls)
    assert letters == []  # types a group does not take are left alone, not dead-lettered


async def test_what_a_group_cannot_read_is_dead_lettered_with_its_bytes_and_provenance() -> None:
    recorder = Recorder()
    group = routing.subscriptions(recorder)  # type: ignore[arg-type]
    good = as_event(factories.submitted())
    async with on_test_broker(group) as (broker, letters):
        await broker.publish(
            b"{not json",
            COMPLAINT_EVENTS.name,
            key=b"LAP-BROKEN",
            headers={
                "ce_specversion": "1.0",
                "ce_id": "poison-1",
                "ce_source": "/elsewhere",
                "ce_type": ComplaintSubmitted.event_type(),
                "ce_time": "2026-12-02T08:00:00Z",
                "ce_subject": "LAP-BROKEN",
            },
        )
        await broker.publish(b"{}", COMPLAINT_EVENTS.name, key=b"x", headers={"a": "b"})
        await deliver(broker, COMPLAINT_EVENTS.name, good)
    [poison, typeless] = letters
    assert poison.topic == "lapor.dlq.routing"
    assert (poison.key, poison.value) == (b"LAP-BROKEN", b"{not json")
    assert poison.header["ce_id"] == "poison-1"
    assert poison.header["x-dlq-reason"].startswith("payload does not match")
    assert poison.header["x-dlq-consumer-group"] == "routing"
    assert poison.header["x-dlq-original-topic"] == COMPLAINT_EVENTS.name
    assert {"x-dlq-original-partition", "x-dlq-original-offset", "x-dlq-failed-at"} <= set(
        poison.header
    )
    assert typeless.header["x-dlq-reason"] == "missing ce_type header"
    assert [event.id for _, event in recorder.calls] == [good.id]  # the consumer went on


async def test_a_refused_event_and_a_handler_that_keeps_failing_are_dead_lettered() -> None:
    attempts: list[str] = []

    async def refuse(event: Event[ComplaintRouted]) -> None:
        raise RejectedEvent("no such complaint here")

    async def broken(event: Event[ComplaintSubmitted]) -> None:
        attempts.append(event.id)
        raise RuntimeError("bug")

    group = EventGroup("unit", topics=[COMPLAINT_EVENTS], description="unit")
    group.on(ComplaintRouted, refuse)
    group.on(ComplaintSubmitted, broken)
    failing = as_event(factories.submitted())
    async with on_test_broker(group, handler_max_attempts=3) as (broker, letters):
        await deliver(broker, COMPLAINT_EVENTS.name, as_event(factories.routed()))
        await deliver(broker, COMPLAINT_EVENTS.name, failing)
    refused, gave_up = letters
    assert refused.header["x-dlq-reason"] == "rejected: no such complaint here"
    assert attempts == [failing.id] * 3
    assert gave_up.header["x-dlq-reason"].startswith("handler failed 3 times: RuntimeError")


def test_a_group_refuses_two_handlers_for_one_type_and_a_run_without_single_handlers() -> None:
    group = EventGroup("unit", topics=[COMPLAINT_EVENTS], description="unit")
    recorder = Recorder()
    group.on(ComplaintSubmitted, recorder.on_submitted)
    with pytest.raises(ValueError, match="already handles"):
        group.on(ComplaintSubmitted, recorder.on_other)
    with pytest.raises(ValueError, match="no single handler"):
        group.together([ComplaintRouted], recorder.on_runs)


async def test_routing_decides_and_decides_again_on_a_bounce_without_broker_or_database() -> None:
    """Routing's real service behind its declared handlers, with its store in memory: a road
    complaint in Ambon goes to the city's public-works office by its rule; when that office says
    bukan wewenang, it is routed again, to someone else, the office excluded."""
    store = InMemoryRoutingStore(load_directory(""))
    uow = InMemoryUnitOfWork()
    service = RoutingService(store=store, uow=uow)  # type: ignore[arg-type]
    submitted = factories.submitted()
    async with on_test_broker(routing.subscriptions(service)) as (broker, letters):
        await deliver(broker, COMPLAINT_EVENTS.name, as_event(submitted))
        [first] = [e.data for e in uow.published if isinstance(e.data, ComplaintRouted)]
        assert (first.agency_id, first.rule_id) == ("dinas-pupr-kota-ambon", "jalan-ambon")
        bounce = factories.status_changed(
            submitted.complaint_id,
            action=LifecycleAction.BOUNCE,
            from_status=ComplaintStatus.FORWARDED_TO_AGENCY,
            to_status=ComplaintStatus.BOUNCED,
            actor_role=Role.AGENCY_ADMIN,
            agency_id="dinas-pupr-kota-ambon",
            reason="bukan wewenang kami",
        )
        await deliver(broker, COMPLAINT_EVENTS.name, as_event(bounce))
    routed = [e.data for e in uow.published if isinstance(e.data, ComplaintRouted)]
    assert len(routed) == 2
    assert routed[1].agency_id != "dinas-pupr-kota-ambon"
    assert store.decisions[submitted.complaint_id]["excluded"] == ["dinas-pupr-kota-ambon"]
    assert letters == []
