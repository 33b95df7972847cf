"""Tenants and API keys.

An API key reads ``al_<prefix>_<secret>``: the prefix finds the row, the secret is checked
against its SHA-256 digest in constant time. The secret carries ~256 bits of entropy, so a
fast digest is the right tool (a slow password hash protects low-entropy secrets, and would
cost every request milliseconds); see docs/adr/0002-tenancy-and-api-keys.md.
"""

import hashlib
import hmac
import re
import secrets
import string
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.kit.clock import utcnow
from autoledger.platform.auth.errors import (
    ApiKeyNotFound,
    InvalidApiKey,
    InvalidTenantName,
    TenantNameTaken,
    TenantNotFound,
)
from autoledger.platform.auth.repository import AuthRepository
from autoledger.platform.auth.roles import Role, Scope, scopes_of
from autoledger.platform.auth.schemas import TENANT_NAME_PATTERN
from autoledger.platform.auth.tables import ApiKey, Tenant

_KEY_PATTERN = re.compile(r"al_([0-9a-f]{12})_([A-Za-z0-9]{43})")
_SECRET_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key, its tenant and what it may do."""

    tenant_id: uuid.UUID
    tenant_name: str
    key_id: uuid.UUID
    roles: frozenset[Role]
    expires_at: datetime | None = None
    scopes: frozenset[Scope] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "scopes", scopes_of(self.roles))

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def generate_key() -> tuple[str, str, str]:
    """A new key as ``(full_key, prefix, secret_digest)``."""
    prefix = secrets.token_hex(6)
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(43))
    return f"al_{prefix}_{secret}", prefix, _digest(secret)


async def create_tenant(session: AsyncSession, name: str) -> Tenant:
    if not re.fullmatch(TENANT_NAME_PATTERN, name):
        raise InvalidTenantName(
            f"tenant name {name!r} must be 1-63 lowercase letters, digits or '-', starting with a letter or digit"
        )
    repository = AuthRepository(session)
    if await repository.tenant_by_name(name) is not None:
        raise TenantNameTaken(f"a tenant named {name!r} already exists")
    tenant = Tenant(name=name)
    try:
        async with session.begin_nested():
            await repository.add(tenant)
    except IntegrityError:
        raise TenantNameTaken(f"a tenant named {name!r} already exists") from None
    return tenant


async def get_tenant_by_name(session: AsyncSession, name: str) -> Tenant:
    tenant = await AuthRepository(session).tenant_by_name(name)
    if tenant is None:
        raise TenantNotFound(f"no tenant named {name!r}")
    return tenant


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    tenant = await AuthRepository(session).tenant_by_id(tenant_id)
    if tenant is None:
        raise TenantNotFound(f"no tenant {tenant_id}")
    return tenant


async def list_tenants(session: AsyncSession) -> Sequence[Tenant]:
    return await AuthRepository(session).tenants()


async def create_api_key(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    name: str,
    roles: Sequence[Role | str],
    expires_at: datetime | None = None,
    rotated_from_id: uuid.UUID | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which is never stored."""
    full_key, prefix, digest = generate_key()
    key = ApiKey(
        tenant_id=tenant_id,
        name=name,
        prefix=prefix,
        secret_hash=digest,
        roles=sorted({Role(r).value for r in roles}),
        expires_at=expires_at,
        rotated_from_id=rotated_from_id,
    )
    await AuthRepository(session).add(key)
    return key, full_key


async def list_api_keys(session: AsyncSession, tenant_id: uuid.UUID) -> Sequence[ApiKey]:
    return await AuthRepository(session).keys(tenant_id)


async def revoke_api_key(session: AsyncSession, tenant_id: uuid.UUID, key_id: uuid.UUID) -> ApiKey:
    key = await AuthRepository(session).key(tenant_id, key_id)
    if key is None:
        raise ApiKeyNotFound(f"no API key {key_id}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
    return key


async def rotate_api_key(
    session: AsyncSession, tenant_id: uuid.UUID, key_id: uuid.UUID, *, grace: timedelta
) -> tuple[ApiKey, str]:
    """A new key with the same name, roles and expiry; the old one keeps working for
    ``grace`` (so deployments can roll over), then expires."""
    old = await AuthRepository(session).key(tenant_id, key_id)
    if old is None or old.revoked_at is not None:
        raise ApiKeyNotFound(f"no active API key {key_id}")
    new, full_key = await create_api_key(
        session,
        tenant_id,
        name=old.name,
        roles=old.roles,
        expires_at=old.expires_at,
        rotated_from_id=old.id,
    )
    cutoff = utcnow() + grace
    if grace.total_seconds() == 0:
        old.revoked_at = utcnow()
    elif old.expires_at is None or old.expires_at > cutoff:
        old.expires_at = cutoff
    await session.flush()
    return new, full_key


LAST_USED_RESOLUTION = timedelta(minutes=1)


async def authenticate(session: AsyncSession, token: str) -> Principal:
    """Resolve a bearer token to a principal. Every failure looks the same to the caller."""
    match = _KEY_PATTERN.fullmatch(token)
    if match is None:
        raise InvalidApiKey("the API key is malformed, unknown, revoked or expired")
    prefix, secret = match.groups()
    key = await AuthRepository(session).key_by_prefix(prefix)
    if key is None or not hmac.compare_digest(key.secret_hash, _digest(secret)):
        raise InvalidApiKey("the API key is malformed, unknown, revoked or expired")
    now = utcnow()
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        raise InvalidApiKey("the API key is malformed, unknown, revoked or expired")
    tenant = await get_tenant(session, key.tenant_id)
    if key.last_used_at is None or key.last_used_at < now - LAST_USED_RESOLUTION:
        # At most one write per key a minute and process (and only on a cache miss).
        await AuthRepository(session).touch_key(key.id, now)
    return Principal(
        tenant_id=tenant.id,
        tenant_name=tenant.name,
        key_id=key.id,
        roles=frozenset(Role(r) for r in key.roles),
        expires_at=key.expires_at,
    )


async def bootstrap_tenant(session: AsyncSession, name: str) -> str | None:
    """First start: create the tenant and an admin key. Returns the key, or ``None`` when the
    tenant already exists (its keys are never shown again)."""
    if await AuthRepository(session).tenant_by_name(name) is not None:
        return None
    tenant = await create_tenant(session, name)
    _, full_key = await create_api_key(
        session, tenant.id, name="bootstrap admin", roles=[Role.ADMIN]
    )
    return full_key
