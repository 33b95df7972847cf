"""Envelope encryption: the domain logic. Takes a session, never commits.

Key hierarchy: one KEK (local file or Cloud KMS) wraps per-tenant data keys (32 random bytes
per purpose and version); data keys encrypt fields (AES-256-GCM) and key blind indexes
(HMAC-SHA256). Only wrapped data keys are stored. See ADR 0006.
"""

import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.kit.clock import utcnow
from autoledger.kit.ids import new_id
from autoledger.platform.crypto import envelope
from autoledger.platform.crypto.errors import CryptoError, DecryptionFailed, KeyDestroyed
from autoledger.platform.crypto.keyring import Keyring, current_keyring
from autoledger.platform.crypto.providers import KEY_BYTES, KeyEncryptionKey
from autoledger.platform.crypto.repository import (
    ACTIVE,
    DESTROYED,
    DataKeyRepository,
)
from autoledger.platform.crypto.tables import DataKey

Purpose = Literal["encryption", "blind_index"]
ENCRYPTION: Purpose = "encryption"
BLIND_INDEX: Purpose = "blind_index"
REWRAP_BATCH = 500


# fields
async def encrypt_field(
    session: AsyncSession, tenant_id: uuid.UUID, table: str, column: str, plaintext: str
) -> str:
    """Ciphertext of ``plaintext`` for ``table.column`` of ``tenant_id``, under the tenant's
    active encryption key (created on first use)."""
    row, key = await _active_key(session, tenant_id, ENCRYPTION)
    aad = envelope.field_aad(tenant_id, table, column, row.version)
    return envelope.seal(key, row.version, plaintext.encode(), aad)


async def field_sealer(
    session: AsyncSession, tenant_id: uuid.UUID, table: str, column: str
) -> Callable[[str], str]:
    """What :func:`encrypt_field` does, for many values of one column: the key is looked up
    once (a bulk import encrypts thousands of values per transaction)."""
    row, key = await _active_key(session, tenant_id, ENCRYPTION)
    seal = envelope.sealer(
        key, row.version, envelope.field_aad(tenant_id, table, column, row.version)
    )

    def seal_text(plaintext: str) -> str:
        return seal(plaintext.encode())

    return seal_text


async def decrypt_field(
    session: AsyncSession, tenant_id: uuid.UUID, table: str, column: str, ciphertext: str
) -> str:
    """The plaintext, under whichever key version encrypted it. Raises ``DecryptionFailed``
    when the ciphertext is not this tenant's, table's and column's or was altered, and
    ``KeyDestroyed`` once the tenant is shredded."""
    version = envelope.key_version(ciphertext)
    row = await DataKeyRepository(session).version(tenant_id, ENCRYPTION, version)
    if row is None:
        raise DecryptionFailed(f"the tenant has no encryption key version {version}")
    key = await _unwrap(row)
    aad = envelope.field_aad(tenant_id, table, column, version)
    return envelope.open_sealed(key, ciphertext, aad).decode()


async def field_opener(
    session: AsyncSession, tenant_id: uuid.UUID, table: str, column: str
) -> Callable[[str], Awaitable[str]]:
    """What :func:`decrypt_field` does, for many values of one column: each key version is
    looked up once (a page of bank lines decrypts hundreds of values)."""
    keys: dict[int, bytes] = {}

    async def open_(ciphertext: str) -> str:
        version = envelope.key_version(ciphertext)
        key = keys.get(version)
        if key is None:
            row = await DataKeyRepository(session).version(tenant_id, ENCRYPTION, version)
            if row is None:
                raise DecryptionFailed(f"the tenant has no encryption key version {version}")
            key = keys[version] = await _unwrap(row)
        aad = envelope.field_aad(tenant_id, table, column, version)
        return envelope.open_sealed(key, ciphertext, aad).decode()

    return open_


async def blind_index(
    session: AsyncSession, tenant_id: uuid.UUID, table: str, column: str, value: str
) -> str:
    """An equality token for ``value`` (normalized: see ``envelope.normalize``), keyed by the
    tenant's active blind-index key: store it next to the ciphertext, look rows up by it.
    Tokens of one tenant mean nothing in another. Rotating the blind-index key changes every
    token, so it needs a re-index of the columns it covers."""
    _, key = await _active_key(session, tenant_id, BLIND_INDEX)
    return envelope.index_token(key, table, column, value)


