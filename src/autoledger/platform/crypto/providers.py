"""Key-encryption keys (KEKs): the root of the key hierarchy, which only wraps data keys.

Two providers behind one interface: a local key file (embedded default) and Google Cloud
KMS. A provider never sees field data, only 32-byte data keys and their associated data.
"""

import asyncio
import contextlib
import hashlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Protocol

import grpc  # type: ignore[import-untyped]
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.api_core import exceptions as google_exceptions
from google.api_core.client_options import ClientOptions
from google.api_core.retry import AsyncRetry, if_exception_type
from google.auth.credentials import AnonymousCredentials
from google.cloud import kms_v1
from google.cloud.kms_v1.services.key_management_service.transports import (
    KeyManagementServiceGrpcAsyncIOTransport,
)

from autoledger.kit.errors import ConfigurationError
from autoledger.kit.settings import ENV_PREFIX, Settings
from autoledger.platform.crypto.errors import DecryptionFailed, KekUnavailable, KmsIntegrityError

KEY_BYTES = 32
NONCE_BYTES = 12
KMS_TIMEOUT_SECONDS = 30.0
# Transient failures are retried with backoff until the timeout, then the KEK is unavailable.
KMS_RETRY = AsyncRetry(
    predicate=if_exception_type(
        google_exceptions.ServiceUnavailable, google_exceptions.DeadlineExceeded
    ),
    initial=0.1,
    maximum=2.0,
    multiplier=2.0,
    timeout=KMS_TIMEOUT_SECONDS,
)


class KeyEncryptionKey(Protocol):
    """Wraps and unwraps data keys. ``aad`` must be given again, byte for byte, to unwrap."""

    @property
    def provider(self) -> str:
        """``local`` or ``gcp-kms``: stored with every wrapped key."""
        ...

    @property
    def key_id(self) -> str:
        """Which KEK wrapped a data key: stored with it, so a rotation can find the rest."""
        ...

    async def wrap(self, plaintext_key: bytes, aad: bytes) -> bytes: ...

    async def unwrap(self, wrapped: bytes, aad: bytes) -> bytes: ...


