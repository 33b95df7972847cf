"""Envelope encryption: per-tenant data keys wrapped by a key-encryption key (KMS)."""

from autoledger.kit.sensitive import mask
from autoledger.platform.crypto.envelope import normalize
from autoledger.platform.crypto.errors import (
    CryptoError,
    DecryptionFailed,
    KekUnavailable,
    KeyDestroyed,
    KmsIntegrityError,
)
from autoledger.platform.crypto.keyring import Keyring, current_keyring, install_keyring
from autoledger.platform.crypto.providers import (
    GcpKmsKek,
    KeyEncryptionKey,
    LocalKek,
    kek_from_settings,
)
from autoledger.platform.crypto.service import (
    blind_index,
    decrypt_field,
    encrypt_field,
    rotate_data_key,
    rotate_kek,
    shred_tenant,
)

__all__ = [
    "CryptoError",
    "DecryptionFailed",
    "GcpKmsKek",
    "KekUnavailable",
    "KeyDestroyed",
    "KeyEncryptionKey",
    "Keyring",
    "KmsIntegrityError",
    "LocalKek",
    "blind_index",
    "current_keyring",
    "decrypt_field",
    "encrypt_field",
    "install_keyring",
    "kek_from_settings",
    "mask",
    "normalize",
    "rotate_data_key",
    "rotate_kek",
    "shred_tenant",
]
