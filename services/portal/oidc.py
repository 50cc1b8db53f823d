"""Sign-in through a ministry's OpenID Connect provider (authorization code flow with PKCE).

The provider's access token is what the portal then sends to the services: it must carry the
claims the APIs already read (``role``, ``agency_id``, ``unit_id``, and their ``iss`` and
``aud``), so it is checked here exactly as the services will check it (``TokenVerifier``, with
``AUTH_JWT_PUBLIC_KEY``). The ID token, checked against the provider's published keys, gives the
person's name. State, nonce and the PKCE verifier wait in a short-lived signed cookie.
"""

import asyncio
import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from kernel.auth import AuthenticationError, TokenVerifier
from schemas.complaint import Actor
from services.portal.config import PortalSettings

PENDING_COOKIE = "lapor_oidc"
PENDING_SECONDS = 600
DISCOVERY_SECONDS = 3600.0


class SignInFailed(Exception):
    """The provider's answer cannot be trusted or used; ``code`` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Pending:
    """What the portal remembers between sending a person to the provider and their return."""

    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class SignedIn:
    actor: Actor
    name: str
    token: str


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class OidcProvider:
    """The configured provider: where to send people, and how to trust what comes back."""

    def __init__(self, settings: PortalSettings, *, key: str) -> None:
        self._settings = settings
        self._key = key  # signs the pending cookie
        self._verifier = TokenVerifier(settings)
        self._discovery: dict[str, Any] = {}
        self._discovered_at = -DISCOVERY_SECONDS
        self._jwks: jwt.PyJWKClient | None = None

    @property
    def configured(self) -> bool:
        s = self._settings
        return bool(s.portal_oidc_issuer and s.portal_oidc_client_id and s.portal_oidc_redirect_url)

    async def _document(self) -> dict[str, Any]:
        if time.monotonic() - self._discovered_at > DISCOVERY_SECONDS:
            url = (
                self._settings.portal_oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
            )
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.get(url)
            if answer.status_code != 200:
                raise SignInFailed(
                    "provider_unavailable", f"discovery answered {answer.status_code}"
                )
            self._discovery = answer.json()
            self._discovered_at = time.monotonic()
            self._jwks = jwt.PyJWKClient(self._discovery["jwks_uri"], cache_keys=True)
        return self._discovery

    async def start(self) -> tuple[str, str]:
        """The provider's URL to send the person to, and the pending cookie to set."""
        document = await self._document()
        pending = Pending(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self._settings.portal_oidc_client_id,
                "redirect_uri": self._settings.portal_oidc_redirect_url,
                "scope": "openid profile",
                "state": pending.state,
                "nonce": pending.nonce,
                "code_challenge": challenge(pending.verifier),
                "code_challenge_method": "S256",
            }
        )
        cookie = jwt.encode(
            {**pending.__dict__, "exp": int(time.time()) + PENDING_SECONDS},
            self._key,
            algorithm="HS256",
        )
        return f"{document['authorization_endpoint']}?{query}", cookie

    async def finish(self, *, code: str, state: str, cookie: str | None) -> SignedIn:
        """Exchange the code for tokens and check them; raises ``SignInFailed``."""
        try:
            claims = jwt.decode(cookie or "", self._key, algorithms=["HS256"])
            pending = Pending(claims["state"], claims["nonce"], claims["verifier"])
        except (jwt.InvalidTokenError, KeyError) as exc:
            raise SignInFailed("sign_in_expired", "the sign-in took too long; start again") from exc
        if not secrets.compare_digest(state, pending.state):
            raise SignInFailed("state_mismatch", "the answer is not for this sign-in")
        document = await self._document()
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                document["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self._settings.portal_oidc_redirect_url,
                    "code_verifier": pending.verifier,
                    "client_id": self._settings.portal_oidc_client_id,
                    "client_secret": self._settings.portal_oidc_client_secret.get_secret_value(),
                },
            )
        if answer.status_code != 200:
            raise SignInFailed(
                "code_refused", f"the provider refused the code ({answer.status_code})"
            )
        tokens = answer.json()
        identity = await asyncio.to_thread(
            self._identity, str(tokens.get("id_token", "")), pending.nonce
        )
        access = str(tokens.get("access_token", ""))
        try:
            actor = self._verifier.verify(access)
        except AuthenticationError as exc:
            raise SignInFailed(
                "token_unusable", f"the services would refuse it: {exc.message}"
            ) from exc
        name = str(identity.get("name") or identity.get("preferred_username") or actor.subject)
        return SignedIn(actor=actor, name=name, token=access)

    def _identity(self, id_token: str, nonce: str) -> dict[str, Any]:
        # PyJWKClient fetches the provider's keys with urllib (blocking): run in a thread.
        assert self._jwks is not None
        try:
            key = self._jwks.get_signing_key_from_jwt(id_token)
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=["RS256", "ES256"],
                audience=self._settings.portal_oidc_client_id,
                issuer=self._settings.portal_oidc_issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise SignInFailed("id_token_invalid", f"the ID token is not valid: {exc}") from exc
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise SignInFailed("nonce_mismatch", "the ID token is not for this sign-in")
        return claims
