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
from autoledger.platform.auth.roles import Role, Scope
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
        session, tenant.id, name="ci", roles=[Role.ACCOUNTANT, Role.VIEWER, Role.ACCOUNTANT]
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
    assert stored["roles"] == ["accountant", "viewer"]
    for value in stored.values():
        assert secret not in str(value)
        assert full_key not in str(value)


async def test_every_key_is_different(session: AsyncSession) -> None:
    tenant = await auth.create_tenant(session, unique_name())
    keys = {
        (await auth.create_api_key(session, tenant.id, name=str(i), roles=[Role.VIEWER]))[1]
        for i in range(20)
    }
    assert all(KEY.fullmatch(k) for k in keys)
    assert len({k.split("_")[1] for k in keys}) == 20


async def test_a_key_authenticates_as_its_tenant_and_roles(session: AsyncSession) -> None:
    tenant = await auth.create_tenant(session, unique_name())
    key, full_key = await auth.create_api_key(
        session, tenant.id, name="ci", roles=[Role.ACCOUNTANT]
    )
    principal = await auth.authenticate(session, full_key)
    assert principal.tenant_id == tenant.id
    assert principal.tenant_name == tenant.name
    assert principal.key_id == key.id
    assert principal.roles == frozenset({Role.ACCOUNTANT})
    assert principal.actor == f"key:{key.id}"


async def test_a_wrong_secret_with_a_real_prefix_is_rejected(session: AsyncSession) -> None:
    tenant = await auth.create_tenant(session, unique_name())
    _, full_key = await auth.create_api_key(session, tenant.id, name="ci", roles=[Role.VIEWER])
    forged = full_key[:-1] + ("a" if full_key[-1] != "a" else "b")
    with pytest.raises(InvalidApiKey):
        await auth.authenticate(session, forged)


async def test_an_expired_key_is_rejected(session: AsyncSession) -> None:
    tenant = await auth.create_tenant(session, unique_name())
    _, expired = await auth.create_api_key(
        session,
        tenant.id,
        name="expired",
        roles=[Role.VIEWER],
        expires_at=utcnow() - timedelta(seconds=1),
    )
    _, current = await auth.create_api_key(
        session,
        tenant.id,
        name="current",
        roles=[Role.VIEWER],
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
    key, full_key = await auth.create_api_key(session, tenant.id, name="ci", roles=[Role.VIEWER])
    revoked = await auth.revoke_api_key(session, tenant.id, key.id)
    assert revoked.revoked_at is not None
    session.expire_all()
    with pytest.raises(InvalidApiKey):
        await auth.authenticate(session, full_key)


async def test_a_key_cannot_be_revoked_through_another_tenant(session: AsyncSession) -> None:
    owner = await auth.create_tenant(session, unique_name())
    other = await auth.create_tenant(session, unique_name())
    key, full_key = await auth.create_api_key(session, owner.id, name="ci", roles=[Role.VIEWER])
    with pytest.raises(ApiKeyNotFound):
        await auth.revoke_api_key(session, other.id, key.id)
    assert (await auth.authenticate(session, full_key)).tenant_id == owner.id


async def test_bootstrap_creates_an_admin_key_once(session: AsyncSession) -> None:
    name = unique_name()
    full_key = await auth.bootstrap_tenant(session, name)
    assert full_key is not None
    assert (await auth.authenticate(session, full_key)).roles == frozenset({Role.ADMIN})
    assert await auth.bootstrap_tenant(session, name) is None


@pytest.mark.parametrize(
    ("role", "scope", "allowed"),
    [
        (Role.ADMIN, Scope.KEYS_MANAGE, True),
        (Role.ACCOUNTANT, Scope.LEDGER_WRITE, True),
        (Role.ACCOUNTANT, Scope.PERIODS_CLOSE, False),
        (Role.ACCOUNTANT, Scope.KEYS_MANAGE, False),
        (Role.APPROVER, Scope.ENTRIES_APPROVE, True),
        (Role.APPROVER, Scope.LEDGER_WRITE, False),
        (Role.VIEWER, Scope.LEDGER_READ, True),
        (Role.VIEWER, Scope.LEDGER_WRITE, False),
        (Role.AUDITOR, Scope.AUDIT_READ, True),
        (Role.AUDITOR, Scope.LEDGER_WRITE, False),
        (Role.AGENT, Scope.LEDGER_WRITE, True),
        (Role.AGENT, Scope.ENTRIES_APPROVE, False),
    ],
)
def test_roles_grant_their_scopes_only(role: Role, scope: Scope, allowed: bool) -> None:
    principal = auth.Principal(
        tenant_id=uuid.uuid4(), tenant_name="t", key_id=uuid.uuid4(), roles=frozenset({role})
    )
    assert principal.allows(scope) is allowed
    assert Scope.PROFILE_READ in principal.scopes  # every role may ask who it is


async def test_rotation_issues_a_new_key_and_retires_the_old_after_grace(
    session: AsyncSession,
) -> None:
    tenant = await auth.create_tenant(session, unique_name())
    old, old_key = await auth.create_api_key(session, tenant.id, name="ci", roles=[Role.AGENT])
    new, new_key = await auth.rotate_api_key(session, tenant.id, old.id, grace=timedelta(hours=1))
    assert new.roles == ["agent"]
    assert new.rotated_from_id == old.id
    assert old.expires_at is not None
    assert (await auth.authenticate(session, new_key)).key_id == new.id
    assert (await auth.authenticate(session, old_key)).key_id == old.id  # still in its grace
    _, newest_key = await auth.rotate_api_key(session, tenant.id, new.id, grace=timedelta(0))
    with pytest.raises(InvalidApiKey):
        await auth.authenticate(session, new_key)  # no grace: revoked at once
    assert (await auth.authenticate(session, newest_key)).roles == frozenset({Role.AGENT})


async def test_authentication_records_when_a_key_was_last_used(session: AsyncSession) -> None:
    tenant = await auth.create_tenant(session, unique_name())
    key, full_key = await auth.create_api_key(session, tenant.id, name="ci", roles=[Role.VIEWER])
    assert key.last_used_at is None
    await auth.authenticate(session, full_key)
    await session.refresh(key)
    assert key.last_used_at is not None
