"""The pure part of envelope encryption: formats, associated data, blind-index tokens, masks.

Field ciphertext (text, standard base64 of)::

    b"v1" | key version (uint32, big-endian) | nonce (12 bytes) | AES-256-GCM ciphertext+tag

The associated data binds the tenant, table, column and key version, so a ciphertext copied
to another tenant, row kind or column — or relabelled with another key version — fails to
decrypt instead of decrypting to something plausible.
"""

import base64
import binascii
import hashlib
import hmac
import os
import re
import struct
import unicodedata
import uuid
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from autoledger.platform.crypto.errors import DecryptionFailed

FORMAT_V1 = b"v1"
NONCE_BYTES = 12
_VERSION = struct.Struct(">I")
_HEADER_BYTES = len(FORMAT_V1) + _VERSION.size
_TAG_BYTES = 16
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_WHITESPACE = re.compile(r"\s+")


def _name(kind: str, value: str) -> bytes:
    if not _NAME.fullmatch(value):
        raise ValueError(f"{kind} {value!r} is not a lowercase SQL identifier")
    return value.encode()


def data_key_aad(tenant_id: uuid.UUID, purpose: str, version: int) -> bytes:
    """What a wrapped data key is bound to: unwrapping it as another tenant's, purpose's or
    version's key fails."""
    return b"\x00".join(
        (b"autoledger/data-key/v1", tenant_id.bytes, _name("purpose", purpose)),
    ) + _VERSION.pack(version)


def field_aad(tenant_id: uuid.UUID, table: str, column: str, version: int) -> bytes:
    # NUL cannot occur in an identifier, so the joined parts cannot be re-split differently.
    return b"\x00".join(
        (
            b"autoledger/field/v1",
            tenant_id.bytes,
            _name("table", table),
            _name("column", column),
        )
    ) + _VERSION.pack(version)


def seal(key: bytes, version: int, plaintext: bytes, aad: bytes) -> str:
    """AES-256-GCM under a fresh random 96-bit nonce. A data key should see well under 2**32
    encryptions (NIST SP 800-38D's bound for random nonces): rotate it long before."""
    return sealer(key, version, aad)(plaintext)


def sealer(key: bytes, version: int, aad: bytes) -> Callable[[bytes], str]:
    """:func:`seal` for many plaintexts under one key and AAD (the key schedule is made once)."""
    cipher = AESGCM(key)
    header = FORMAT_V1 + _VERSION.pack(version)
    bound = header + aad  # the header is bound too

    def seal_one(plaintext: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        body = cipher.encrypt(nonce, plaintext, bound)
        return base64.b64encode(header + nonce + body).decode("ascii")

    return seal_one


def key_version(ciphertext: str) -> int:
    """The data-key version a ciphertext names, read before any key is fetched."""
    return _VERSION.unpack_from(_decode(ciphertext), len(FORMAT_V1))[0]  # type: ignore[no-any-return]


def open_sealed(key: bytes, ciphertext: str, aad: bytes) -> bytes:
    raw = _decode(ciphertext)
    nonce = raw[_HEADER_BYTES : _HEADER_BYTES + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(
            nonce, raw[_HEADER_BYTES + NONCE_BYTES :], raw[:_HEADER_BYTES] + aad
        )
    except InvalidTag:
        raise DecryptionFailed(
            "ciphertext does not authenticate: tampered, or not this tenant's, table's or column's"
        ) from None


def _decode(ciphertext: str) -> bytes:
    try:
        raw = base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionFailed("ciphertext is not base64") from None
    if not raw.startswith(FORMAT_V1):
        raise DecryptionFailed("ciphertext is not in a known format (expected v1)")
    if len(raw) < _HEADER_BYTES + NONCE_BYTES + _TAG_BYTES:
        raise DecryptionFailed("ciphertext is truncated")
    return raw


# blind index
def normalize(value: str) -> str:
    """The form equal values share: Unicode NFKC, no whitespace, upper case. So
    ``de89 3704 0044 0532 0130 00`` and ``DE89370400440532013000`` index the same."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", value)).upper()


def index_token(key: bytes, table: str, column: str, value: str) -> str:
    """HMAC-SHA256 of the normalized value, under a label naming table and column, so the
    same value in two columns gives unrelated tokens."""
    message = b"\x00".join(
        (b"autoledger/blind-index/v1", _name("table", table), _name("column", column))
    )
    return hmac.new(key, message + b"\x00" + normalize(value).encode(), hashlib.sha256).hexdigest()


# display
