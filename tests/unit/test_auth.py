"""Bearer tokens: what is accepted, and every way a token is refused."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from kernel.auth import AuthenticationError, TokenVerifier, issue_token
from kernel.settings import ServiceSettings
from schemas.complaint import Actor, Role

pytestmark = pytest.mark.reliability

SETTINGS = ServiceSettings()


def refused(token: str, settings: ServiceSettings = SETTINGS) -> str:
    with pytest.raises(AuthenticationError) as caught:
        TokenVerifier(settings).verify(token)
    return caught.value.code


def claims(**changes: object) -> dict[str, object]:
    now = datetime.now(UTC)
    base: dict[str, object] = {
        "sub": "user-1",
        "role": "agency_admin",
        "agency_id": "pemkot-ambon",
        "iss": SETTINGS.auth_jwt_issuer,
        "aud": SETTINGS.auth_jwt_audience,
        "exp": now + timedelta(hours=1),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(body: dict[str, object], key: str | None = None) -> str:
    return jwt.encode(body, key or SETTINGS.auth_jwt_secret.get_secret_value(), algorithm="HS256")


def test_a_valid_token_names_role_agency_and_unit() -> None:
    token = issue_token(
        SETTINGS, role=Role.UNIT_OFFICER, subject="o-1", agency_id="pemkot-ambon", unit_id="pu"
    )
    assert TokenVerifier(SETTINGS).verify(token) == Actor(
        Role.UNIT_OFFICER, "o-1", agency_id="pemkot-ambon", unit_id="pu"
    )


def test_the_none_algorithm_is_refused() -> None:
    unsigned = jwt.encode(claims(), key=None, algorithm="none")  # type: ignore[arg-type]
    assert refused(unsigned) == "invalid_token"


def test_expired_wrong_issuer_wrong_audience_and_tampered_tokens_are_refused() -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    assert refused(signed(claims(exp=past))) == "token_expired"
    assert refused(signed(claims(iss="someone-else"))) == "invalid_token"
    assert refused(signed(claims(aud="another-app"))) == "invalid_token"
    assert refused(signed(claims(), key="a-different-secret-of-enough-length!!")) == "invalid_token"
    header, _, signature = signed(claims()).split(".")
    forged = signed(claims(role="national_admin")).split(".")[1]
    assert refused(f"{header}.{forged}.{signature}") == "invalid_token"
    assert refused("not-a-jwt") == "invalid_token"


@pytest.mark.parametrize(
    "body",
    [
        claims(role="system"),
        claims(role="superuser"),
        claims(agency_id=None),
        claims(role="unit_officer"),
        claims(sub=None),
        claims(exp=None),
    ],
    ids=[
        "system",
        "unknown-role",
        "agency-without-agency",
        "unit-without-unit",
        "no-sub",
        "no-exp",
    ],
)
def test_tokens_that_claim_too_much_or_too_little_are_refused(body: dict[str, object]) -> None:
    assert refused(signed(body)) == "invalid_token"


PRODUCTION_PII_KEY = Fernet.generate_key().decode()


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError, match="AUTH_JWT_PUBLIC_KEY or an AUTH_JWT_SECRET"):
        ServiceSettings(environment="production")
    strong = ServiceSettings(
        environment="production", auth_jwt_secret="x" * 40, pii_keys=[PRODUCTION_PII_KEY]
    )
    assert strong.environment == "production"


def test_development_tokens_are_minted_but_never_in_production(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kernel.admin import main

    main(["token", "--role", "unit_officer", "--sub", "o-9", "--agency", "a-1", "--unit", "u-1"])
    printed = capsys.readouterr().out.strip()
    assert TokenVerifier(SETTINGS).verify(printed) == Actor(Role.UNIT_OFFICER, "o-9", "a-1", "u-1")

    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("AUTH_JWT_SECRET", "p" * 40)
    monkeypatch.setenv("PII_KEYS", f'["{PRODUCTION_PII_KEY}"]')
    with pytest.raises(SystemExit):
        main(["token", "--role", "national_admin", "--sub", "root"])