# local key file
class LocalKek:
    """A 32-byte AES-256-GCM key in a file readable by its owner only, created on first use.

    Wrapped form: 12-byte random nonce, then ciphertext and tag."""

    provider = "local"

    def __init__(self, path: Path, *, setting: str = ENV_PREFIX + "LOCAL_KEK_PATH") -> None:
        self.path = path
        self._setting = setting
        self._key: bytes | None = None

    def __repr__(self) -> str:
        return f"LocalKek({str(self.path)!r})"

    @property
    def key_id(self) -> str:
        # A fingerprint, not the key: SHA-256 under a label, so it reveals nothing usable.
        digest = hashlib.sha256(b"autoledger/kek-id\x00" + self._load()).hexdigest()
        return f"local:{digest[:32]}"

    async def wrap(self, plaintext_key: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(self._load()).encrypt(nonce, plaintext_key, aad)

    async def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        try:
            return AESGCM(self._load()).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise DecryptionFailed("the data key does not unwrap under the local KEK") from None

    def _load(self) -> bytes:
        if self._key is None:
            if not self.path.exists():
                self._create()
            self._key = self._read()
        return self._key

    def _create(self) -> None:
        """Write the key to a private temporary file, then link it into place: a racing
        process either wins or reads the complete file of the winner, never half of one."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".kek-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(os.urandom(KEY_BYTES))
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):  # another process won the race
                os.link(tmp, self.path)
        finally:
            os.unlink(tmp)

    def _read(self) -> bytes:
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise ConfigurationError(
                self._setting,
                f"key file {self.path} has mode {mode:04o}; it must be readable by its owner "
                f"only (chmod 600 {self.path})",
            )
        key = self.path.read_bytes()
        if len(key) != KEY_BYTES:
            raise ConfigurationError(
                self._setting, f"key file {self.path} must hold exactly {KEY_BYTES} bytes"
            )
        return key


# Google Cloud KMS
def _crc32c_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1  # reflected Castagnoli
        table.append(crc)
    return tuple(table)


_CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as Cloud KMS computes its integrity fields. Inputs are a few
    dozen bytes (data keys and their AAD), so a table-driven loop is fast enough."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


class GcpKmsKek:
    """A symmetric Cloud KMS CryptoKey, through the official client over gRPC.

    Every call sends CRC32C checksums of what it sends and verifies those of what comes back
    (the integrity protocol of the Cloud KMS docs). ``endpoint`` (host:port) points the client
    at a KMS-compatible server over an insecure channel, for tests."""

    provider = "gcp-kms"

    def __init__(self, key_name: str, *, endpoint: str | None = None) -> None:
        self.key_name = key_name
        self.endpoint = endpoint
        # gRPC asyncio channels belong to the event loop that made them.
        self._clients: dict[asyncio.AbstractEventLoop, kms_v1.KeyManagementServiceAsyncClient]
        self._clients = {}

    def __repr__(self) -> str:
        return f"GcpKmsKek({self.key_name!r})"

    @property
    def key_id(self) -> str:
        return self.key_name

    async def wrap(self, plaintext_key: bytes, aad: bytes) -> bytes:
        request = kms_v1.EncryptRequest(
            name=self.key_name,
            plaintext=plaintext_key,
            additional_authenticated_data=aad,
            plaintext_crc32c=crc32c(plaintext_key),
            additional_authenticated_data_crc32c=crc32c(aad),
        )
        try:
            response = await self._client().encrypt(
                request=request, retry=KMS_RETRY, timeout=KMS_TIMEOUT_SECONDS
            )
        except google_exceptions.GoogleAPICallError as exc:
            raise KekUnavailable(f"Cloud KMS Encrypt failed: {exc.message}") from None
        except google_exceptions.RetryError as exc:
            raise KekUnavailable(f"Cloud KMS Encrypt failed: {exc.message}") from None
        if not response.verified_plaintext_crc32c:
            raise KmsIntegrityError("Cloud KMS did not verify the plaintext checksum")
        if not response.verified_additional_authenticated_data_crc32c:
            raise KmsIntegrityError("Cloud KMS did not verify the AAD checksum")
        if response.ciphertext_crc32c != crc32c(response.ciphertext):
            raise KmsIntegrityError("the ciphertext from Cloud KMS fails its checksum")
        if not response.name.startswith(self.key_name + "/"):
            raise KmsIntegrityError("Cloud KMS encrypted with a key other than the one asked")
        return bytes(response.ciphertext)

    async def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        request = kms_v1.DecryptRequest(
            name=self.key_name,
            ciphertext=wrapped,
            additional_authenticated_data=aad,
            ciphertext_crc32c=crc32c(wrapped),
            additional_authenticated_data_crc32c=crc32c(aad),
        )
        try:
            response = await self._client().decrypt(
                request=request, retry=KMS_RETRY, timeout=KMS_TIMEOUT_SECONDS
            )
        except google_exceptions.InvalidArgument as exc:
            # What Cloud KMS answers for a wrong AAD or a foreign ciphertext.
            raise DecryptionFailed(f"Cloud KMS Decrypt refused: {exc.message}") from None
        except google_exceptions.GoogleAPICallError as exc:
            raise KekUnavailable(f"Cloud KMS Decrypt failed: {exc.message}") from None
        except google_exceptions.RetryError as exc:
            raise KekUnavailable(f"Cloud KMS Decrypt failed: {exc.message}") from None
        if response.plaintext_crc32c != crc32c(response.plaintext):
            raise KmsIntegrityError("the plaintext from Cloud KMS fails its checksum")
        return bytes(response.plaintext)

    def _client(self) -> kms_v1.KeyManagementServiceAsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            if self.endpoint is None:
                client = kms_v1.KeyManagementServiceAsyncClient()  # application default creds
            else:
                client = kms_v1.KeyManagementServiceAsyncClient(
                    credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                    client_options=ClientOptions(api_endpoint=self.endpoint),
                    transport=_insecure_transport,
                )
            self._clients = {loop: client}  # a process runs one loop; drop stale ones
        return client


def _insecure_transport(**options: Any) -> KeyManagementServiceGrpcAsyncIOTransport:
    host = options["host"]
    # A channel-local subchannel pool: a server that went away at the same address (tests)
    # leaves no connection backoff behind for the next channel.
    channel = grpc.aio.insecure_channel(host, options=[("grpc.use_local_subchannel_pool", 1)])
    return KeyManagementServiceGrpcAsyncIOTransport(host=host, channel=channel)


def kek_from_settings(settings: Settings) -> KeyEncryptionKey:
    """The KEK ``settings.key_provider`` names. Nothing is read or created until first use."""
    if settings.key_provider == "gcp-kms":
        if not settings.kms_key_name:
            raise ConfigurationError(
                ENV_PREFIX + "KMS_KEY_NAME",
                "required when AUTOLEDGER_KEY_PROVIDER=gcp-kms "
                "(projects/P/locations/L/keyRings/R/cryptoKeys/K)",
            )
        return GcpKmsKek(settings.kms_key_name, endpoint=settings.kms_endpoint)
    return LocalKek(settings.local_kek_path or settings.data_dir / "kek.key")
