"""Who is using the portal: a signed, HttpOnly, SameSite cookie, and its CSRF token.

The cookie holds the visitor's CSRF token and, once signed in, who they are and the bearer token
the portal sends to the services on their behalf. It is signed (HS256) so it cannot be forged or
altered; it is not a secret from its own holder. Every visitor gets one, signed in or not, so
every form (filing a report included) carries a token a third-party page cannot know.
"""

import hmac
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import Response

from schemas.complaint import Actor, Role

COOKIE = "lapor_portal"
CSRF_FIELD = "csrf_token"
AUDIENCE = "lapor-portal"


@dataclass(frozen=True)
class Session:
    """A visitor, anonymous or signed in."""

    csrf: str
    subject: str | None = None
    name: str | None = None
    role: str | None = None
    agency_id: str | None = None
    unit_id: str | None = None
    token: str | None = None  # the bearer token the services accept for this person

    @property
    def signed_in(self) -> bool:
        return self.subject is not None and self.token is not None

    @property
    def actor(self) -> Actor | None:
        if not self.signed_in or self.role is None or self.subject is None:
            return None
        return Actor(
            role=Role(self.role),
            subject=self.subject,
            agency_id=self.agency_id,
            unit_id=self.unit_id,
        )

    def signing_in(self, *, actor: Actor, name: str, token: str) -> "Session":
        """This visitor signed in; a fresh CSRF token, so one seen before sign-in is worthless."""
        return Session(
            csrf=secrets.token_urlsafe(24),
            subject=actor.subject,
            name=name,
            role=actor.role.value,
            agency_id=actor.agency_id,
            unit_id=actor.unit_id,
            token=token,
        )

    def signing_out(self) -> "Session":
        return Session(csrf=secrets.token_urlsafe(24))

    def accepts(self, submitted: str | None) -> bool:
        """Whether a form's CSRF token is this session's."""
        return submitted is not None and hmac.compare_digest(submitted, self.csrf)


class SessionCookies:
    """Reads and writes the session cookie."""

    def __init__(self, *, key: str, secure: bool, lifetime: timedelta) -> None:
        self._key = key
        self._secure = secure
        self._lifetime = lifetime

    def read(self, request: Request) -> tuple[Session, bool]:
        """The request's session, and whether it is new (so the response must set it)."""
        raw = request.cookies.get(COOKIE)
        if raw:
            try:
                claims = jwt.decode(raw, self._key, algorithms=["HS256"], audience=AUDIENCE)
                fields: dict[str, Any] = {k: claims.get(k) for k in Session.__dataclass_fields__}
                if isinstance(fields["csrf"], str):
                    return Session(**fields), False
            except jwt.InvalidTokenError:
                pass
        return Session(csrf=secrets.token_urlsafe(24)), True

    def write(self, response: Response, session: Session, *, now: datetime | None = None) -> None:
        moment = now or datetime.now(UTC)
        claims: dict[str, Any] = {
            **{k: v for k, v in asdict(session).items() if v is not None},
            "aud": AUDIENCE,
            "iat": moment,
            "exp": moment + self._lifetime,
        }
        response.set_cookie(
            COOKIE,
            jwt.encode(claims, self._key, algorithm="HS256"),
            max_age=int(self._lifetime.total_seconds()),
            httponly=True,
            secure=self._secure,
            samesite="lax",
            path="/",
        )
