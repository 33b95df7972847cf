"""Event tests run against a database of their own per test, so that no other relay (the
session app's embedded worker) touches their outbox."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.settings import Settings
from tests.conftest import BACKENDS
from tests.ledger.support import fresh_database, fresh_sessionmaker


@dataclass
class OwnDatabase:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]


@pytest.fixture(params=BACKENDS)
async def own_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OwnDatabase]:
    async with (
        fresh_database(request.param, tmp_path) as settings,
        fresh_sessionmaker(settings) as sessionmaker,
    ):
        yield OwnDatabase(settings, sessionmaker)
