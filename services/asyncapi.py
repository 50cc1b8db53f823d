"""The platform's AsyncAPI 3.0 document, generated from what the services declare.

Each service's FastStream broker is built as a production deployment would build it (SASL_SSL
with SCRAM-SHA-512), its consumer groups and publishers declared by its ``handlers.py``, and
FastStream's generator describes them: servers, security schemes, and which service sends and
receives on which topic. Two things it cannot know are added here: that one Kafka record is one
CloudEvent whose type is in a header (so a topic carries several message types, each with its
``ce_*`` headers and payload schema), and the dead-letter topics, whose records keep their
original headers and add ``x-dlq-*`` provenance. FastStream's per-subscriber channels are
folded into one channel per topic, since several services read the same topic.
"""

import importlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from faststream.specification import AsyncAPI

from kernel.runner import SERVICES
from kernel.runtime import Runtime
from schemas.envelope import CORRELATION_HEADER, SPEC_VERSION, EventPayload
from schemas.events import topic_of
from schemas.topics import DEAD_LETTER_PREFIX, TopicSpec, all_topics

SCHEMA = "#/components/schemas/{model}"
# Where the document says production's brokers are and how clients authenticate: the Strimzi
# cluster of k8s/ (TLS listener on 9093, SCRAM users per service).
PRODUCTION_KAFKA = {
    "kafka_bootstrap_servers": "lapor-kafka-bootstrap.lapor.svc:9093",
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_password": "described-not-used",
}
DEVELOPMENT_SERVER = {
    "host": "localhost:9092",
    "protocol": "kafka",
    "description": "The embedded broker of `make run` (no TLS, no authentication).",
}
DLQ_HEADERS = {
    "x-dlq-reason": "Why the group could not accept the record.",
    "x-dlq-consumer-group": "The consumer group that rejected it.",
    "x-dlq-original-topic": "Where it came from; lapor-admin replay-dlq sends it back there.",
    "x-dlq-original-partition": "Its partition there.",
    "x-dlq-original-offset": "Its offset there.",
    "x-dlq-failed-at": "When it was dead-lettered (RFC 3339).",
}


def service_runtimes() -> list[Runtime]:
    """Every service's runtime, built (never started) with production's Kafka settings."""
    runtimes = []
    for service in SERVICES:
        module = importlib.import_module(f"services.{service}.app")
        settings = module.Settings(
            **PRODUCTION_KAFKA, kafka_sasl_username=f"lapor-{service}", service_name=service
        )
        runtimes.append(module.create_app(settings).state.runtime)
    return runtimes


def asyncapi_document(version: str = "0.1.0") -> dict[str, Any]:
    """FastStream's description of the services' brokers, with CloudEvents messages per type
    and the dead-letter topics."""
    runtimes = service_runtimes()
    generated = (
        AsyncAPI(
            *(runtime.broker for runtime in runtimes),
            title="LAPOR platform events",
            version=version,
            description="CloudEvents 1.0 (Kafka binary mode) on the platform's topics. Events "
            "of one aggregate share a key and a partition, in order. Each consumer group has a "
            "dead-letter topic for what it could not accept.",
        )
        .to_specification()
        .to_jsonable()
    )
    return _Enriched(generated, runtimes).document()


