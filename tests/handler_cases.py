"""Each service's declared consumer group with stand-ins for its service objects, on FastStream's
test broker: shared by the in-memory handler tests and their run on the real broker."""

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from faststream.kafka import KafkaBroker, TestKafkaBroker
from pymongo.errors import DuplicateKeyError

from kernel.consuming import DeadLetters, GroupConsumer
from kernel.kafka import ensure_topics
from kernel.settings import ServiceSettings
from kernel.subscriptions import EventGroup
from schemas.envelope import Event, EventPayload, encode
from schemas.events import (
    ComplaintRouted,
    ComplaintStatusChanged,
    ComplaintSubmitted,
    SlaDeadlineSet,
    StandardChecked,
)
from schemas.topics import PRODUCT_TOPICS
from services.intake import handlers as intake
from services.notify import handlers as notify
from services.routing import handlers as routing
from services.routing.domain import Directory
from services.sla import handlers as sla
from services.standards import handlers as standards
from tests import factories


class Recorder:
    """Stands in for a service object: each ``on_*`` method records what it was handed."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("forget_"):  # told when partitions move: nothing to record
            return lambda: None
        if not name.startswith("on_"):
            raise AttributeError(name)

        async def record(event: Any) -> None:
            self.calls.append((name, event))

        return record


@dataclass
class Letter:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    @property
    def header(self) -> dict[str, str]:
        return {name: value.decode() for name, value in self.headers}


@asynccontextmanager
async def on_test_broker(
    *groups: EventGroup, bootstrap: str | None = None, **settings: Any
) -> AsyncIterator[tuple[KafkaBroker, list[Letter]]]:
    """The groups mounted as a service mounts them, on FastStream's test broker (in memory, or
    with ``bootstrap`` the real one: ``with_real=True``); their dead letters, kept in a list."""
    broker = KafkaBroker(bootstrap or "localhost", allow_auto_create_topics=False)
    letters: list[Letter] = []

    async def keep(topic: str, *, key: Any, value: Any, headers: Any) -> None:
        letters.append(Letter(topic, key, value, list(headers)))

    service = ServiceSettings(
        service_name="handlers", kafka_bootstrap_servers=bootstrap or "localhost", **settings
    )
    for group in groups:
        GroupConsumer(
            group,
            broker=broker,
            settings=service,
            dead_letters=DeadLetters(
                service="handlers",
                group_id=group.group_id,
                topic=group.dead_letter_topic.name,
                send=keep,
            ),
        )
    if bootstrap:
        await ensure_topics(service, PRODUCT_TOPICS)
    async with TestKafkaBroker(broker, with_real=bootstrap is not None) as test_broker:
        yield test_broker, letters


async def deliver(broker: KafkaBroker, topic: str, event: Event) -> None:
    """Put an event on a topic as the outbox relay does (CloudEvents binary mode)."""
    record = encode(event)
    headers = {name: value.decode() for name, value in record.headers}
    await broker.publish(record.value, topic, key=record.key, headers=headers)


SAMPLES: dict[type[EventPayload], Callable[[], EventPayload]] = {
    ComplaintSubmitted: factories.submitted,
    ComplaintRouted: factories.routed,
    SlaDeadlineSet: factories.deadline_set,
    ComplaintStatusChanged: factories.status_changed,
    StandardChecked: factories.standard_checked,
}


def service_groups() -> list[tuple[str, EventGroup, dict[str, Recorder]]]:
    each = {name: Recorder() for name in ("service", "catalog", "directory")}
    return [
        (
            "intake",
            intake.subscriptions(
                each["service"],  # type: ignore[arg-type]
                catalog=each["catalog"],  # type: ignore[arg-type]
                directory=each["directory"],  # type: ignore[arg-type]
            ),
            each,
        ),
        *(
            (name, module.subscriptions(recorder), {"service": recorder})
            for name, module, recorder in (
                ("routing", routing, Recorder()),
                ("sla", sla, Recorder()),
                ("notify", notify, Recorder()),
                ("standards", standards, Recorder()),
            )
        ),
    ]


# What each service's declaration must send where (the complaint-topic types tests can build).
EXPECTED = {
    "intake": {
        ComplaintSubmitted: "on_submitted",
        ComplaintRouted: "on_routed",
        SlaDeadlineSet: "on_deadline_set",
        StandardChecked: "on_standard_checked",
    },
    "routing": {
        ComplaintSubmitted: "on_submitted",
        ComplaintStatusChanged: "on_status_changed",
    },
    "sla": {
        ComplaintSubmitted: "on_submitted",
        ComplaintStatusChanged: "on_status_changed",
    },
    "notify": {
        ComplaintSubmitted: "on_event",
        SlaDeadlineSet: "on_event",
        ComplaintStatusChanged: "on_event",
    },
    "standards": {ComplaintSubmitted: "on_submitted", StandardChecked: "on_standard_checked"},
}


class InMemoryUnitOfWork:
    """The unit of work's contract without a database: an effect runs once per event and the
    events it returns are what would have gone to the outbox."""

    def __init__(self) -> None:
        self.applied: set[str] = set()
        self.published: list[Event] = []

    async def run(self, effect: Callable[[Any], Awaitable[tuple[Any, Sequence[Event]]]]) -> Any:
        result, events = await effect(None)
        self.published.extend(events)
        return result

    async def run_once(self, event: Event, effect: Callable[[Any], Awaitable[Any]]) -> bool:
        if event.id in self.applied:
            return False
        await self.run(effect)
        self.applied.add(event.id)
        return True

    async def run_unless_stored(self, effect: Callable[[Any], Awaitable[Any]]) -> bool:
        try:
            await self.run(effect)
        except DuplicateKeyError:
            return False
        return True

    def session(self) -> None:
        return None

    def after_commit(self, callback: Callable[[], None]) -> None:
        callback()


class InMemoryRoutingStore:
    """Routing's store in a few dicts: the directory in force, decisions, standards' owners."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        self.decisions: dict[str, dict[str, Any]] = {}
        self.owners: dict[str, dict[str, Any]] = {}

    async def directory(self, *, fresh: bool = False) -> Directory:
        return self._directory

    async def record(
        self,
        complaint_id: str,
        decision: Any,
        decided_at: Any,
        *,
        session: Any,
        caused_by: str,
        applied: Sequence[str] = (),
        **kept: Any,
    ) -> None:
        if caused_by in self.decisions.get(complaint_id, {}).get("applied", ()):
            raise DuplicateKeyError("a decision taken for this event is kept")  # as the store
        self.decisions[complaint_id] = {
            "agency_id": decision.agency.agency_id,
            **kept.pop("subject"),
            **kept,
            "applied": [*applied, caused_by],
        }

    async def decision(self, complaint_id: str, *, session: Any = None) -> dict[str, Any] | None:
        return self.decisions.get(complaint_id)

    async def owner(self, standard_id: str, *, session: Any) -> dict[str, Any] | None:
        return self.owners.get(standard_id)

    async def set_owner(self, standard_id: str, agency_id: str, *args: Any, **_: Any) -> None:
        self.owners[standard_id] = {"agency_id": agency_id, "unit_id": args[0] if args else None}

    async def confirm(
        self, complaint_id: str, confirmation: Any, *, caused_by: str, session: Any
    ) -> None:
        self.decisions[complaint_id]["confirmation"] = confirmation
