"""Row-level security plumbing: which tenant the current transaction acts for.

On PostgreSQL every tenant table carries a policy ``tenant_id = current_setting('app.tenant_id')``
(migration 0008) and request-path connections use a role that is subject to it. Whatever
starts a transaction for a tenant sets :data:`current_tenant` first (the API after
authentication, the journal writer per group); a listener then issues
``set_config('app.tenant_id', …, true)`` at the start of each transaction, so the setting is
transaction-local and a pooled connection never carries one tenant into another's work. With
no tenant set the listener sets the empty string: tenant tables then show nothing (fail
closed). SQLite has no row-level security; the listener does nothing there.

System work that spans tenants (authentication by key prefix, the outbox relay, consumers,
webhook delivery, housekeeping, the CLI) uses the *system* connection
(``AUTOLEDGER_SYSTEM_DATABASE_URL``, the schema owner), which row-level security does not
restrict — and which every query still scopes by tenant in code.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

from autoledger.kit.settings import Settings

current_tenant: ContextVar[uuid.UUID | None] = ContextVar("current_tenant", default=None)

_SET_TENANT = text("SELECT set_config('app.tenant_id', :tenant, true)")


@contextmanager
def acting_for(tenant_id: uuid.UUID) -> Iterator[None]:
    """Transactions begun inside the block act for ``tenant_id``."""
    token = current_tenant.set(tenant_id)
    try:
        yield
    finally:
        current_tenant.reset(token)


def _after_begin(
    _session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    if connection.dialect.name != "postgresql":
        return
    tenant = current_tenant.get()
    connection.execute(_SET_TENANT, {"tenant": "" if tenant is None else str(tenant)})


class TenantSession(Session):
    """A session whose every transaction acts for :data:`current_tenant`."""


event.listen(TenantSession, "after_begin", _after_begin)


def tenant_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions of the request path (same options as ``create_sessionmaker``)."""
    return async_sessionmaker(
        engine, expire_on_commit=False, autoflush=False, sync_session_class=TenantSession
    )


def system_settings(settings: Settings) -> Settings:
    """The same settings, connecting as the system (schema owner) role."""
    if settings.system_database_url is None:
        return settings
    return settings.model_copy(update={"database_url": settings.system_database_url})
