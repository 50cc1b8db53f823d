"""A local SMS gateway for the development stack, as the mail catcher is for email: it takes
notify's ``POST /send`` (JSON ``{to, text, reference}``, a bearer token) like a real gateway,
keeps each message as a line of ``messages.jsonl`` in its folder, and lists them at
``GET /messages``. With it, SMS reporters hear back in ``make run`` instead of every reply
being dead-lettered for want of a gateway."""

import json
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from devstack.infra import free_port

DEV_TOKEN = "dev-sms-gateway"  # noqa: S105 (a local sink's token)


class SmsSink:
    """An HTTP SMS gateway on 127.0.0.1 that keeps what it is sent."""

    def __init__(self, *, port: int | None = None, store: Path, token: str = DEV_TOKEN) -> None:
        self.port = port or free_port()
        self.token = token
        self.store = store
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where notify posts messages (``NOTIFY_SMS_GATEWAY_URL``)."""
        return f"http://127.0.0.1:{self.port}/send"

    def start(self) -> "SmsSink":
        """Serve in a background thread."""
        self.store.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def _keep(self, message: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(message)
            with (self.store / "messages.jsonl").open("a", encoding="utf-8") as file:
                file.write(json.dumps(message, ensure_ascii=False) + "\n")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path != "/send":
                    return self._answer(HTTPStatus.NOT_FOUND)
                if self.headers.get("Authorization") != f"Bearer {sink.token}":
                    return self._answer(HTTPStatus.UNAUTHORIZED)
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    payload = json.loads(self.rfile.read(length))
                    message = {
                        "to": str(payload["to"]),
                        "text": str(payload["text"]),
                        "reference": str(payload.get("reference", "")),
                        "at": time.time(),
                    }
                except (ValueError, KeyError, TypeError):
                    return self._answer(HTTPStatus.BAD_REQUEST)
                sink._keep(message)
                self._answer(HTTPStatus.ACCEPTED)

            def do_GET(self) -> None:
                if self.path != "/messages":
                    return self._answer(HTTPStatus.NOT_FOUND)
                with sink._lock:
                    body = json.dumps(sink.received, ensure_ascii=False).encode()
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _answer(self, status: HTTPStatus) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the messages file is the record

        return Handler
