"""Personal data sealed at rest: reporter contact details are stored as a Fernet token (AES-128
in CBC mode with an HMAC-SHA256, from the ``cryptography`` package), opened only when a view
that may show them is built. No I/O.

Key rotation: put the new key first in ``PII_KEYS`` and keep the old ones after it. New data
is sealed with the first key; data sealed with any listed key still opens; ``reseal`` moves a
token to the first key; once every stored record has been resealed (a job that reads and
rewrites them), the old key can be dropped.
"""

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, MultiFernet

SEALED = "sealed"
# A value sealed under one report's own data key (``DataKey``), as stored.
REPORT_SEALED = "report_sealed"


class Sealer:
    """Seals and opens JSON values with the first of its keys (any of them opens)."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        self._fingerprint_key = hashlib.sha256(b"lapor-fingerprint|" + keys[0].encode()).digest()

    def seal(self, value: Any) -> dict[str, str]:
        """The value as a token."""
        token = self._fernet.encrypt(json.dumps(value, ensure_ascii=False).encode())
        return {SEALED: token.decode()}

    def open(self, stored: Any) -> Any:
        """The value a token holds; anything that is not a token (a record stored before
        sealing was enabled) as it is. Raises ``InvalidToken`` for a token no key opens."""
        if not is_sealed(stored):
            return stored
        return json.loads(self._fernet.decrypt(stored[SEALED].encode()))

    def fingerprint(self, value: str) -> str:
        """A keyed hash of ``value`` (HMAC-SHA256 under a key derived from the first sealing
        key): the same value gives the same fingerprint, and without the key no one can tell
        which phone number or address made it, not even by trying them all."""
        return hmac.new(self._fingerprint_key, value.encode(), hashlib.sha256).hexdigest()

    def wrap(self, key: "DataKey") -> str:
        """A report's data key sealed under these keys: how it is stored, and how intake hands
        it to notify (which holds the same keys), never in clear on the wire."""
        token: str = self.seal(key.key)[SEALED]
        return token

    def unwrap(self, token: str) -> "DataKey":
        """The data key a ``wrap`` token holds."""
        return DataKey(self.open({SEALED: token}))

    def service_key(self, caller: str) -> str:
        """What a platform service shows another to be let in (its internal endpoints): a
        fingerprint of the caller's name, which only holders of these keys can make."""
        return self.fingerprint(f"lapor-service|{caller}")

    def reseal(self, stored: Any) -> Any:
        """The token re-encrypted with the first key (or a plain value sealed)."""
        if not is_sealed(stored):
            return self.seal(stored)
        return {SEALED: self._fernet.rotate(stored[SEALED].encode()).decode()}


def is_sealed(stored: Any) -> bool:
    """True for a stored token."""
    return isinstance(stored, dict) and set(stored) == {SEALED}


class DataKey:
    """One report's own key: everything personal about the report is sealed under it, wherever
    it is copied (the topic, dead letters, read models, backups), so destroying the one stored
    key makes every copy unreadable at once (crypto-shredding)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self._fernet = Fernet(key.encode())

    @classmethod
    def new(cls) -> "DataKey":
        """A fresh random key."""
        return cls(Fernet.generate_key().decode())

    def seal(self, value: Any) -> str:
        """The value as a token (a string: events carry it as it is)."""
        return self._fernet.encrypt(json.dumps(value, ensure_ascii=False).encode()).decode()

    def open(self, token: str) -> Any:
        """The value a token holds; raises ``InvalidToken`` for one this key did not seal."""
        return json.loads(self._fernet.decrypt(token.encode()))


def report_sealed(token: str) -> dict[str, str]:
    """A token under a report's data key, as a stored field holds it."""
    return {REPORT_SEALED: token}


def report_token(stored: Any) -> str | None:
    """The token of a stored field sealed under a report's data key; None for anything else."""
    if isinstance(stored, dict) and set(stored) == {REPORT_SEALED}:
        token: str = stored[REPORT_SEALED]
        return token
    return None
