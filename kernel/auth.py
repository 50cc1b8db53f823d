"""Bearer-token authentication: JWTs carrying a role and the agency/unit a user belongs to.

Tokens come from the deployment's identity provider (RS256/ES256 with ``AUTH_JWT_PUBLIC_KEY``)
or, in development, are signed with ``AUTH_JWT_SECRET`` (HS256; ``lapor-admin token`` mints
them). ``exp``, ``iss``, ``aud``, ``sub`` and ``role`` are required; the ``none`` algorithm and
the platform's own ``system`` role are never accepted from a token.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from kernel.settings import ServiceSettings
from schemas.complaint import Actor, Role

TOKEN_ROLES = frozenset(Role) - {Role.SYSTEM}


class AuthenticationError(Exception):
    """The bearer token is missing, malformed, expired, or not ours. ``code`` is stable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TokenVerifier:
    """Checks signatures and claims with the configured key."""

    def __init__(self, settings: ServiceSettings) -> None:
        if settings.auth_jwt_public_key:
            self._key: Any = settings.auth_jwt_public_key
            self._algorithms = ["RS256", "ES256"]
        else:
            self._key = settings.auth_jwt_secret.get_secret_value()
            self._algorithms = ["HS256"]
        self._issuer = settings.auth_jwt_issuer
        self._audience = settings.auth_jwt_audience

    def verify(self, token: str) -> Actor:
        """The principal a valid token names."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "iss", "aud", "sub"]},
                leeway=30,
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthenticationError("token_expired", "the token has expired") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError("invalid_token", f"the token is not valid: {exc}") from exc
        return _principal(claims)


def _principal(claims: dict[str, Any]) -> Actor:
    try:
        role = Role(str(claims.get("role", "")))
    except ValueError as exc:
        raise AuthenticationError("invalid_token", "the token names no known role") from exc
    if role not in TOKEN_ROLES:
        raise AuthenticationError("invalid_token", f"role {role} cannot come from a token")
    agency_id = claims.get("agency_id")
    unit_id = claims.get("unit_id")
    if role in (Role.AGENCY_ADMIN, Role.UNIT_OFFICER) and not isinstance(agency_id, str):
        raise AuthenticationError("invalid_token", f"{role.described} token needs agency_id")
    if role is Role.UNIT_OFFICER and not isinstance(unit_id, str):
        raise AuthenticationError("invalid_token", "a unit_officer token needs unit_id")
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise AuthenticationError("invalid_token", "the token's sub is empty")
    return Actor(role=role, subject=subject, agency_id=agency_id, unit_id=unit_id)


def issue_token(
    settings: ServiceSettings,
    *,
    role: Role,
    subject: str,
    agency_id: str | None = None,
    unit_id: str | None = None,
    lifetime: timedelta = timedelta(hours=8),
    now: datetime | None = None,
) -> str:
    """A development token signed with AUTH_JWT_SECRET (identity providers issue real ones)."""
    moment = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "role": role.value,
        "iss": settings.auth_jwt_issuer,
        "aud": settings.auth_jwt_audience,
        "iat": moment,
        "exp": moment + lifetime,
    }
    if agency_id is not None:
        claims["agency_id"] = agency_id
    if unit_id is not None:
        claims["unit_id"] = unit_id
    return jwt.encode(claims, settings.auth_jwt_secret.get_secret_value(), algorithm="HS256")
