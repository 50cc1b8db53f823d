"""The event envelope: CloudEvents 1.0 attributes in Kafka headers, a pydantic payload as the body.

Binary content mode of the CloudEvents Kafka protocol binding: each attribute travels as a
``ce_<name>`` header, the payload is the record value as JSON, and the record key is the subject
(the aggregate ID) so that every event about one complaint keeps its order on one partition.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import TypeVar as DefaultedTypeVar

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
TYPE_PREFIX = "id.go.lapor"
SCHEMA_BASE = "urn:lapor:schema"
CORRELATION_HEADER = "ce_correlationid"
REQUIRED_ATTRIBUTES = ("id", "source", "type", "time", "subject", "specversion")


class EventPayload(BaseModel):
    """Base of every event body. Subclasses name their type and schema version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    NAME: ClassVar[str]
    VERSION: ClassVar[int]

    @classmethod
    def event_type(cls) -> str:
        """CloudEvents ``type``: reverse-DNS name and schema version, e.g. ``...submitted.v1``."""
        return f"{TYPE_PREFIX}.{cls.NAME}.v{cls.VERSION}"

    @classmethod
    def dataschema(cls) -> str:
        """CloudEvents ``dataschema``: names the JSON schema of this payload version."""
        return f"{SCHEMA_BASE}:{cls.NAME}:{cls.VERSION}"

    def subject(self) -> str:
        """The aggregate this event is about; also the Kafka key."""
        raise NotImplementedError


class InvalidEvent(ValueError):
    """A record that cannot be read as an event of a known type: the sender's fault."""


# Defaults to any payload: code that handles events of every kind (the outbox, the relay) says
# just ``Event``.
P_co = DefaultedTypeVar("P_co", bound=EventPayload, covariant=True, default=EventPayload)


@dataclass(frozen=True)
class Event(Generic[P_co]):
    """One CloudEvent with a typed payload: a handler of ``Event[ComplaintRouted]`` reads
    ``event.data`` as a ``ComplaintRouted`` without checking."""

    id: str
    source: str
    type: str
    time: datetime
    subject: str
    dataschema: str
    correlation_id: str
    data: P_co


@dataclass(frozen=True)
class KafkaRecord:
    """An event as Kafka bytes: what the outbox stores and the relay publishes unchanged."""

    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


P = TypeVar("P", bound=EventPayload)


def new_event(
    payload: P,
    *,
    source: str,
    correlation_id: str,
    now: datetime | None = None,
    event_id: str | None = None,
) -> Event[P]:
    """Wrap a payload in a fresh envelope."""
    return Event(
        id=event_id or uuid.uuid4().hex,
        source=source,
        type=payload.event_type(),
        time=(now or datetime.now(UTC)).astimezone(UTC),
        subject=payload.subject(),
        dataschema=payload.dataschema(),
        correlation_id=correlation_id,
        data=payload,
    )


def encode(event: Event) -> KafkaRecord:
    """Event to Kafka key, JSON value and ``ce_*`` headers."""
    # content-type first: FastStream's Kafka producer writes it before any other header, so the
    # stored record and the one on the wire agree header for header.
    headers = (
        ("content-type", CONTENT_TYPE),
        ("ce_specversion", SPEC_VERSION),
        ("ce_id", event.id),
        ("ce_source", event.source),
        ("ce_type", event.type),
        ("ce_time", event.time.isoformat().replace("+00:00", "Z")),
        ("ce_subject", event.subject),
        ("ce_dataschema", event.dataschema),
        (CORRELATION_HEADER, event.correlation_id),
    )
    return KafkaRecord(
        key=event.subject.encode(),
        value=event.data.model_dump_json().encode(),
        headers=tuple((name, value.encode()) for name, value in headers),
    )


def header_map(headers: Sequence[tuple[str, bytes]] | Mapping[str, bytes | str]) -> dict[str, str]:
    """Kafka headers as text, whichever form the client library hands them over in."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        if isinstance(value, bytes):
            try:
                out[name] = value.decode()
            except UnicodeDecodeError as exc:
                raise InvalidEvent(f"header {name!r} is not UTF-8") from exc
        else:
            out[name] = value
    return out


def event_type_of(headers: Mapping[str, str]) -> str | None:
    """The ``ce_type`` header, read without decoding the body (to skip types a consumer ignores)."""
    return headers.get("ce_type")


def decode(
    headers: Mapping[str, str], value: bytes, payload_types: Mapping[str, type[EventPayload]]
) -> Event:
    """Kafka record to Event; raises InvalidEvent naming what is wrong."""
    missing = [name for name in REQUIRED_ATTRIBUTES if not headers.get(f"ce_{name}")]
    if missing:
        raise InvalidEvent(f"missing CloudEvents attributes: {', '.join(missing)}")
    if headers["ce_specversion"] != SPEC_VERSION:
        raise InvalidEvent(f"unsupported specversion {headers['ce_specversion']!r}")
    payload_type = payload_types.get(headers["ce_type"])
    if payload_type is None:
        raise InvalidEvent(f"unknown event type {headers['ce_type']!r}")
    try:
        time = datetime.fromisoformat(headers["ce_time"])
    except ValueError as exc:
        raise InvalidEvent(f"ce_time is not an RFC 3339 timestamp: {headers['ce_time']!r}") from exc
    if time.tzinfo is None:
        raise InvalidEvent("ce_time has no UTC offset")
    try:
        data = payload_type.model_validate_json(value)
    except ValidationError as exc:
        raise InvalidEvent(f"payload does not match {headers['ce_type']}: {exc}") from exc
    if data.subject() != headers["ce_subject"]:
        raise InvalidEvent("ce_subject does not match the payload's aggregate ID")
    return Event(
        id=headers["ce_id"],
        source=headers["ce_source"],
        type=headers["ce_type"],
        time=time.astimezone(UTC),
        subject=headers["ce_subject"],
        dataschema=headers.get("ce_dataschema", payload_type.dataschema()),
        correlation_id=headers.get(CORRELATION_HEADER) or headers["ce_id"],
        data=data,
    )
