"""The outside systems notify talks to, as real HTTP servers: an SMS gateway (which can be told
to fail) and an agency app receiving signed webhooks (which verifies them as an integrator
would, with ``services.notify.signing``)."""

import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response

from services.notify.signing import InvalidDelivery, ReplayGuard, verify


@dataclass
class SmsGateway:
    """Accepts ``POST /send``; numbers in ``failing`` get ``failing_status``."""

    token: str
    accepted: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[tuple[float, str]] = field(default_factory=list)
    failing: dict[str, int] = field(default_factory=dict)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/send")
        async def send(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return Response(status_code=401)
            payload = await request.json()
            self.attempts.append((time.monotonic(), payload["to"]))
            status = self.failing.get(payload["to"])
            if status is not None:
                return Response(status_code=status)
            self.accepted.append(payload)
            return Response(status_code=202)

        return app


@dataclass
class AgencyApp:
    """Accepts ``POST /hook`` only when the signature verifies, fresh and not replayed."""

    secret: str
    guard: ReplayGuard = field(default_factory=ReplayGuard)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            body = await request.body()
            try:
                verify(self.secret, request.headers, body, now=int(time.time()), guard=self.guard)
            except InvalidDelivery as exc:
                self.refused.append(exc.reason)
                return Response(status_code=401)
            self.accepted.append({"headers": dict(request.headers), "body": body})
            return Response(status_code=204)

        return app
