"""The Cloud KMS provider, through the official client over real gRPC, against a small KMS
in the test: AES-256-GCM with a server-side key, AAD honoured, CRC32C checked both ways."""

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.cloud import kms_v1
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.platform import crypto
from autoledger.platform.crypto import (
    DecryptionFailed,
    GcpKmsKek,
    KekUnavailable,
    Keyring,
    KmsIntegrityError,
    LocalKek,
    install_keyring,
)
from autoledger.platform.crypto.providers import crc32c
from tests.conftest import make_tenant

KEY_NAME = "projects/p/locations/global/keyRings/autoledger/cryptoKeys/kek"
SERVICE = "google.cloud.kms.v1.KeyManagementService"


def _crc32c_bitwise(data: bytes) -> int:
    """An independent reference (bit by bit) for the server side."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


@dataclass
class FakeKms:
    """Encrypt and Decrypt of one symmetric CryptoKey, with knobs to misbehave."""

    key: bytes = field(default_factory=lambda: os.urandom(32))
    requests: list[Any] = field(default_factory=list)
    corrupt_ciphertext_crc: bool = False
    corrupt_plaintext_crc: bool = False
    skip_aad_verification: bool = False
    address: str = ""

    async def encrypt(
        self, request: kms_v1.EncryptRequest, context: grpc.aio.ServicerContext
    ) -> kms_v1.EncryptResponse:
        self.requests.append(request)
        await self._check_name(request.name, context)
        await self._check_crc(request.plaintext, request.plaintext_crc32c, context)
        aad = request.additional_authenticated_data
        await self._check_crc(aad, request.additional_authenticated_data_crc32c, context)
        nonce = os.urandom(12)
        ciphertext = nonce + AESGCM(self.key).encrypt(nonce, request.plaintext, aad)
        crc = _crc32c_bitwise(ciphertext) ^ (1 if self.corrupt_ciphertext_crc else 0)
        return kms_v1.EncryptResponse(
            name=f"{KEY_NAME}/cryptoKeyVersions/1",
            ciphertext=ciphertext,
            ciphertext_crc32c=crc,
            verified_plaintext_crc32c=request.plaintext_crc32c is not None,
            verified_additional_authenticated_data_crc32c=(
                request.additional_authenticated_data_crc32c is not None
                and not self.skip_aad_verification
            ),
        )

    async def decrypt(
        self, request: kms_v1.DecryptRequest, context: grpc.aio.ServicerContext
    ) -> kms_v1.DecryptResponse:
        self.requests.append(request)
        await self._check_name(request.name, context)
        await self._check_crc(request.ciphertext, request.ciphertext_crc32c, context)
        aad = request.additional_authenticated_data
        await self._check_crc(aad, request.additional_authenticated_data_crc32c, context)
        data = request.ciphertext
        try:
            plaintext = AESGCM(self.key).decrypt(data[:12], data[12:], aad)
        except InvalidTag:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Decryption failed")
        crc = _crc32c_bitwise(plaintext) ^ (1 if self.corrupt_plaintext_crc else 0)
        return kms_v1.DecryptResponse(plaintext=plaintext, plaintext_crc32c=crc)

    @staticmethod
    async def _check_name(name: str, context: grpc.aio.ServicerContext) -> None:
        if name != KEY_NAME:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{name} not found")

    @staticmethod
    async def _check_crc(data: bytes, crc: int | None, context: grpc.aio.ServicerContext) -> None:
        if crc is not None and crc != _crc32c_bitwise(data):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "checksum mismatch")


@pytest.fixture
async def kms() -> AsyncIterator[FakeKms]:
    fake = FakeKms()
    handler = grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Encrypt": grpc.unary_unary_rpc_method_handler(
                fake.encrypt,
                request_deserializer=kms_v1.EncryptRequest.deserialize,
                response_serializer=kms_v1.EncryptResponse.serialize,
            ),
            "Decrypt": grpc.unary_unary_rpc_method_handler(
                fake.decrypt,
                request_deserializer=kms_v1.DecryptRequest.deserialize,
                response_serializer=kms_v1.DecryptResponse.serialize,
            ),
        },
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    fake.address = f"127.0.0.1:{port}"
    yield fake
    await server.stop(None)


def _kek(kms: FakeKms, key_name: str = KEY_NAME) -> GcpKmsKek:
    return GcpKmsKek(key_name, endpoint=kms.address)


def test_crc32c_matches_the_standard_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283
    data = os.urandom(200)
    assert crc32c(data) == _crc32c_bitwise(data)


async def test_wrap_and_unwrap_over_grpc_with_checksums(kms: FakeKms) -> None:
    kek = _kek(kms)
    key = os.urandom(32)
    wrapped = await kek.wrap(key, b"tenant/purpose/1")
    assert key not in wrapped
    assert await kek.unwrap(wrapped, b"tenant/purpose/1") == key
    encrypt, decrypt = kms.requests
    assert encrypt.additional_authenticated_data == b"tenant/purpose/1"
    assert encrypt.plaintext_crc32c == _crc32c_bitwise(key)
    assert encrypt.additional_authenticated_data_crc32c == _crc32c_bitwise(b"tenant/purpose/1")
    assert decrypt.ciphertext_crc32c == _crc32c_bitwise(wrapped)


async def test_unwrapping_with_other_aad_fails(kms: FakeKms) -> None:
    kek = _kek(kms)
    wrapped = await kek.wrap(os.urandom(32), b"tenant-a")
    with pytest.raises(DecryptionFailed, match="Decryption failed"):
        await kek.unwrap(wrapped, b"tenant-b")


async def test_a_corrupted_ciphertext_checksum_is_detected(kms: FakeKms) -> None:
    kms.corrupt_ciphertext_crc = True
    with pytest.raises(KmsIntegrityError, match="ciphertext"):
        await _kek(kms).wrap(os.urandom(32), b"aad")


async def test_a_corrupted_plaintext_checksum_is_detected(kms: FakeKms) -> None:
    kek = _kek(kms)
    wrapped = await kek.wrap(os.urandom(32), b"aad")
    kms.corrupt_plaintext_crc = True
    with pytest.raises(KmsIntegrityError, match="plaintext"):
        await kek.unwrap(wrapped, b"aad")


async def test_an_unverified_aad_checksum_is_detected(kms: FakeKms) -> None:
    kms.skip_aad_verification = True
    with pytest.raises(KmsIntegrityError, match="AAD"):
        await _kek(kms).wrap(os.urandom(32), b"aad")


async def test_an_unknown_key_is_an_unavailable_kek(kms: FakeKms) -> None:
    with pytest.raises(KekUnavailable, match="not found"):
        await _kek(kms, KEY_NAME + "-missing").wrap(os.urandom(32), b"aad")


async def test_fields_round_trip_and_a_kek_rotation_from_local_to_kms(
    kms: FakeKms,
    own_sessionmaker: async_sessionmaker[AsyncSession],
    keyring: Keyring,
    kek_path: Path,
) -> None:
    """Data encrypted under the local KEK, the keys re-wrapped by Cloud KMS, the local key
    file deleted: everything still decrypts, through the KMS."""
    assert isinstance(keyring.kek, LocalKek)
    tenant = await make_tenant(own_sessionmaker)
    async with own_sessionmaker() as session:
        ciphertext = await crypto.encrypt_field(session, tenant.id, "vendors", "iban", "DE89")
        await session.commit()
    kms_kek = _kek(kms)
    async with own_sessionmaker() as session:
        assert await crypto.rotate_kek(session, kms_kek) == 1
        await session.commit()
    kek_path.unlink()
    install_keyring(Keyring(_kek(kms)))  # the keyring fixture restores its predecessor
    async with own_sessionmaker() as session:
        plaintext = await crypto.decrypt_field(session, tenant.id, "vendors", "iban", ciphertext)
    assert plaintext == "DE89"
    assert [type(r).__name__ for r in kms.requests] == ["EncryptRequest", "DecryptRequest"]
