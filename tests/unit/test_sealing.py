"""Sealing personal data at rest: round trip, rotation, wrong keys, production refusal."""

import pytest
from cryptography.fernet import Fernet, InvalidToken
from pydantic import ValidationError

from kernel.sealing import Sealer, is_sealed
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
