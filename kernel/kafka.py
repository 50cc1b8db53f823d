"""Kafka clients built from settings, and topic creation with each topic's partitions and policy."""

import asyncio
import ssl
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from aiokafka.helpers import create_ssl_context

from kernel.logging import get_logger
from kernel.settings import ServiceSettings
from schemas.topics import TopicSpec

TOPIC_ALREADY_EXISTS = 36

log = get_logger(__name__)


def connection_options(settings: ServiceSettings) -> dict[str, Any]:
    """Where and how every Kafka client of the service connects: brokers, TLS, SASL.

    One place, so that the producer, the consumers, the admin client and the operator commands
    cannot disagree about security.
    """
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(
            cafile=settings.kafka_ssl_cafile or None,
            certfile=settings.kafka_ssl_certfile or None,
            keyfile=settings.kafka_ssl_keyfile or None,
        )
    if settings.kafka_security_protocol.startswith("SASL_"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return options


class KafkaConnectFailed(RuntimeError):
    """A Kafka client could not connect or authenticate; the message says where, how and as whom
    (never with the password)."""


class _Startable(Protocol):
    async def start(self) -> None: ...


def describe_connection(settings: ServiceSettings) -> str:
    """Where and how the service connects, for operators (no secret)."""
    how: str = settings.kafka_security_protocol
    if how.startswith("SASL_"):
        how += f" as {settings.kafka_sasl_username!r} ({settings.kafka_sasl_mechanism})"
    return f"{settings.kafka_bootstrap_servers} over {how}"


async def connect(client: _Startable, settings: ServiceSettings) -> None:
    """Start a Kafka client; a failure says where, how and as whom it tried.

    aiokafka's SCRAM client fails with a bare KeyError when the broker refuses the user, and with
    "Unable to bootstrap" when the broker closes a connection that did not authenticate; neither
    tells an operator that credentials are the problem.
    """
    try:
        await client.start()
    except (KafkaError, KeyError, OSError, ssl.SSLError) as error:
        reason = (
            "the broker refused the credentials"
            if isinstance(error, KeyError)
            else f"{type(error).__name__}: {error}"
        )
        raise KafkaConnectFailed(
            f"cannot connect to Kafka at {describe_connection(settings)}: {reason}"
        ) from error


class Publisher:
    """The service's one Kafka producer, created on start (aiokafka needs a running loop).

    Waits for all in-sync replicas: a record counts as published only then.
    """

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect to the cluster."""
        settings = self._settings
        self._producer = AIOKafkaProducer(
            **connection_options(settings),
            client_id=f"{settings.kafka_client_id_prefix}-{settings.service_name}",
            acks="all",
            enable_idempotence=settings.kafka_enable_idempotence,
            linger_ms=2,
            request_timeout_ms=15_000,
        )
        await connect(self._producer, settings)

    async def stop(self) -> None:
        """Flush and disconnect."""
        if self._producer is not None:
            await self._producer.stop()

    @property
    def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("publisher not started")
        return self._producer

    async def send(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
    ) -> "asyncio.Future[Any]":
        """Queue a record; the returned future resolves when the broker acknowledges it."""
        future: asyncio.Future[Any] = await self._started.send(
            topic, key=key, value=value, headers=list(headers)
        )
        return future

    async def send_and_wait(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
    ) -> None:
        """Publish one record and wait for the acknowledgement."""
        await self._started.send_and_wait(topic, key=key, value=value, headers=list(headers))

    async def check(self) -> None:
        """Raise unless the cluster answers a metadata request."""
        await self._started.client.fetch_all_metadata()


async def ensure_topics(settings: ServiceSettings, topics: Iterable[TopicSpec]) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(
        **connection_options(settings),
        client_id=f"{settings.kafka_client_id_prefix}-{settings.service_name}-admin",
    )
    await connect(admin, settings)
    try:
        wanted = [
            NewTopic(
                name=topic.name,
                num_partitions=topic.partitions,
                replication_factor=settings.kafka_replication_factor,
                topic_configs=topic.config(replication_factor=settings.kafka_replication_factor),
            )
            for topic in topics
        ]
        response = await admin.create_topics(wanted)
        for name, code, *_ in response.topic_errors:
            if code not in (0, TOPIC_ALREADY_EXISTS):
                raise RuntimeError(f"could not create topic {name}: error code {code}")
    finally:
        await admin.close()


def reader(settings: ServiceSettings, *, group_id: str | None = None) -> AIOKafkaConsumer:
    """A consumer for the operator tools that read partitions by hand (assign, seek to the
    start, read to the end): ``lapor-admin rebuild`` and ``replay-dlq``. The services' own
    consumer groups are FastStream subscribers (``kernel.consuming``)."""
    return AIOKafkaConsumer(
        **connection_options(settings),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
