"""Tenants and API keys at the service level: names, uniqueness, key secrecy and expiry."""

import hashlib
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.kit.clock import utcnow
from autoledger.platform.auth import service as auth
from autoledger.platform.auth.errors import (
    ApiKeyNotFound,
    InvalidApiKey,
    InvalidTenantName,
    TenantNameTaken,
    TenantNotFound,
)
from autoledger.platform.auth.schemas import Scope
from autoledger.platform.auth.tables import ApiKey

KEY = re.compile(r"al_([0-9a-f]{12})_([A-Za-z0-9]{43})")


def unique_name() -> str:
    return f"t-{uuid.uuid4().hex[:16]}"


@pytest.mark.parametrize(
    "name",
    ["", "Acme", "-acme", "acme_co", "acme corp", "acme.io", "a" * 64, "acmé", "acme\n"],
)
async def test_an_invalid_tenant_name_is_rejected(session: AsyncSession, name: str) -> None:
    with pytest.raises(InvalidTenantName) as caught:
        await auth.create_tenant(session, name)
    assert caught.value.status == 422
    assert caught.value.code == "tenants.invalid_name"


@pytest.mark.parametrize("name", ["a", "7", "acme-1", "a" * 63])
async def test_a_valid_tenant_name_is_accepted(session: AsyncSession, name: str) -> None:
    # Names are unique across the session's database; rollback at the end keeps them free.
    tenant = await auth.create_tenant(session, name)
    assert tenant.name == name
    assert (await auth.get_tenant_by_name(session, name)).id == tenant.id


async def test_a_duplicate_tenant_name_is_a_conflict(session: AsyncSession) -> None:
    name = unique_name()
    first = await auth.create_tenant(session, name)
    with pytest.raises(TenantNameTaken) as caught:
        await auth.create_tenant(session, name)
    assert caught.value.status == 409
    # The failed attempt leaves the session usable and the first tenant intact.
    assert [t.id for t in await auth.list_tenants(session) if t.name == name] == [first.id]


async def test_an_unknown_tenant_name_is_not_found(session: AsyncSession) -> None:
    with pytest.raises(TenantNotFound):
        await auth.get_tenant_by_name(session, unique_name())


async def test_a_key_is_shown_once_and_only_its_digest_is_stored(session: AsyncSession) -> None:
    tenant = await auth.create_tenant(session, unique_name())
    key, full_key = await auth.create_api_key(
        session, tenant.id, name="ci", scopes=[Scope.WRITE, Scope.READ, Scope.WRITE]
    )
    match = KEY.fullmatch(full_key)
    assert match is not None
    prefix, secret = match.groups()

    row = (
        await session.execute(select(ApiKey.__table__).where(ApiKey.__table__.c.id == key.id))
    ).one()
    stored = row._asdict()
    assert stored["prefix"] == prefix
    assert stored["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert stored["scopes"] == ["read", "write"]
    for value in stored.values():
        assert secret not in str(value)
        assert full_key not in str(value)


async def test_every_key_is_different(session: AsyncSession) -> None:
    tenant = await auth.create_tenant(session, unique_name())
    keys = {
        (await auth.create_api_key(session, tenant.id, name=str(i), scopes=[Scope.READ]))[1]
        for i in range(20)
    }
    assert all(KEY.fullmatch(k) for k in keys)
    assert len({k.split("_")[1] for k in keys}) == 20


async def test_a_key_authenticates_as_its_tenant_and_scopes(session: AsyncSession) -> None:
    tenant = await auth.create_tenant(session, unique_name())
    key, full_key = await auth.create_api_key(session, tenant.id, name="ci", scopes=[Scope.WRITE])
    principal = await auth.authenticate(session, full_key)
    assert principal.tenant_id == tenant.id
    assert principal.tenant_name == tenant.name
    assert principal.key_id == key.id
    assert principal.scopes == frozenset({Scope.WRITE})
    assert principal.actor == f"key:{key.id}"


async def test_a_wrong_secret_with_a_real_prefix_is_rejected(session: AsyncSession) -> None:
    tenant = await auth.create_tenant(session, unique_name())
    _, full_key = await auth.create_api_key(session, tenant.id, name="ci", scopes=[Scope.READ])
    forged = full_key[:-1] + ("a" if full_key[-1] != "a" else "b")
    with pytest.raises(InvalidApiKey):
        await auth.authenticate(session, forged)


async def test_an_expired_key_is_rejected(session: AsyncSession) -> None:
    tenant = await auth.create_tenant(session, unique_name())
    _, expired = await auth.create_api_key(
        session,
        tenant.id,
        name="expired",
        scopes=[Scope.READ],
        expires_at=utcnow() - timedelta(seconds=1),
    )
    _, current = await auth.create_api_key(
        session,
        tenant.id,
        name="current",
        scopes=[Scope.READ],
        expires_at=utcnow() + timedelta(hours=1),
    )
    # Read the keys back from the database, so the stored expiry is what is compared.
    session.expire_all()
    with pytest.raises(InvalidApiKey):
        await auth.authenticate(session, expired)
    principal = await auth.authenticate(session, current)
    assert principal.expires_at is not None
    assert principal.expires_at > utcnow()


async def test_a_revoked_key_is_rejected(session: AsyncSession) -> None:
    tenant = await auth.create_tenant(session, unique_name())
    key, full_key = await auth.create_api_key(session, tenant.id, name="ci", scopes=[Scope.READ])
    revoked = await auth.revoke_api_key(session, tenant.id, key.id)
    assert revoked.revoked_at is not None
    session.expire_all()
    with pytest.raises(InvalidApiKey):
        await auth.authenticate(session, full_key)


async def test_a_key_cannot_be_revoked_through_another_tenant(session: AsyncSession) -> None:
    owner = await auth.create_tenant(session, unique_name())
    other = await auth.create_tenant(session, unique_name())
    key, full_key = await auth.create_api_key(session, owner.id, name="ci", scopes=[Scope.READ])
    with pytest.raises(ApiKeyNotFound):
        await auth.revoke_api_key(session, other.id, key.id)
    assert (await auth.authenticate(session, full_key)).tenant_id == owner.id


async def test_bootstrap_creates_an_admin_key_once(session: AsyncSession) -> None:
    name = unique_name()
    full_key = await auth.bootstrap_tenant(session, name)
    assert full_key is not None
    assert (await auth.authenticate(session, full_key)).scopes == frozenset({Scope.ADMIN})
    assert await auth.bootstrap_tenant(session, name) is None


@pytest.mark.parametrize(
    ("held", "wanted", "implied"),
    [
        (Scope.ADMIN, Scope.ADMIN, True),
        (Scope.ADMIN, Scope.WRITE, True),
        (Scope.ADMIN, Scope.READ, True),
        (Scope.WRITE, Scope.ADMIN, False),
        (Scope.WRITE, Scope.WRITE, True),
        (Scope.WRITE, Scope.READ, True),
        (Scope.READ, Scope.ADMIN, False),
        (Scope.READ, Scope.WRITE, False),
        (Scope.READ, Scope.READ, True),
    ],
)
def test_scope_implication(held: Scope, wanted: Scope, implied: bool) -> None:
    assert held.implies(wanted) is implied
    principal = auth.Principal(
        tenant_id=uuid.uuid4(), tenant_name="t", key_id=uuid.uuid4(), scopes=frozenset({held})
    )
    assert principal.allows(wanted) is implied
