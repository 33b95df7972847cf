"""Standard Webhooks signatures (https://www.standardwebhooks.com), for us and customers.

A secret reads ``whsec_<base64 of the key bytes>``. The signature of a message is
``v1,<base64 HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}")>``; the ``webhook-signature``
header carries one or more of them separated by spaces (during a secret rotation, one per
secret), and a receiver accepts the message when any one matches.
"""

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Sequence
from secrets import token_bytes

from autoledger.kit.errors import Unauthenticated

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret  # nosec B105
SECRET_BYTES = 32
DEFAULT_TOLERANCE_SECONDS = 300


class InvalidSignature(Unauthenticated):
    code = "webhooks.invalid_signature"
    title = "Invalid webhook signature"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from None


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``body`` sent as message ``msg_id`` at ``timestamp``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per secret, space-separated."""
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets)


def verify(
    secret: str,
    msg_id: str,
    timestamp: str | int,
    body: bytes,
    signatures: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Check the three ``webhook-*`` headers of a received message; raise on any mismatch.

    The timestamp must be within ``tolerance_seconds`` of ``now`` (replay protection); any
    one of the space-separated ``v1`` signatures must match, compared in constant time.
    """
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise InvalidSignature("webhook-timestamp is not a unix time in seconds") from None
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_seconds:
        raise InvalidSignature("webhook-timestamp is outside the tolerance window")
    expected = sign(secret, msg_id, sent_at, body).encode()
    matched = False
    for candidate in signatures.split():
        # Keep comparing after a match, so the time spent says nothing about which one.
        matched |= hmac.compare_digest(candidate.encode(), expected)
    if not matched:
        raise InvalidSignature("no signature in webhook-signature matches")
