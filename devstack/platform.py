"""The whole platform as local processes: broker, database and the five services.

Used by ``make run`` and by the end-to-end tests, so both exercise the same start-up path.
"""

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devstack import infra
from kernel.runner import SERVICES

DEFAULT_PORTS = {
    "portal": 8000,
    "intake": 8001,
    "routing": 8002,
    "sla": 8003,
    "notify": 8004,
    "standards": 8005,
}
KAFKA_PORT = 9092
MONGO_PORT = 27017


@dataclass
class Platform:
    """Handles on everything ``start_platform`` started."""

    kafka_bootstrap: str
    mongo_url: str
    services: dict[str, infra.ServerProcess] = field(default_factory=dict)
    infrastructure: list[infra.ServerProcess] = field(default_factory=list)
    # What the services are told of each other (a restarted service needs it again).
    wiring: dict[str, str] = field(default_factory=dict)

    def url(self, service: str) -> str:
        """Base URL of a service's HTTP API."""
        return f"http://127.0.0.1:{self.services[service].port}"

    def stop(self) -> None:
        """Services first (they drain their outboxes and commit offsets), then the servers."""
        for server in self.services.values():
            if server.process.poll() is None:
                server.process.terminate()
        for server in self.services.values():
            server.stop(timeout=25)
        for server in reversed(self.infrastructure):
            server.stop()


def start_service(
    name: str,
    *,
    port: int,
    kafka_bootstrap: str,
    mongo_url: str,
    log_dir: Path | None,
    extra_env: dict[str, str] | None = None,
) -> infra.ServerProcess:
    """One service as its own process (``python -m kernel.runner NAME``)."""
    env = infra.child_env(
        HTTP_PORT=str(port),
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        MONGO_URL=mongo_url,
        **(extra_env or {}),
    )
    log = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log = (log_dir / f"{name}.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "kernel.runner", name],
        env=env,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        start_new_session=True,
    )
    return infra.ServerProcess(name=name, port=port, process=process, _log=log)


def portal_wiring(platform: Platform) -> dict[str, str]:
    """Where the portal finds each service's API; a plain-HTTP session cookie, since the
    development stack serves 127.0.0.1 without TLS."""
    return {
        **{f"PORTAL_{name.upper()}_URL": platform.url(name) for name in platform.services},
        "PORTAL_COOKIE_SECURE": "false",
    }


def wait_ready(url: str, *, timeout: float, process: subprocess.Popen[bytes]) -> None:
    """Poll ``/readyz`` until it answers 200."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=3) as response:  # noqa: S310
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = json.loads(exc.read() or b"{}").get("checks", str(exc))
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout} s: {last}")


def start_platform(
    *,
    kafka_bootstrap: str | None = None,
    mongo_url: str | None = None,
    mongo_storage: Path | None = None,
    ports: dict[str, int] | None = None,
    kafka_port: int | None = None,
    mongo_port: int | None = None,
    log_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
    services: tuple[str, ...] = SERVICES,
    front_ends: tuple[str, ...] = (),
) -> Platform:
    """Start what is not given (broker, database), then every service, and wait until ready;
    then the ``front_ends`` asked for (``make run``: the portal), pointed at the services."""
    infrastructure: list[infra.ServerProcess] = []
    try:
        if kafka_bootstrap is None:
            broker = infra.start_kafka(port=kafka_port, log_dir=log_dir)
            infrastructure.append(broker)
            kafka_bootstrap = infra.kafka_bootstrap(broker)
        if mongo_url is None:
            db = infra.start_mongo(port=mongo_port, storage=mongo_storage, log_dir=log_dir)
            infrastructure.append(db)
            mongo_url = infra.mongo_url(db)
    except BaseException:
        for server in infrastructure:
            server.stop()
        raise
    chosen = {name: (ports or {}).get(name) or infra.free_port() for name in services}
    embedded_broker = any(server.name == "kafka" for server in infrastructure)
    wiring = dict(infra.EMBEDDED_BROKER_ENV) if embedded_broker else {}
    # Notify asks intake for the keys that open reporters' contact details.
    if "intake" in chosen:
        wiring["NOTIFY_INTAKE_URL"] = f"http://127.0.0.1:{chosen['intake']}"
    platform = Platform(kafka_bootstrap, mongo_url, infrastructure=infrastructure, wiring=wiring)
    try:
        for name in services:
            platform.services[name] = start_service(
                name,
                port=chosen[name],
                kafka_bootstrap=kafka_bootstrap,
                mongo_url=mongo_url,
                log_dir=log_dir,
                extra_env={**wiring, **(extra_env or {})},
            )
        for name, server in platform.services.items():
            wait_ready(platform.url(name), timeout=90, process=server.process)
        for name in front_ends:
            port = (ports or {}).get(name) or infra.free_port()
            platform.services[name] = start_service(
                name,
                port=port,
                kafka_bootstrap=kafka_bootstrap,
                mongo_url=mongo_url,
                log_dir=log_dir,
                extra_env={**portal_wiring(platform), **(extra_env or {})},
            )
            wait_ready(platform.url(name), timeout=60, process=platform.services[name].process)
    except BaseException:
        platform.stop()
        raise
    return platform
