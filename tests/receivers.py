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


@dataclass
class IdentityProvider:
    """A ministry's OpenID Connect provider as the portal meets it: discovery, published keys,
    an authorization endpoint that signs the configured person straight in (a real one asks
    for their password first), and a token endpoint that checks the code, the client's secret
    and the PKCE verifier. Tokens are RS256 with the claims the services read."""

    client_id: str
    client_secret: str
    redirect_uri: str
    person: dict[str, Any]  # sub, name, role, agency_id, unit_id
    audience: str = "lapor"
    issuer: str = ""  # set once served
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    exchanged: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def _sign(self, claims: dict[str, Any]) -> str:
        import jwt

        now = int(time.time())
        body = {"iss": self.issuer, "iat": now, "exp": now + 300, **claims}
        return jwt.encode(body, self._key, algorithm="RS256", headers={"kid": "k1"})

    def app(self) -> FastAPI:
        import base64
        import hashlib
        import json
        import secrets
        from urllib.parse import urlencode

        import jwt
        from fastapi.responses import JSONResponse, RedirectResponse

        provider = FastAPI()

        @provider.get("/.well-known/openid-configuration")
        async def discovery() -> dict[str, str]:
            return {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
            }

        @provider.get("/jwks")
        async def jwks() -> dict[str, Any]:
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
            return {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}

        @provider.get("/authorize")
        async def authorize(request: Request) -> Response:
            query = request.query_params
            if query["client_id"] != self.client_id or query["redirect_uri"] != self.redirect_uri:
                return JSONResponse({"error": "unauthorized_client"}, status_code=400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "nonce": query["nonce"],
                "challenge": query["code_challenge"],
                "method": query["code_challenge_method"],
            }
            back = urlencode({"code": code, "state": query["state"]})
            return RedirectResponse(f"{self.redirect_uri}?{back}", status_code=302)

        @provider.post("/token")
        async def token(request: Request) -> Response:
            form = await request.form()
            grant = self.codes.pop(str(form.get("code", "")), None)
            verifier = str(form.get("code_verifier", ""))
            digest = hashlib.sha256(verifier.encode()).digest()
            expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if (
                grant is None
                or form.get("client_secret") != self.client_secret
                or form.get("redirect_uri") != self.redirect_uri
                or grant["method"] != "S256"
                or grant["challenge"] != expected
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            self.exchanged.append(str(form.get("code")))
            person = self.person
            id_token = self._sign(
                {
                    "aud": self.client_id,
                    "sub": person["sub"],
                    "name": person["name"],
                    "nonce": grant["nonce"],
                }
            )
            claims = {k: v for k, v in person.items() if k != "name"}
            access = self._sign({"aud": self.audience, **claims})
            return JSONResponse(
                {"access_token": access, "id_token": id_token, "token_type": "Bearer"}
            )

        return provider
