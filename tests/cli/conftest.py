"""Fixtures of the CLI tests: ``autoledger`` invoked in-process against a database of the
test's own."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
import structlog
from click.testing import Result
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from autoledger.cli.main import app
from autoledger.db.engine import create_engine, create_sessionmaker
from autoledger.kit.settings import Settings
from tests.conftest import make_settings

T = TypeVar("T")


@dataclass(frozen=True)
class Cli:
    """Runs ``autoledger`` against one database, off the event loop (commands run their own)."""

    env: dict[str, str]
    settings: Settings

    async def __call__(self, *args: str, **env: str) -> Result:
        return await asyncio.to_thread(self._invoke, list(args), {**self.env, **env})

    def _invoke(self, args: list[str], env: dict[str, str]) -> Result:
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            return CliRunner().invoke(app, args, env=env)
        finally:
            # Commands configure process-wide logging onto the runner's streams; undo that.
            root.handlers[:], root.level = handlers, level
            structlog.reset_defaults()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.delenv("AUTOLEDGER_PORT", raising=False)
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    env = {
        "AUTOLEDGER_DATABASE_URL": url,
        "AUTOLEDGER_DATA_DIR": str(tmp_path / "data"),
        "AUTOLEDGER_LOG_FORMAT": "console",
    }
    return Cli(env=env, settings=make_settings(url, tmp_path / "data"))


@pytest.fixture
async def migrated(cli: Cli) -> Cli:
    result = await cli("migrate")
    assert result.exit_code == 0, result.output
    return cli


async def in_database(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            return await work(session)
    finally:
        await engine.dispose()


def assert_one_line_error(result: Result, starts_with: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(starts_with), lines[0]
    assert "Traceback" not in result.output