# keys
async def rotate_data_key(session: AsyncSession, tenant_id: uuid.UUID, purpose: Purpose) -> int:
    """A new active version for ``purpose``; the previous ones are retired: they decrypt
    what they encrypted, and encrypt nothing more. Returns the new version."""
    repository = DataKeyRepository(session)
    latest = await repository.latest(tenant_id, purpose, for_update=True)
    if latest is not None and latest.state == DESTROYED:
        raise KeyDestroyed(f"the tenant's {purpose} keys are destroyed")
    await repository.retire_active(tenant_id, purpose)
    version = latest.version + 1 if latest is not None else 1
    row = DataKey(**await _new_key_values(tenant_id, purpose, version))
    await repository.add(row)
    return version


async def rotate_kek(session: AsyncSession, new_kek: KeyEncryptionKey) -> int:
    """Re-wrap every live data key of every tenant under ``new_kek``; no field ciphertext
    changes. The installed keyring must still unwrap the old ones. Returns how many keys were
    re-wrapped. After the commit, install a keyring with ``new_kek`` (with the old one as
    ``previous`` until every process has switched)."""
    keyring = current_keyring()
    repository = DataKeyRepository(session)
    now = utcnow()
    rewrapped, after = 0, None
    new_key_id = new_kek.key_id
    while page := await repository.wrapped_page(after, REWRAP_BATCH):
        for row in page:
            if row.kek_id != new_key_id:
                aad = envelope.data_key_aad(row.tenant_id, row.purpose, row.version)
                key = await _unwrap(row, keyring)
                row.wrapped_key = await new_kek.wrap(key, aad)
                row.kek_provider, row.kek_id, row.rewrapped_at = new_kek.provider, new_key_id, now
                rewrapped += 1
        await session.flush()
        after = page[-1].id
    return rewrapped


async def shred_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """Crypto-shredding: destroy every data key of the tenant, so every field encrypted for it
    (in the database, replicas and backups alike) is unreadable for good once this commits.
    Encrypting for the tenant fails afterwards too. Returns how many keys were destroyed."""
    destroyed = await DataKeyRepository(session).destroy(tenant_id, utcnow())
    current_keyring().forget(destroyed)
    return len(destroyed)


async def _active_key(
    session: AsyncSession, tenant_id: uuid.UUID, purpose: Purpose
) -> tuple[DataKey, bytes]:
    repository = DataKeyRepository(session)
    row = await repository.active(tenant_id, purpose)
    if row is None:
        latest = await repository.latest(tenant_id, purpose)
        if latest is not None:
            # Shredded (or every version retired by hand): never mint a fresh key silently.
            raise KeyDestroyed(f"the tenant has no active {purpose} key: it was destroyed")
        await repository.add_first(await _new_key_values(tenant_id, purpose, 1))
        row = await repository.active(tenant_id, purpose)
        if row is None:  # inserted here or by a concurrent transaction: never absent
            raise CryptoError(f"the tenant's first {purpose} key could not be created")
    return row, await _unwrap(row)


async def _new_key_values(tenant_id: uuid.UUID, purpose: str, version: int) -> dict[str, Any]:
    kek = current_keyring().kek
    aad = envelope.data_key_aad(tenant_id, purpose, version)
    wrapped = await kek.wrap(os.urandom(KEY_BYTES), aad)
    return {
        "id": new_id(),
        "tenant_id": tenant_id,
        "purpose": purpose,
        "version": version,
        "wrapped_key": wrapped,
        "kek_provider": kek.provider,
        "kek_id": kek.key_id,
        "state": ACTIVE,
        "created_at": utcnow(),
    }


async def _unwrap(row: DataKey, keyring: Keyring | None = None) -> bytes:
    if row.wrapped_key is None or row.state == DESTROYED:
        raise KeyDestroyed(
            f"the tenant's {row.purpose} key version {row.version} was destroyed "
            f"(crypto-shredded): what it protected is gone"
        )
    keyring = keyring or current_keyring()
    key = keyring.cached(row.id)
    if key is None:
        aad = envelope.data_key_aad(row.tenant_id, row.purpose, row.version)
        key = await keyring.kek_for(row.kek_id).unwrap(row.wrapped_key, aad)
        keyring.remember(row.id, key)
    return key
