"""Errors of envelope encryption. None of them ever carries key material or plaintext."""

from autoledger.kit.errors import AutoledgerError, Unavailable


class CryptoError(AutoledgerError):
    code = "crypto.error"
    status = 500
    title = "Encryption error"


class DecryptionFailed(CryptoError):
    """The ciphertext is malformed, was tampered with, or belongs to another tenant, table
    or column (its associated data does not match)."""

    code = "crypto.decryption_failed"
    title = "Decryption failed"


class KeyDestroyed(CryptoError):
    """The tenant's data key was crypto-shredded: what it encrypted is gone for good."""

    code = "crypto.key_destroyed"
    status = 410
    title = "Encryption key destroyed"


class KekUnavailable(Unavailable):
    """The key-encryption key cannot be used now: the KMS is unreachable, or a data key is
    wrapped by a KEK this process is not configured with."""

    code = "crypto.kek_unavailable"
    title = "Key-encryption key unavailable"


class KmsIntegrityError(KekUnavailable):
    """A CRC32C check on a KMS request or response failed: corrupted in transit. Cloud KMS
    advises a bounded retry."""

    code = "crypto.kms_integrity"
    title = "KMS integrity check failed"
