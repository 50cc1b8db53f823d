"""``make run``: the whole platform on this machine, until Ctrl-C.

Uses the Kafka and MongoDB named by ``KAFKA_BOOTSTRAP_SERVERS`` and ``MONGO_URL`` when they are
set; otherwise starts the embedded Tansu broker and SecantusDB (data kept in ``.data/mongo``).
Email goes to ``NOTIFY_SMTP_HOST`` when set; otherwise to a local mail catcher that keeps each
message as an .eml file in ``.data/mail``. SMS goes to ``NOTIFY_SMS_GATEWAY_URL`` when set;
otherwise to a local SMS gateway that keeps each message in ``.data/sms/messages.jsonl``. The
inbound SMS webhook and Open311 submission are on, with development credentials (printed),
unless ``INTAKE_SMS_GATEWAY_TOKEN`` / ``INTAKE_OPEN311_API_KEYS`` say otherwise.
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
from devstack.smssink import DEV_TOKEN, SmsSink
from kernel.runner import FRONT_ENDS

MAIL_PORT = 1025
SMS_PORT = 1026
# Known to everyone on purpose, like the development JWT secret: make run only.
DEV_SMS_INBOUND_TOKEN = "dev-sms-inbound"  # noqa: S105 (development only, printed)
DEV_OPEN311_KEY = "dev-open311-key"


def _port(wanted: int) -> int:
    """The documented port when it is free, else any free one."""
    try:
        infra.wait_for_port(wanted, timeout=0.1)
    except TimeoutError:
        return wanted  # nothing listens there: use the documented default
    return infra.free_port()


def local_channels(data: Path) -> tuple[dict[str, str], list[MailSink | SmsSink], list[str]]:
    """The environment that turns every channel on in development, the local sinks it started
    (mail catcher, SMS gateway) where no real server is named, and what to tell the user."""
    env: dict[str, str] = {}
    sinks: list[MailSink | SmsSink] = []
    notes: list[str] = []
    if not os.environ.get("NOTIFY_SMTP_HOST"):
        mail = MailSink(port=_port(MAIL_PORT), store=data / "mail").start()
        sinks.append(mail)
        env |= {
            "NOTIFY_SMTP_HOST": "127.0.0.1",
            "NOTIFY_SMTP_PORT": str(mail.port),
            "NOTIFY_SMTP_STARTTLS": "false",
        }
        notes.append(f"mail       smtp://127.0.0.1:{mail.port}  (kept in {data / 'mail'})")
    if not os.environ.get("NOTIFY_SMS_GATEWAY_URL"):
        sms = SmsSink(port=_port(SMS_PORT), store=data / "sms").start()
        sinks.append(sms)
        env |= {"NOTIFY_SMS_GATEWAY_URL": sms.url, "NOTIFY_SMS_GATEWAY_TOKEN": DEV_TOKEN}
        notes.append(
            f"sms out    {sms.url}  (kept in {data / 'sms' / 'messages.jsonl'}, "
            f"listed at http://127.0.0.1:{sms.port}/messages)"
        )
    inbound = os.environ.get("INTAKE_SMS_GATEWAY_TOKEN") or DEV_SMS_INBOUND_TOKEN
    env["INTAKE_SMS_GATEWAY_TOKEN"] = inbound
    notes.append(f"sms in     POST intake /v1/channels/sms with X-Gateway-Token: {inbound}")
    keys = os.environ.get("INTAKE_OPEN311_API_KEYS") or f'["{DEV_OPEN311_KEY}"]'
    env["INTAKE_OPEN311_API_KEYS"] = keys
    notes.append(f"open311    POST intake /open311/v2/requests.json with api_key from {keys}")
    return env, sinks, notes


def main() -> None:
    """Start everything, print where it listens, stop cleanly on Ctrl-C or SIGTERM."""
    data = Path(os.environ.get("LAPOR_DATA_DIR", ".data"))
    ports = {name: _port(port) for name, port in DEFAULT_PORTS.items()}
    print("starting the LAPOR platform ...", flush=True)
    extra_env, sinks, notes = local_channels(data)
    platform = start_platform(
        kafka_bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
        mongo_url=os.environ.get("MONGO_URL"),
        mongo_storage=data / "mongo",
        ports=ports,
        kafka_port=_port(KAFKA_PORT),
        mongo_port=_port(MONGO_PORT),
        log_dir=data / "logs",
        extra_env=extra_env,
        front_ends=FRONT_ENDS,
    )
    print(f"kafka      {platform.kafka_bootstrap}")
    for note in notes:
        print(note)
    print(f"mongodb    {platform.mongo_url}")
    for name in platform.services:
        print(f"{name:<10} {platform.url(name)}  (docs: {platform.url(name)}/docs)")
    print(f"logs in {data / 'logs'}; Ctrl-C stops everything")
    print(f"open the portal: {platform.url('portal')}  (sign in at /masuk)", flush=True)

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
        for sink in sinks:
            sink.stop()
        print("stopped", flush=True)


if __name__ == "__main__":
    main()
