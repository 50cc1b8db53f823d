"""A local SMTP server (aiosmtpd) that keeps what it receives: the development stack's mail
catcher, and the tests' real SMTP peer. It can be made slow or failing to exercise notify."""

import asyncio
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from devstack.infra import free_port


@dataclass(frozen=True)
class Received:
    """One accepted email."""

    message_id: str
    to: tuple[str, ...]
    subject: str
    body: str
    at: float


@dataclass
class _Handler:
    store: Path | None
    received: list[Received] = field(default_factory=list)
    delay_seconds: float = 0.0
    fail_with: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.fail_with:
            return self.fail_with
        raw = envelope.original_content or b""
        parsed: Message = message_from_bytes(raw)
        payload: Any = parsed.get_payload(decode=True)
        body = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        mail = Received(
            message_id="".join(str(parsed.get("Message-ID", "")).split()),  # unfolded
            to=tuple(str(rcpt) for rcpt in envelope.rcpt_tos),
            subject=" ".join(str(parsed.get("Subject", "")).split()),
            body=body,
            at=time.time(),
        )
        with self.lock:
            self.received.append(mail)
        if self.store is not None:
            self.store.mkdir(parents=True, exist_ok=True)
            name = f"{time.time_ns()}.eml"
            (self.store / name).write_bytes(raw)
        return "250 Message accepted for delivery"


class MailSink:
    """Start with ``start()``; ``received`` lists what arrived; ``stop()`` when done."""

    def __init__(self, *, port: int | None = None, store: Path | None = None) -> None:
        self.port = port or free_port()
        self._handler = _Handler(store=store)
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> "MailSink":
        """Listen on 127.0.0.1:port (in its own thread)."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self._controller.stop()

    @property
    def received(self) -> list[Received]:
        """Everything accepted so far, in order."""
        with self._handler.lock:
            return list(self._handler.received)

    def slow_down(self, seconds: float) -> None:
        """Take this long to accept each message from now on."""
        self._handler.delay_seconds = seconds

    def fail(self, reply: str | None) -> None:
        """Answer every message with this SMTP reply (e.g. ``451 try later``); None: accept."""
        self._handler.fail_with = reply
