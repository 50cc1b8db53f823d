"""Signed webhooks: how notify signs a delivery and how a receiving agency app verifies it.

Headers on every delivery::

    X-Lapor-Delivery:  <delivery ID, stable across retries: the receiver's idempotency key>
    X-Lapor-Timestamp: <Unix seconds when this attempt was signed>
    X-Lapor-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<delivery ID>.<body>")>

A receiver recomputes the signature with the shared secret (constant-time compare), refuses a
timestamp outside its tolerance (a captured request cannot be replayed later), and refuses a
delivery ID it has already accepted within the tolerance (nor replayed at once). Pure code;
the receiver keeps the seen IDs (``ReplayGuard`` is an in-memory one for a single process).
"""

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field

DELIVERY = "X-Lapor-Delivery"
TIMESTAMP = "X-Lapor-Timestamp"
SIGNATURE = "X-Lapor-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


def signature(secret: str, *, timestamp: int, delivery_id: str, body: bytes) -> str:
    """The ``X-Lapor-Signature`` value."""
    signed = f"{timestamp}.{delivery_id}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def signed_headers(secret: str, *, timestamp: int, delivery_id: str, body: bytes) -> dict[str, str]:
    """The headers a delivery carries."""
    return {
        DELIVERY: delivery_id,
        TIMESTAMP: str(timestamp),
        SIGNATURE: signature(secret, timestamp=timestamp, delivery_id=delivery_id, body=body),
    }


class InvalidDelivery(ValueError):
    """The request is not an authentic, fresh delivery; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ReplayGuard:
    """Delivery IDs accepted within the tolerance (older ones are refused by their timestamp)."""

    seen: dict[str, int] = field(default_factory=dict)

    def accept(self, delivery_id: str, timestamp: int, *, now: int, tolerance: int) -> bool:
        """Record the ID; False when it was already accepted."""
        for old in [k for k, at in self.seen.items() if at < now - tolerance]:
            del self.seen[old]
        if delivery_id in self.seen:
            return False
        self.seen[delivery_id] = timestamp
        return True


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: int,
    guard: ReplayGuard | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> str:
    """The delivery ID of an authentic, fresh, first-seen delivery; raises ``InvalidDelivery``."""
    lowered = {k.lower(): v for k, v in headers.items()}
    delivery_id = lowered.get(DELIVERY.lower())
    raw_timestamp = lowered.get(TIMESTAMP.lower())
    given = lowered.get(SIGNATURE.lower())
    if not delivery_id or not raw_timestamp or not given:
        raise InvalidDelivery("missing signature headers")
    try:
        timestamp = int(raw_timestamp)
    except ValueError as exc:
        raise InvalidDelivery("timestamp is not Unix seconds") from exc
    expected = signature(secret, timestamp=timestamp, delivery_id=delivery_id, body=body)
    if not hmac.compare_digest(expected, given):
        raise InvalidDelivery("signature does not match")
    if abs(now - timestamp) > tolerance:
        raise InvalidDelivery("timestamp outside the tolerance (replayed or clock skew)")
    if guard is not None and not guard.accept(delivery_id, timestamp, now=now, tolerance=tolerance):
        raise InvalidDelivery("delivery already accepted (replay)")
    return delivery_id
