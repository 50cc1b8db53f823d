"""The outside systems notify talks to, as real HTTP servers: an SMS gateway (which can be told
to fail), an agency app receiving signed webhooks (which verifies them as an integrator
would, with ``services.notify.signing``), and intake's key endpoint for a notify run alone."""

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response

from kernel.sealing import DataKey, Sealer
from services.intake.internal_api import internal_router
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


@dataclass
class KeyVault:
    """Intake's own internal key endpoint, serving the data keys the test factories sealed
    with (``tests.factories.DATA_KEYS``): what notify needs of intake when it runs alone."""

    keys: dict[str, DataKey]
    sealer: Sealer
    asked: list[list[str]] = field(default_factory=list)

    async def find(self, complaint_ids: Iterable[str]) -> dict[str, DataKey]:
        wanted = list(complaint_ids)
        self.asked.append(wanted)
        return {cid: self.keys[cid] for cid in wanted if cid in self.keys}

    def forget(self, complaint_id: str) -> None:
        """Nothing kept in memory here (the vault is the keys' one place)."""

    def app(self) -> FastAPI:
        app = FastAPI()
        app.include_router(internal_router(self, self.sealer))
        return app
