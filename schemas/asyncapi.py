"""The AsyncAPI 3.0 document of the platform's topics, generated from the models themselves."""

from typing import Any

from schemas.envelope import CORRELATION_HEADER, SPEC_VERSION, EventPayload
from schemas.events import (
    AGENCY_EVENT_TYPES,
    COMPLAINT_EVENT_TYPES,
    PUBLIC_EVENT_TYPES,
    STANDARD_EVENT_TYPES,
    NotificationUndeliverable,
)
from schemas.topics import (
    AGENCY_DIRECTORY,
    COMPLAINT_EVENTS,
    PUBLIC_COMPLAINTS,
    STANDARD_EVENTS,
    UNDELIVERABLE_NOTIFICATIONS,
    TopicSpec,
)

REF = "#/components/schemas/{model}"


def _headers(payload: type[EventPayload]) -> dict[str, Any]:
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
            "content-type": {"const": "application/json"},
        },
    }


def asyncapi_document(version: str = "0.1.0") -> dict[str, Any]:
    """Channels (topics), messages (event types) and payload schemas."""
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    topics: list[tuple[str, TopicSpec, dict[str, type[EventPayload]]]] = [
        ("complaintEvents", COMPLAINT_EVENTS, COMPLAINT_EVENT_TYPES),
        ("standardEvents", STANDARD_EVENTS, STANDARD_EVENT_TYPES),
        ("publicComplaints", PUBLIC_COMPLAINTS, PUBLIC_EVENT_TYPES),
        ("agencyDirectory", AGENCY_DIRECTORY, AGENCY_EVENT_TYPES),
        (
            "undeliverableNotifications",
            UNDELIVERABLE_NOTIFICATIONS,
            {NotificationUndeliverable.event_type(): NotificationUndeliverable},
        ),
    ]
    for channel_id, topic, types in topics:
        refs = {}
        for payload in types.values():
            name = payload.__name__
            schema = payload.model_json_schema(ref_template=REF)
            schemas.update(schema.pop("$defs", {}))
            schemas[name] = schema
            messages[name] = {
                "name": payload.event_type(),
                "title": name,
                "summary": (payload.__doc__ or "").strip().splitlines()[0],
                "contentType": "application/json",
                "headers": _headers(payload),
                "payload": {"$ref": REF.format(model=name)},
                "bindings": {"kafka": {"key": {"type": "string"}}},
            }
            refs[name] = {"$ref": f"#/components/messages/{name}"}
        channels[channel_id] = {
            "address": topic.name,
            "description": topic.description,
            "messages": refs,
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    "topicConfiguration": {
                        "cleanup.policy": [topic.config()["cleanup.policy"]],
                        **({} if topic.compacted else {"retention.ms": topic.retention_ms}),
                    },
                }
            },
        }
        operations[f"receive{channel_id[0].upper()}{channel_id[1:]}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "summary": f"Subscribe to {topic.name}.",
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "LAPOR platform events",
            "version": version,
            "description": "CloudEvents 1.0 (Kafka binary mode) on the platform's topics. "
            "Events of one aggregate share a key and a partition, in order.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
