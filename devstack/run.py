"""``make run``: the whole platform on this machine, until Ctrl-C.

Uses the Kafka and MongoDB named by ``KAFKA_BOOTSTRAP_SERVERS`` and ``MONGO_URL`` when they are
set; otherwise starts the embedded Tansu broker and SecantusDB (data kept in ``.data/mongo``).
Email goes to ``NOTIFY_SMTP_HOST`` when set; otherwise to a local mail catcher that keeps each
message as an .eml file in ``.data/mail``.
"""

import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from devstack import infra
from devstack.mailsink import MailSink
from devstack.platform import DEFAULT_PORTS, KAFKA_PORT, MONGO_PORT, start_platform

MAIL_PORT = 1025


def _port(wanted: int) -> int:
    """The documented port when it is free, else any free one."""
    try:
        infra.wait_for_port(wanted, timeout=0.1)
    except TimeoutError:
        return wanted  # nothing listens there: use the documented default
    return infra.free_port()


def main() -> None:
    """Start everything, print where it listens, stop cleanly on Ctrl-C or SIGTERM."""
    data = Path(os.environ.get("LAPOR_DATA_DIR", ".data"))
    ports = {name: _port(port) for name, port in DEFAULT_PORTS.items()}
    print("starting the LAPOR platform ...", flush=True)
    extra_env: dict[str, str] = {}
    sink = None
    if not os.environ.get("NOTIFY_SMTP_HOST"):
        sink = MailSink(port=_port(MAIL_PORT), store=data / "mail").start()
        extra_env = {
            "NOTIFY_SMTP_HOST": "127.0.0.1",
            "NOTIFY_SMTP_PORT": str(sink.port),
            "NOTIFY_SMTP_STARTTLS": "false",
        }
    platform = start_platform(
        kafka_bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
        mongo_url=os.environ.get("MONGO_URL"),
        mongo_storage=data / "mongo",
        ports=ports,
        kafka_port=_port(KAFKA_PORT),
        mongo_port=_port(MONGO_PORT),
        log_dir=data / "logs",
        extra_env=extra_env,
    )
    print(f"kafka      {platform.kafka_bootstrap}")
    if sink is not None:
        print(f"mail       smtp://127.0.0.1:{sink.port}  (kept in {data / 'mail'})")
    print(f"mongodb    {platform.mongo_url}")
    for name in platform.services:
        print(f"{name:<10} {platform.url(name)}  (docs: {platform.url(name)}/docs)")
    print(f"logs in {data / 'logs'}; Ctrl-C stops everything", flush=True)

    stopping = False

    def stop(signum: int, _: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            for name, server in platform.services.items():
                if server.process.poll() is not None:
                    print(f"{name} exited with {server.process.returncode}", file=sys.stderr)
                    stopping = True
            time.sleep(0.5)
    finally:
        print("stopping ...", flush=True)
        platform.stop()
        if sink is not None:
            sink.stop()
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
