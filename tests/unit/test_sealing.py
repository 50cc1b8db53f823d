"""Sealing personal data at rest: round trip, rotation, wrong keys, production refusal."""

import pytest
from cryptography.fernet import Fernet, InvalidToken
from pydantic import ValidationError

from kernel.sealing import DataKey, Sealer, is_sealed, report_sealed, report_token
from kernel.settings import DEV_PII_KEY, ServiceSettings

pytestmark = pytest.mark.reliability

CONTACT = {"name": "Siti Rahma", "email": "siti@example.id", "phone": "+6281234567890"}


def test_a_sealed_contact_opens_only_with_a_listed_key() -> None:
    old, new, stranger = (Fernet.generate_key().decode() for _ in range(3))
    sealed = Sealer([old]).seal(CONTACT)
    assert is_sealed(sealed) and "siti" not in sealed["sealed"]
    assert Sealer([old]).open(sealed) == CONTACT
    rotated = Sealer([new, old])  # a new key first; the old one still opens
    assert rotated.open(sealed) == CONTACT
    moved = rotated.reseal(sealed)
    assert Sealer([new]).open(moved) == CONTACT  # the old key can now be dropped
    with pytest.raises(InvalidToken):
        Sealer([stranger]).open(sealed)
    assert Sealer([old]).open(CONTACT) == CONTACT  # stored before sealing: read as it is


def test_production_refuses_the_development_key() -> None:
    with pytest.raises(ValidationError, match="PII_KEYS"):
        ServiceSettings(
            environment="production",
            auth_jwt_secret="x" * 40,
            pii_keys=[DEV_PII_KEY],
        )
    key = Fernet.generate_key().decode()
    settings = ServiceSettings(
        environment="production",
        auth_jwt_secret="x" * 40,
        pii_keys=[key],
    )
    assert settings.sealer().open(settings.sealer().seal(CONTACT)) == CONTACT


def test_a_report_key_opens_only_its_own_report_and_travels_wrapped() -> None:
    """Each report's contact details open with its own key alone; the platform's keys open
    neither the details nor another report's, and the key itself is handed on only wrapped
    under them."""
    platform = Sealer([Fernet.generate_key().decode()])
    mine, theirs = DataKey.new(), DataKey.new()
    contact = {"name": "Siti Rahma", "email": "siti@example.id", "phone": None}
    token = mine.seal(contact)
    assert "siti" not in token and mine.open(token) == contact
    for wrong in (theirs.open, lambda t: platform.open({"sealed": t})):
        with pytest.raises(InvalidToken):
            wrong(token)
    wrapped = platform.wrap(mine)
    assert mine.key not in wrapped and platform.unwrap(wrapped).open(token) == contact
    assert report_token(report_sealed(token)) == token and report_token({"sealed": token}) is None
    other = Sealer([Fernet.generate_key().decode()])
    assert platform.service_key("notify") != other.service_key("notify")
    assert platform.service_key("notify") != platform.service_key("routing")
