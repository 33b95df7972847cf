"""Field encryption, rotation, shredding and blind indexes on SQLite and PostgreSQL."""

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.platform import crypto
from autoledger.platform.crypto import (
    DecryptionFailed,
    KekUnavailable,
    KeyDestroyed,
    Keyring,
    LocalKek,
    install_keyring,
)
from autoledger.platform.crypto.tables import DataKey
from tests.conftest import TenantKeys, make_tenant

Maker = async_sessionmaker[AsyncSession]
IBAN = "DE89 3704 0044 0532 0130 00"

pytestmark = pytest.mark.usefixtures("keyring")


async def _encrypt(maker: Maker, tenant_id: uuid.UUID, value: str = IBAN) -> str:
    async with maker() as session:
        ciphertext = await crypto.encrypt_field(session, tenant_id, "bank_accounts", "iban", value)
        await session.commit()
    return ciphertext


async def _decrypt(
    maker: Maker,
    tenant_id: uuid.UUID,
    ciphertext: str,
    table: str = "bank_accounts",
    column: str = "iban",
) -> str:
    async with maker() as session:
        return await crypto.decrypt_field(session, tenant_id, table, column, ciphertext)


async def _keys(maker: Maker, tenant_id: uuid.UUID) -> list[DataKey]:
    async with maker() as session:
        rows = await session.scalars(
            select(DataKey)
            .where(DataKey.tenant_id == tenant_id)
            .order_by(DataKey.purpose, DataKey.version)
        )
        return list(rows)


async def test_round_trip_stores_only_a_wrapped_key(
    sessionmaker: Maker, tenant: TenantKeys
) -> None:
    ciphertext = await _encrypt(sessionmaker, tenant.id)
    assert IBAN not in ciphertext
    assert await _decrypt(sessionmaker, tenant.id, ciphertext) == IBAN
    [key] = await _keys(sessionmaker, tenant.id)
    assert (key.purpose, key.version, key.state, key.kek_provider) == (
        "encryption",
        1,
        "active",
        "local",
    )
    assert key.wrapped_key is not None
    assert len(key.wrapped_key) == 12 + 32 + 16  # nonce, key, tag: never the bare key


async def test_same_plaintext_twice_gives_different_ciphertexts(
    sessionmaker: Maker, tenant: TenantKeys
) -> None:
    first, second = await _encrypt(sessionmaker, tenant.id), await _encrypt(sessionmaker, tenant.id)
    assert first != second
    assert await _decrypt(sessionmaker, tenant.id, second) == IBAN


@pytest.mark.parametrize(("table", "column"), [("vendors", "iban"), ("bank_accounts", "bic")])
async def test_another_table_or_column_cannot_decrypt(
    sessionmaker: Maker, tenant: TenantKeys, table: str, column: str
) -> None:
    ciphertext = await _encrypt(sessionmaker, tenant.id)
    with pytest.raises(DecryptionFailed):
        await _decrypt(sessionmaker, tenant.id, ciphertext, table, column)


async def test_another_tenant_cannot_decrypt(sessionmaker: Maker, tenant: TenantKeys) -> None:
    other = await make_tenant(sessionmaker)
    ciphertext = await _encrypt(sessionmaker, tenant.id)
    with pytest.raises(DecryptionFailed, match="no encryption key"):
        await _decrypt(sessionmaker, other.id, ciphertext)
    await _encrypt(sessionmaker, other.id)  # now it has a version 1 of its own
    with pytest.raises(DecryptionFailed, match="does not authenticate"):
        await _decrypt(sessionmaker, other.id, ciphertext)


async def test_a_rolled_back_first_key_is_never_used(
    sessionmaker: Maker, tenant: TenantKeys
) -> None:
    async with sessionmaker() as session:
        await crypto.encrypt_field(session, tenant.id, "bank_accounts", "iban", IBAN)
        await session.rollback()
    ciphertext = await _encrypt(sessionmaker, tenant.id)  # cached key of the lost row unused
    assert await _decrypt(sessionmaker, tenant.id, ciphertext) == IBAN


async def test_rotating_the_data_key_keeps_old_data_readable(
    sessionmaker: Maker, tenant: TenantKeys
) -> None:
    old = await _encrypt(sessionmaker, tenant.id)
    async with sessionmaker() as session:
        assert await crypto.rotate_data_key(session, tenant.id, "encryption") == 2
        await session.commit()
    new = await _encrypt(sessionmaker, tenant.id)
    assert crypto.envelope.key_version(old) == 1
    assert crypto.envelope.key_version(new) == 2
    assert await _decrypt(sessionmaker, tenant.id, old) == IBAN
    assert await _decrypt(sessionmaker, tenant.id, new) == IBAN
    assert [(k.version, k.state) for k in await _keys(sessionmaker, tenant.id)] == [
        (1, "retired"),
        (2, "active"),
    ]


