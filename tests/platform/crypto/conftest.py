"""A keyring of its own per test: a local KEK in the test's directory, an empty cache."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.db.engine import create_engine, create_sessionmaker
from autoledger.db.migrate import upgrade
from autoledger.db.tenancy import system_settings
from autoledger.kit.settings import Settings
from autoledger.platform.crypto import Keyring, LocalKek, install_keyring
from tests.conftest import make_settings, postgres_database


@pytest.fixture
def kek_path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "kek.key"


@pytest.fixture
def keyring(kek_path: Path) -> Iterator[Keyring]:
    keyring = Keyring(LocalKek(kek_path))
    previous = install_keyring(keyring)
    yield keyring
    install_keyring(previous)


@pytest.fixture
async def own_sessionmaker(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A fresh, migrated database of the same backend as ``settings``: for the KEK rotation,
    which sweeps every tenant's keys, including those other tests wrapped under their KEKs."""
    async with AsyncExitStack() as stack:
        if settings.is_sqlite:
            url = f"sqlite+aiosqlite:///{tmp_path / 'own.db'}"
        else:
            url = await stack.enter_async_context(postgres_database())
        fresh = make_settings(url, settings.data_dir)
        await asyncio.to_thread(upgrade, fresh)
        engine = create_engine(system_settings(fresh))  # the owner: it sweeps every tenant
        yield create_sessionmaker(engine)
        await engine.dispose()
