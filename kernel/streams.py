"""The service's FastStream Kafka broker, built from settings, and its declared publishers.

FastStream owns the clients: the producer, each consumer group's consumer (see
``kernel.subscriptions``), and the AsyncAPI description of both. What it is told here is what
the platform's settings already say: where the brokers are, how to authenticate, and that a
record counts as published only once every in-sync replica has it.
"""

import asyncio
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from kernel import kafka
from kernel.settings import ServiceSettings
from schemas.envelope import Event, EventPayload, encode
from schemas.events import topic_of
from schemas.topics import TopicSpec

_SASL = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}


def security(settings: ServiceSettings) -> BaseSecurity | None:
    """The shared connection options (``kernel.kafka.connection_options``) in FastStream's
    terms, so the broker connects as every other client does (and AsyncAPI documents it)."""
    options = kafka.connection_options(settings)
    protocol = options["security_protocol"]
    if protocol == "PLAINTEXT":
        return None
    context = options.get("ssl_context")
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return _SASL[options["sasl_mechanism"]](
        username=options["sasl_plain_username"],
        password=options["sasl_plain_password"],
        ssl_context=context,
        use_ssl=protocol == "SASL_SSL",
    )


def new_broker(settings: ServiceSettings, *, description: str = "") -> KafkaBroker:
    """The service's broker: one producer that waits for all in-sync replicas, and the
    consumers its routers declare."""
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        security=security(settings),
        client_id=f"{settings.kafka_client_id_prefix}-{settings.service_name}",
        acks="all",
        enable_idempotence=settings.kafka_enable_idempotence,
        linger_ms=2,
        request_timeout_ms=15_000,
        # Topics are created by the kernel with their partitions and policies (or by the
        # cluster's operator): a client must never create one with broker defaults.
        allow_auto_create_topics=False,
        # The events carry their own correlation ID (ce_correlationid); FastStream's extra
        # correlation_id header would change the wire contract.
        id_generator=lambda: "",
        # Finish the batch in hand and commit it before leaving the group.
        graceful_timeout=15.0,
        # Its per-batch lines at debug; errors still at error, through our formatter.
        logger=logging.getLogger("lapor.faststream"),
        log_level=logging.DEBUG,
        description=description or None,
        specification_url=settings.kafka_bootstrap_servers.split(",")[0],
    )


async def connect(broker: KafkaBroker, settings: ServiceSettings) -> None:
    """Connect the producer; a failure says where, how and as whom it tried."""

    class _Connecting:
        async def start(self) -> None:
            await broker.connect()

    await kafka.connect(_Connecting(), settings)


class EventPublishers:
    """The topics a service writes, each a FastStream publisher declared on its router: the
    outbox relay publishes stored records through them, and AsyncAPI describes them."""

    def __init__(self, service: str) -> None:
        self._service = service
        self.payloads: dict[str, tuple[type[EventPayload], ...]] = {}
        self._publishers: dict[str, Any] = {}

    def declare(
        self, registrator: KafkaBroker | KafkaRouter, payloads: Iterable[type[EventPayload]]
    ) -> None:
        """One publisher per topic these kinds of event go to."""
        by_topic: dict[TopicSpec, list[type[EventPayload]]] = {}
        for payload in payloads:
            by_topic.setdefault(topic_of(payload), []).append(payload)
        for topic, kinds in by_topic.items():
            self.payloads[topic.name] = (*self.payloads.get(topic.name, ()), *kinds)
            if topic.name not in self._publishers:
                self._publishers[topic.name] = registrator.publisher(
                    topic.name,
                    title=f"{self._service}-{topic.name}",
                    description=topic.description,
                )

    async def send(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
    ) -> "asyncio.Future[Any]":
        """Queue a stored record on its topic; the future resolves when the broker has it.

        The CloudEvents headers were written by the service as UTF-8 text (``schemas.envelope``).
        """
        publisher = self._publishers.get(topic)
        if publisher is None:
            raise LookupError(f"this service declares no publisher for {topic}")
        future: asyncio.Future[Any] = await publisher.publish(
            value,
            key=key,
            headers={name: raw.decode() for name, raw in headers},
            no_confirm=True,
        )
        return future

    async def publish_now(self, events: Sequence[Event[Any]]) -> None:
        """Publish events at once, returning when the broker has them all; for facts whose own
        stored record stays until they are published (notify's queue entry of a sent message),
        which therefore need no outbox row."""
        sends = []
        for event in events:
            record = encode(event)
            sends.append(
                await self.send(
                    topic_of(type(event.data)).name,
                    key=record.key,
                    value=record.value,
                    headers=record.headers,
                )
            )
        await asyncio.gather(*sends)
