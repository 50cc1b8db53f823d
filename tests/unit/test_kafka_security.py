"""Kafka security settings: what an operator may configure, what is refused, and that every Kafka
client in the code takes its connection from the one place that applies them."""

import ast
import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.kafka.security import parse_security
from pydantic import ValidationError

from kernel.kafka import connection_options, describe_connection
from kernel.settings import ServiceSettings
from kernel.streams import security

pytestmark = pytest.mark.reliability

ROOT = Path(__file__).resolve().parents[2]
KAFKA_CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"}


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lapor-test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "client.pem", directory / "client.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_sasl_without_credentials_is_refused_naming_the_variables() -> None:
    with pytest.raises(ValidationError, match="KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"):
        ServiceSettings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="intake")


def test_a_client_certificate_needs_its_key() -> None:
    with pytest.raises(ValidationError, match="KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE"):
        ServiceSettings(kafka_security_protocol="SSL", kafka_ssl_certfile="/etc/lapor/c.pem")


def test_production_refuses_a_plain_password_without_tls() -> None:
    with pytest.raises(ValidationError, match="PLAIN without TLS"):
        ServiceSettings(
            environment="production",
            auth_jwt_secret="x" * 40,
            pii_keys=["bGFwb3ItdGVzdC1rZXktbm90LWZvci1wcm9kdWN0aW9uIQ=="],
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="PLAIN",
            kafka_sasl_username="intake",
            kafka_sasl_password="secret",
        )


def test_plaintext_is_the_default_and_carries_no_credentials() -> None:
    options = connection_options(ServiceSettings(kafka_bootstrap_servers="k1:9092,k2:9092"))
    assert options == {"bootstrap_servers": "k1:9092,k2:9092", "security_protocol": "PLAINTEXT"}


def test_sasl_ssl_gives_every_client_tls_with_the_ca_and_scram_credentials(
    tmp_path: Path,
) -> None:
    cert, key = _self_signed(tmp_path)
    settings = ServiceSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="intake",
        kafka_sasl_password="s3cret-pw",
        kafka_ssl_cafile=str(cert),
        kafka_ssl_certfile=str(cert),
        kafka_ssl_keyfile=str(key),
    )
    options = connection_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == (
        "SCRAM-SHA-256",
        "intake",
    )
    assert options["sasl_plain_password"] == "s3cret-pw"
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "lapor-test-ca"),),)]
    described = describe_connection(settings)
    assert "intake" in described and "SCRAM-SHA-256" in described
    assert "s3cret-pw" not in described and "s3cret-pw" not in repr(settings)


def test_every_kafka_client_in_the_product_takes_the_shared_connection_options() -> None:
    """A client built by hand would silently ignore KAFKA_SECURITY_PROTOCOL and connect in clear."""
    built = 0
    for path in [*ROOT.glob("kernel/*.py"), *ROOT.glob("services/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if node.func.id not in KAFKA_CLIENTS:
                continue
            built += 1
            spread = [k.value for k in node.keywords if k.arg is None]
            assert any(
                isinstance(v, ast.Call)
                and isinstance(v.func, ast.Name)
                and v.func.id == "connection_options"
                for v in spread
            ), f"{path.relative_to(ROOT)}:{node.lineno} builds {node.func.id} by hand"
    assert built >= 3  # the raw producer, the admin client, the operators' reader

    # The FastStream broker (the services' producer and consumer groups) takes the same
    # settings through kernel.streams.security.
    brokers = 0
    for path in [*ROOT.glob("kernel/*.py"), *ROOT.glob("services/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "KafkaBroker":
                brokers += 1
                [given] = [k.value for k in node.keywords if k.arg == "security"]
                assert isinstance(given, ast.Call) and getattr(given.func, "id", "") == "security"
    assert brokers == 1


@pytest.mark.parametrize(
    ("protocol", "mechanism"),
    [
        ("PLAINTEXT", "SCRAM-SHA-512"),
        ("SSL", "SCRAM-SHA-512"),
        ("SASL_SSL", "SCRAM-SHA-512"),
        ("SASL_SSL", "SCRAM-SHA-256"),
        ("SASL_PLAINTEXT", "SCRAM-SHA-256"),
    ],
)
def test_the_faststream_broker_connects_as_every_other_client(
    protocol: str, mechanism: str
) -> None:
    """What FastStream hands aiokafka is what the shared connection options say."""
    settings = ServiceSettings(
        service_name="intake",
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="intake" if protocol.startswith("SASL") else "",
        kafka_sasl_password="s3cret-pw" if protocol.startswith("SASL") else "",
    )
    expected = connection_options(settings)
    given = parse_security(security(settings))
    assert given.get("security_protocol", "PLAINTEXT") == expected["security_protocol"]
    for option in ("sasl_mechanism", "sasl_plain_username", "sasl_plain_password"):
        assert given.get(option) == expected.get(option)
    assert ("ssl_context" in expected) == (given.get("ssl_context") is not None)
