"""What a consumer group listens to: typed handlers, one per CloudEvents type.

A service says, in its ``handlers.py``, which topics its group reads and which function takes
each type of event (``group.on(ComplaintRouted, service.on_routed)``: the handler receives an
``Event[ComplaintRouted]``, no second dispatch). ``kernel.consuming`` turns the declaration into a
FastStream batch subscriber; ``lapor-admin rebuild`` replays the same declaration from the log.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from aiokafka import ConsumerRecord

from schemas.envelope import Event, EventPayload, InvalidEvent, decode, event_type_of, header_map
from schemas.topics import TopicSpec, dead_letter_topic

P = TypeVar("P", bound=EventPayload)
EventHandler = Callable[[Event[Any]], Awaitable[None]]
# Applies consecutive events together (in one batch, so in one transaction): one write for all
# of them instead of one each. Registered for one or more types; it must have the effect of
# their single handlers applied in turn, which is what a failed batch falls back to.
RunHandler = Callable[[Sequence[Event[Any]]], Awaitable[None]]
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


class RejectedEvent(ValueError):
    """A well-formed event the service cannot accept (the sender's fault): dead-letter it."""


@dataclass(frozen=True)
class Incoming:
    """One record of a batch as the group reads it: an event it handles, a type it ignores
    (``event`` and ``problem`` both None), or a record to dead-letter (``problem``)."""

    record: Record
    event_type: str
    event: Event[EventPayload] | None = None
    problem: str | None = None


class EventGroup:
    """One consumer group of a service: its topics and a handler per event type."""

    def __init__(self, group_id: str, topics: Sequence[TopicSpec], *, description: str) -> None:
        self.group_id = group_id
        self.topics = tuple(topics)
        self.description = description
        self.dead_letter_topic = dead_letter_topic(group_id)
        self._handlers: dict[str, EventHandler] = {}
        self._payloads: dict[str, type[EventPayload]] = {}
        self._runs: dict[str, RunHandler] = {}
        self.on_revoked: list[Callable[[], None]] = []

    def forget_on_revoke(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever this instance loses partitions: what it kept in memory of
        the aggregates on them may be changed by their next owner meanwhile."""
        self.on_revoked.append(callback)

    def on(self, payload: type[P], handler: Callable[[Event[P]], Awaitable[None]]) -> None:
        """``handler`` takes every event of this type, already decoded as ``Event[payload]``."""
        kind = payload.event_type()
        if kind in self._handlers:
            raise ValueError(f"{self.group_id} already handles {kind}")
        self._handlers[kind] = handler
        self._payloads[kind] = payload

    def together(self, payloads: Sequence[type[EventPayload]], run: RunHandler) -> None:
        """Consecutive events of these (already handled) types may be applied by ``run`` in one
        call; a batch that fails falls back to their single handlers."""
        for payload in payloads:
            if payload.event_type() not in self._handlers:
                raise ValueError(f"{payload.__name__} has no single handler in {self.group_id}")
            self._runs[payload.event_type()] = run

    @property
    def handlers(self) -> Mapping[str, EventHandler]:
        """The handler of each CloudEvents type the group takes."""
        return self._handlers

    @property
    def payload_types(self) -> Mapping[str, type[EventPayload]]:
        """The payload model of each CloudEvents type the group takes."""
        return self._payloads

    @property
    def run_handlers(self) -> Mapping[str, RunHandler]:
        """The run handler of each type that has one."""
        return self._runs

    def read(self, record: Record) -> Incoming:
        """The record as an event of a handled type, an ignored type, or a reason to dead-letter
        it; never raises."""
        try:
            headers = header_map(record.headers)
        except InvalidEvent as exc:
            return Incoming(record, "unknown", problem=str(exc))
        event_type = event_type_of(headers)
        if event_type is None:
            return Incoming(record, "unknown", problem="missing ce_type header")
        if event_type not in self._handlers:
            return Incoming(record, event_type)
        try:
            event = decode(headers, record.value or b"", self._payloads)
        except InvalidEvent as exc:
            return Incoming(record, event_type, problem=str(exc))
        return Incoming(record, event_type, event=event)

    def runs(self, events: Sequence[Event[Any]]) -> list[list[Event[Any]]]:
        """The events in order, consecutive ones with the same run handler grouped together."""
        runs: list[list[Event[Any]]] = []
        for event in events:
            handler = self._runs.get(event.type)
            last = runs[-1] if runs else None
            # ==, not is: a bound method is a new object at every attribute lookup.
            if last is not None and handler is not None and handler == self._runs.get(last[0].type):
                last.append(event)
            else:
                runs.append([event])
        return runs
