"""PostgreSQL row-level security, the second wall behind tenant-scoped queries: under the
request-path role a query that forgets its tenant filter still sees only its own tenant."""

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from autoledger.kit.settings import Settings
from tests.conftest import make_tenant
from tests.ledger.support import fresh_database, fresh_sessionmaker, new_account, new_ledger

pytestmark = pytest.mark.postgres


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture
async def two_tenants(tmp_path: object) -> AsyncIterator[tuple[Settings, uuid.UUID, uuid.UUID]]:
    async with fresh_database("postgresql", tmp_path) as settings:  # type: ignore[arg-type]
        async with fresh_sessionmaker(settings) as sm:
            first, second = await new_ledger(sm), await new_ledger(sm)
            await new_account(sm, first, "1000")
            await new_account(sm, second, "1000")
            await make_tenant(sm)  # keys too
        yield settings, first.tenant_id, second.tenant_id


async def test_an_unscoped_query_under_the_app_role_sees_only_its_tenant(
    two_tenants: tuple[Settings, uuid.UUID, uuid.UUID],
) -> None:
    settings, first, _ = two_tenants
    conn = await asyncpg.connect(_dsn(settings.database_url))  # the request-path role
    try:
        assert await conn.fetchval("SELECT current_user") == "autoledger_app"
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(first))
            tenants = {r["tenant_id"] for r in await conn.fetch("SELECT tenant_id FROM accounts")}
            ledgers = await conn.fetch("SELECT tenant_id FROM ledgers")
            visible = await conn.fetch("SELECT id FROM tenants")
        assert tenants == {first}
        assert {r["tenant_id"] for r in ledgers} == {first}
        assert [r["id"] for r in visible] == [first]
        # no tenant set: nothing at all (fail closed)
        assert await conn.fetchval("SELECT count(*) FROM accounts") == 0
        assert await conn.fetchval("SELECT count(*) FROM api_keys") == 0
    finally:
        await conn.close()


async def test_the_app_role_cannot_write_into_another_tenant(
    two_tenants: tuple[Settings, uuid.UUID, uuid.UUID],
) -> None:
    settings, first, second = two_tenants
    conn = await asyncpg.connect(_dsn(settings.database_url))
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(first))
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                await conn.execute(
                    "INSERT INTO assets (id, tenant_id, code, scale, name, created_at)"
                    " VALUES ($1, $2, 'PTS', 0, 'points', now())",
                    uuid.uuid4(),
                    second,
                )
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(first))
            moved = await conn.execute(
                "UPDATE accounts SET name = 'x' WHERE tenant_id = $1", second
            )
        assert moved == "UPDATE 0"
    finally:
        await conn.close()


async def test_every_tenant_table_has_row_level_security(
    two_tenants: tuple[Settings, uuid.UUID, uuid.UUID],
) -> None:
    settings, _, _ = two_tenants
    conn = await asyncpg.connect(_dsn(settings.system_database_url or settings.database_url))
    try:
        unprotected = await conn.fetch(
            """
            SELECT c.table_name FROM information_schema.columns c
            JOIN pg_class t ON t.relname = c.table_name
            JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = c.table_schema
            WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id'
              AND NOT (t.relrowsecurity AND EXISTS (
                  SELECT 1 FROM pg_policies p
                  WHERE p.tablename = c.table_name AND p.schemaname = c.table_schema))
            """
        )
        assert [r["table_name"] for r in unprotected] == []
        app_role = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'autoledger_app'"
        )
        assert app_role is not None
        assert (app_role["rolsuper"], app_role["rolbypassrls"]) == (False, False)
    finally:
        await conn.close()
