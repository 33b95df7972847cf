"""Shared fixtures. Every database test runs on SQLite and on PostgreSQL.

PostgreSQL cases get a fresh database per test session, created and dropped here. When
PostgreSQL is unreachable they skip with the reason, unless AUTOLEDGER_REQUIRE_SERVICES=1
(CI), where they fail.
"""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from autoledger.api.app import create_app
from autoledger.db.engine import create_engine, create_sessionmaker
from autoledger.db.migrate import upgrade
from autoledger.db.tenancy import system_settings
from autoledger.kit.settings import Settings
from autoledger.platform.auth import service as auth
from autoledger.platform.auth.roles import Role
from autoledger.platform.crypto.keyring import Keyring, install_keyring

PG_ADMIN_DSN = os.environ.get(
    "AUTOLEDGER_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_SERVICES = os.environ.get("AUTOLEDGER_REQUIRE_SERVICES") == "1"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def service_unavailable(reason: str) -> None:
    """Skip, or fail when CI demands every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (AUTOLEDGER_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


async def _pg_admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        service_unavailable(f"PostgreSQL unreachable at {PG_ADMIN_DSN}: {exc}")
        raise


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; yields its asyncpg URL."""
    name = f"autoledger_test_{uuid.uuid4().hex[:12]}"
    admin = await _pg_admin()
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        admin = await _pg_admin()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


APP_ROLE = "autoledger_app"  # created by migration 0008; row-level security binds it


def app_role_url(owner_url: str) -> str:
    """The same PostgreSQL database, as the request-path role (trust auth here)."""
    scheme, rest = owner_url.split("://", 1)
    return f"{scheme}://{APP_ROLE}@{rest.split('@', 1)[1]}"


def make_settings(database_url: str, data_dir: Path) -> Settings:
    """Settings for a database URL; on PostgreSQL the request path runs as the RLS role and
    the owner URL becomes the system URL (ADR 0009), exactly as in production."""
    postgres = database_url.startswith("postgresql")
    return Settings(
        database_url=app_role_url(database_url) if postgres else database_url,
        system_database_url=database_url if postgres else None,
        data_dir=data_dir,
        log_format="console",
        api_key_cache_seconds=0,
    )


@pytest.fixture(scope="session", params=BACKENDS)
async def settings(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Settings]:
    """Settings for a migrated database of the parametrized backend."""
    data_dir = tmp_path_factory.mktemp("data")
    async with AsyncExitStack() as stack:
        if request.param == "postgresql":
            url = await stack.enter_async_context(postgres_database())
        else:
            url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        config = make_settings(url, data_dir)
        await asyncio.to_thread(upgrade, config)
        # The key-encryption key lives in the test's data directory, never in ./var.
        previous = install_keyring(Keyring.from_settings(config))
        yield config
        install_keyring(previous)


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The system (owner) engine: tests arrange data across tenants with it."""
    engine = create_engine(system_settings(settings))
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session whose work is rolled back at the end of the test."""
    async with sessionmaker() as session:
        yield session
        await session.rollback()


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@dataclass(frozen=True)
class TenantKeys:
    """A fresh tenant with one key per role, so every test is isolated by tenancy."""

    id: uuid.UUID
    name: str
    keys: dict[Role, str]

    def headers(self, role: Role = Role.ADMIN) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


async def make_tenant(sessionmaker: async_sessionmaker[AsyncSession]) -> TenantKeys:
    async with sessionmaker() as session:
        tenant = await auth.create_tenant(session, f"t-{uuid.uuid4().hex[:16]}")
        keys = {}
        for role in Role:
            _, full_key = await auth.create_api_key(
                session, tenant.id, name=role.value, roles=[role]
            )
            keys[role] = full_key
        await session.commit()
    return TenantKeys(id=tenant.id, name=tenant.name, keys=keys)


@pytest.fixture
async def tenant(sessionmaker: async_sessionmaker[AsyncSession]) -> TenantKeys:
    return await make_tenant(sessionmaker)


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