async def test_rotating_the_kek_rewraps_keys_and_leaves_data_alone(
    own_sessionmaker: Maker, kek_path: Path, tmp_path: Path
) -> None:
    sessionmaker = own_sessionmaker
    tenant, other = await make_tenant(sessionmaker), await make_tenant(sessionmaker)
    ciphertexts = {t: await _encrypt(sessionmaker, t) for t in (tenant.id, other.id)}
    async with sessionmaker() as session:
        index = await crypto.blind_index(session, tenant.id, "bank_accounts", "iban", IBAN)
        await session.commit()
    before = {k.id: k.wrapped_key for k in await _keys(sessionmaker, tenant.id)}

    new_kek = LocalKek(tmp_path / "new" / "kek.key")
    async with sessionmaker() as session:
        assert await crypto.rotate_kek(session, new_kek) == 3
        await session.commit()
    async with sessionmaker() as session:
        assert await crypto.rotate_kek(session, new_kek) == 0  # done: a rerun is a no-op
        await session.commit()
    # The old KEK is gone: a fresh process holds only the new one.
    kek_path.unlink()
    install_keyring(Keyring(LocalKek(tmp_path / "new" / "kek.key")))

    after = await _keys(sessionmaker, tenant.id)
    assert {k.kek_id for k in after} == {new_kek.key_id}
    assert all(k.rewrapped_at is not None and k.wrapped_key != before[k.id] for k in after)
    for tenant_id, ciphertext in ciphertexts.items():
        assert await _decrypt(sessionmaker, tenant_id, ciphertext) == IBAN
    async with sessionmaker() as session:
        assert await crypto.blind_index(session, tenant.id, "bank_accounts", "iban", IBAN) == index


async def test_a_key_wrapped_by_an_unknown_kek_says_which(
    sessionmaker: Maker, tenant: TenantKeys, tmp_path: Path
) -> None:
    ciphertext = await _encrypt(sessionmaker, tenant.id)
    install_keyring(Keyring(LocalKek(tmp_path / "unrelated.key")))
    with pytest.raises(KekUnavailable, match="not configured"):
        await _decrypt(sessionmaker, tenant.id, ciphertext)


async def test_shredding_destroys_one_tenant_only(sessionmaker: Maker, tenant: TenantKeys) -> None:
    other = await make_tenant(sessionmaker)
    mine, theirs = await _encrypt(sessionmaker, tenant.id), await _encrypt(sessionmaker, other.id)
    async with sessionmaker() as session:
        await crypto.rotate_data_key(session, tenant.id, "encryption")
        await crypto.blind_index(session, tenant.id, "bank_accounts", "iban", IBAN)
        assert await crypto.shred_tenant(session, tenant.id) == 3
        await session.commit()

    for key in await _keys(sessionmaker, tenant.id):
        assert (key.state, key.wrapped_key) == ("destroyed", None)
        assert key.destroyed_at is not None
    with pytest.raises(KeyDestroyed, match="crypto-shredded"):
        await _decrypt(sessionmaker, tenant.id, mine)
    with pytest.raises(KeyDestroyed):  # and no fresh key is minted behind the shredding
        await _encrypt(sessionmaker, tenant.id)
    async with sessionmaker() as session:
        with pytest.raises(KeyDestroyed):
            await crypto.rotate_data_key(session, tenant.id, "encryption")
    assert await _decrypt(sessionmaker, other.id, theirs) == IBAN


async def test_blind_index_equality_normalization_and_tenancy(
    sessionmaker: Maker, tenant: TenantKeys
) -> None:
    other = await make_tenant(sessionmaker)
    async with sessionmaker() as session:

        async def index(tenant_id: uuid.UUID, value: str, column: str = "iban") -> str:
            return await crypto.blind_index(session, tenant_id, "bank_accounts", column, value)

        token = await index(tenant.id, IBAN)
        assert token == await index(tenant.id, "de89370400440532013000")
        assert token != await index(tenant.id, "DE89370400440532013001")
        assert token != await index(tenant.id, IBAN, column="iban_previous")
        assert token != await index(other.id, IBAN)
        assert IBAN.replace(" ", "") not in token
        await session.commit()
    purposes = {k.purpose for k in await _keys(sessionmaker, tenant.id)}
    assert purposes == {"blind_index"}  # a key of its own, not the encryption key