class _Enriched:
    def __init__(self, generated: dict[str, Any], runtimes: Sequence[Runtime]) -> None:
        self.generated = generated
        self.runtimes = runtimes
        self.topics = {topic.name: topic for topic in all_topics()}
        self.schemas: dict[str, Any] = {}
        self.messages: dict[str, Any] = {}
        self.channels: dict[str, Any] = {}
        self.operations: dict[str, Any] = {}

    def document(self) -> dict[str, Any]:
        generated_channels = self.generated["channels"]
        for runtime in self.runtimes:
            service = runtime.settings.service_name
            for address, payloads in runtime.publishers.payloads.items():
                title = f"{service}-{address}"
                assert title in generated_channels, f"FastStream did not describe {title}"
                self._operation(f"{service} publishes", "send", address, payloads)
            for consumer in runtime.groups:
                group = consumer.group
                for topic in group.topics:
                    # FastStream names a one-topic subscriber's channel by its title alone.
                    described = (
                        consumer.title
                        if len(group.topics) == 1
                        else f"{consumer.title}:{topic.name}"
                    )
                    assert described in generated_channels, f"FastStream missed {described}"
                    handled = [
                        payload
                        for payload in group.payload_types.values()
                        if payload.event_type() in group.handlers
                    ]
                    on_topic = [p for p in handled if topic_of(p) == topic]
                    self._operation(f"{group.group_id} receives", "receive", topic.name, on_topic)
                self._dead_letters(service, group.group_id, group.dead_letter_topic)
        servers = self._servers()
        for channel in self.channels.values():
            channel["servers"] = [{"$ref": f"#/servers/{name}"} for name in servers]
        return {
            "asyncapi": self.generated["asyncapi"],
            "info": self.generated["info"],
            "defaultContentType": "application/json",
            "servers": servers,
            "channels": self.channels,
            "operations": self.operations,
            "components": {
                "messages": self.messages,
                "schemas": self.schemas,
                "securitySchemes": self._security_schemes(),
            },
        }

    def _servers(self) -> dict[str, Any]:
        [production, *_] = self.generated["servers"].values()
        production = {key: value for key, value in production.items() if key not in ("pathname",)}
        production["description"] = (
            "Production: the Strimzi cluster's TLS listener; each service authenticates as its "
            "own KafkaUser with SCRAM-SHA-512."
        )
        return {"production": production, "development": DEVELOPMENT_SERVER}

    def _security_schemes(self) -> dict[str, Any]:
        schemes: dict[str, Any] = dict(self.generated["components"].get("securitySchemes", {}))
        for scheme in schemes.values():
            scheme.setdefault(
                "description",
                "SASL/SCRAM-SHA-512 over TLS (KAFKA_SECURITY_PROTOCOL=SASL_SSL); the user and "
                "password come from the service's KafkaUser secret.",
            )
        return schemes

    def _channel(self, topic: TopicSpec) -> dict[str, Any]:
        channel_id = _identifier(topic.name)
        if channel_id not in self.channels:
            self.channels[channel_id] = {
                "address": topic.name,
                "description": topic.description,
                "messages": {},
                "bindings": {
                    "kafka": {
                        "topic": topic.name,
                        "partitions": topic.partitions,
                        "topicConfiguration": {
                            "cleanup.policy": [topic.config()["cleanup.policy"]],
                            **({} if topic.compacted else {"retention.ms": topic.retention_ms}),
                        },
                        "bindingVersion": "0.5.0",
                    }
                },
            }
        channel: dict[str, Any] = self.channels[channel_id]
        return channel

    def _operation(
        self, who: str, action: str, topic_name: str, payloads: Iterable[type[EventPayload]]
    ) -> None:
        topic = self.topics[topic_name]
        channel_id = _identifier(topic.name)
        channel = self._channel(topic)
        refs = []
        for payload in payloads:
            name = self._event_message(payload)
            channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
            refs.append({"$ref": f"#/channels/{channel_id}/messages/{name}"})
        self.operations[_identifier(f"{who} {topic.name}")] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{who.capitalize()} on {topic.name}.",
            "messages": refs,
        }

    def _event_message(self, payload: type[EventPayload]) -> str:
        name = payload.__name__
        if name not in self.messages:
            schema = payload.model_json_schema(ref_template=SCHEMA)
            self.schemas.update(schema.pop("$defs", {}))
            self.schemas[name] = schema
            self.messages[name] = {
                "name": payload.event_type(),
                "title": name,
                "summary": (payload.__doc__ or "").strip().splitlines()[0],
                "contentType": "application/json",
                "headers": _cloudevents_headers(payload),
                "correlationId": {"location": f"$message.header#/{CORRELATION_HEADER}"},
                "payload": {"$ref": SCHEMA.format(model=name)},
                "bindings": {"kafka": {"key": {"type": "string"}, "bindingVersion": "0.5.0"}},
            }
        return name

    def _dead_letters(self, service: str, group_id: str, topic: TopicSpec) -> None:
        name = "DeadLetter"
        if name not in self.messages:
            self.messages[name] = {
                "name": "dead-letter",
                "title": name,
                "summary": "A record a consumer group could not accept, kept byte for byte.",
                "description": "Key, value and every original header (the ce_* ones when the "
                "record was an event) as they were, plus the x-dlq-* provenance.",
                "headers": {
                    "type": "object",
                    "required": sorted(DLQ_HEADERS),
                    "properties": {
                        header: {"type": "string", "description": text}
                        for header, text in DLQ_HEADERS.items()
                    },
                    "additionalProperties": {"type": "string"},
                },
                "payload": {
                    "description": "The original record value, unchanged.",
                },
                "bindings": {"kafka": {"key": {"type": "string"}, "bindingVersion": "0.5.0"}},
            }
        channel_id = _identifier(topic.name)
        channel = self._channel(topic)
        channel["messages"][name] = {"$ref": f"#/components/messages/{name}"}
        ref = [{"$ref": f"#/channels/{channel_id}/messages/{name}"}]
        self.operations[_identifier(f"{group_id} dead-letters")] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"{service} sets aside what its group {group_id!r} cannot accept.",
            "messages": ref,
        }
        self.operations[_identifier(f"replay {topic.name}")] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": "lapor-admin replay-dlq puts the records back on their original "
            "topics once the cause is fixed.",
            "messages": ref,
        }


def _identifier(text: str) -> str:
    """A component key AsyncAPI accepts (letters, digits, '.', '-', '_'), in camel case."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", text.removeprefix(DEAD_LETTER_PREFIX)) if w]
    prefix = "deadLetters" if text.startswith(DEAD_LETTER_PREFIX) else ""
    joined = "".join(w[:1].upper() + w[1:] for w in words)
    return (prefix + joined)[:1].lower() + (prefix + joined)[1:]


def _cloudevents_headers(payload: type[EventPayload]) -> dict[str, Any]:
    text = {"type": "string"}
    return {
        "type": "object",
        "required": [
            "ce_specversion",
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_time",
            "ce_subject",
        ],
        "properties": {
            "content-type": {"const": "application/json"},
            "ce_specversion": {"const": SPEC_VERSION},
            "ce_id": {**text, "description": "Event ID; consumers drop repeats by it."},
            "ce_source": {**text, "description": "Producing service, e.g. /lapor/intake."},
            "ce_type": {"const": payload.event_type()},
            "ce_time": {**text, "format": "date-time"},
            "ce_subject": {**text, "description": "Aggregate ID; equal to the record key."},
            "ce_dataschema": {"const": payload.dataschema()},
            CORRELATION_HEADER: {
                **text,
                "description": "Correlation ID of the originating request.",
            },
        },
    }
