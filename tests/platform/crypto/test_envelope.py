"""The pure formats: field ciphertext, associated data, blind-index tokens, masks."""

import base64
import os
import uuid

import pytest

from autoledger.platform.crypto import DecryptionFailed, mask, normalize
from autoledger.platform.crypto.envelope import (
    field_aad,
    index_token,
    key_version,
    open_sealed,
    seal,
)

KEY = os.urandom(32)
TENANT = uuid.uuid4()


def _aad(table: str = "bank_accounts", column: str = "iban", version: int = 3) -> bytes:
    return field_aad(TENANT, table, column, version)


def test_sealed_text_is_self_describing_and_round_trips() -> None:
    text = seal(KEY, 3, b"DE89 3704 0044 0532 0130 00", _aad())
    raw = base64.b64decode(text)
    assert raw[:2] == b"v1"
    assert key_version(text) == 3
    assert open_sealed(KEY, text, _aad()) == b"DE89 3704 0044 0532 0130 00"


def test_every_encryption_draws_a_fresh_nonce() -> None:
    texts = [seal(KEY, 1, b"same", _aad(version=1)) for _ in range(1000)]
    nonces = {base64.b64decode(t)[6:18] for t in texts}
    assert len(nonces) == 1000
    assert len(set(texts)) == 1000


@pytest.mark.parametrize(
    "aad",
    [
        field_aad(uuid.uuid4(), "bank_accounts", "iban", 3),
        field_aad(TENANT, "vendors", "iban", 3),
        field_aad(TENANT, "bank_accounts", "bic", 3),
        field_aad(TENANT, "bank_accounts", "iban", 4),
    ],
    ids=["other tenant", "other table", "other column", "other key version"],
)
def test_associated_data_binds_tenant_table_column_and_version(aad: bytes) -> None:
    text = seal(KEY, 3, b"secret", _aad())
    with pytest.raises(DecryptionFailed, match="does not authenticate"):
        open_sealed(KEY, text, aad)


@pytest.mark.parametrize("position", [0, 2, 6, 18, -1])
def test_a_flipped_bit_anywhere_is_rejected(position: int) -> None:
    raw = bytearray(base64.b64decode(seal(KEY, 3, b"secret", _aad())))
    raw[position] ^= 0x01
    with pytest.raises(DecryptionFailed):
        open_sealed(KEY, base64.b64encode(bytes(raw)).decode(), _aad())


@pytest.mark.parametrize(
    ("text", "reason"),
    [("not base64!", "not base64"), ("djI=", "known format"), ("djEAAAAB", "truncated")],
)
def test_malformed_ciphertext_says_why(text: str, reason: str) -> None:
    with pytest.raises(DecryptionFailed, match=reason):
        open_sealed(KEY, text, _aad())


def test_names_in_associated_data_must_be_identifiers() -> None:
    with pytest.raises(ValueError, match="lowercase SQL identifier"):
        field_aad(TENANT, "bank_accounts\x00x", "iban", 1)


def test_normalization_for_the_blind_index() -> None:
    assert normalize(" de89 3704\t0044 0532 0130 00 ") == "DE89370400440532013000"
    assert normalize("\uff24\uff25\uff18\uff19") == "DE89"  # full-width forms fold (NFKC)


def test_index_tokens_are_keyed_and_bound_to_the_column() -> None:
    token = index_token(KEY, "bank_accounts", "iban", "DE89 3704")
    assert token == index_token(KEY, "bank_accounts", "iban", "de893704")
    assert token != index_token(os.urandom(32), "bank_accounts", "iban", "DE89 3704")
    assert token != index_token(KEY, "vendors", "iban", "DE89 3704")
    assert len(token) == 64


@pytest.mark.parametrize(
    ("value", "visible", "masked"),
    [
        ("DE89370400440532013000", 4, "****3000"),
        ("4111111111111111", 4, "****1111"),
        ("4111111111111111", 2, "****11"),
        ("12345678", 4, "****"),
        ("123", 4, "****"),
        ("", 4, "****"),
        ("4111111111111111", 0, "****"),
    ],
)
def test_mask(value: str, visible: int, masked: str) -> None:
    assert mask(value, visible) == masked
