"""Real infrastructure for the integration and end-to-end layers.

SecantusDB (MongoDB wire protocol) runs once per test session; each test module gets a fresh
Tansu broker (Kafka protocol) and its own databases, so consumer groups and offsets never leak
between modules. Both are started by the project's own launcher on free ports.
"""

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from pymongo import AsyncMongoClient

from devstack import infra
from kernel.logging import configure_logging
from kernel.sealing import Sealer
from kernel.settings import DEV_PII_KEY
from tests import factories
from tests.figures import FIGURES, Figures
from tests.receivers import KeyVault
from tests.support import serving


@pytest.fixture(scope="session", autouse=True)
def service_logging() -> None:
    """Services under test log as they do when run: structlog left unconfigured renders each
    warning's traceback with rich, seconds of CPU that stall the event loop the test shares."""
    configure_logging(service="test", level="INFO", json=True)


@pytest.fixture(scope="session")
def mongo_server() -> Iterator[infra.ServerProcess]:
    server = infra.start_mongo()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mongo_url(mongo_server: infra.ServerProcess) -> str:
    return infra.mongo_url(mongo_server)


@pytest.fixture(scope="module")
def kafka_server() -> Iterator[infra.ServerProcess]:
    server = infra.start_kafka()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bootstrap(kafka_server: infra.ServerProcess) -> str:
    return infra.kafka_bootstrap(kafka_server)


@pytest.fixture(scope="module")
def db_suffix() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
async def mongo(mongo_url: str) -> AsyncIterator[AsyncMongoClient[dict[str, object]]]:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_url, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture(scope="module")
async def intake_keys() -> AsyncIterator[str]:
    """Intake's key endpoint over the data keys the factories sealed with: the URL a notify
    run without intake asks for them (``NOTIFY_INTAKE_URL``)."""
    vault = KeyVault(keys=factories.DATA_KEYS, sealer=Sealer([DEV_PII_KEY]))
    async with serving(vault.app()) as url:
        yield url


def service_env(bootstrap: str, mongo_url: str, database: str) -> dict[str, object]:
    """Settings overrides pointing a service at the test infrastructure."""
    return {
        "kafka_bootstrap_servers": bootstrap,
        "mongo_url": mongo_url,
        "mongo_database": database,
        "log_json": False,
        # A group (re)balance waits on the order of the session timeout on Tansu: keep joins
        # and hand-overs quick in tests.
        # Tests call public endpoints in tight loops; the limit has its own tests.
        "http_public_rate_per_minute": 0,
        "kafka_session_timeout_ms": 3_000,
        "kafka_heartbeat_interval_ms": 300,
        "kafka_fetch_max_wait_ms": int(infra.EMBEDDED_BROKER_ENV["KAFKA_FETCH_MAX_WAIT_MS"]),
    }


@pytest.fixture(scope="session")
def figures() -> Figures:
    """Where reliability tests record what they measured (printed at the end of the run)."""
    return FIGURES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = FIGURES.lines()
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)
