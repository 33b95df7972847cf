"""The ``autoledger`` command line on an embedded SQLite file: what it prints, how it fails."""

import asyncio
import logging
import re
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
from autoledger.db.migrate import head_revision
from autoledger.kit.settings import Settings
from autoledger.platform.auth import service as auth
from autoledger.platform.auth.errors import InvalidApiKey
from autoledger.platform.auth.schemas import Scope
from tests.conftest import make_settings

T = TypeVar("T")
KEY = re.compile(r"^al_[0-9a-f]{12}_[A-Za-z0-9]{43}$")


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


async def test_migrate_brings_the_database_to_head(cli: Cli) -> None:
    result = await cli("migrate")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"database at revision {head_revision()}"
    assert (await cli("migrate")).exit_code == 0


async def test_a_tenant_is_created_once(migrated: Cli) -> None:
    created = await migrated("tenants", "create", "acme")
    assert created.exit_code == 0, created.output
    assert re.fullmatch(r"[0-9a-f-]{36}\s+acme", created.stdout.strip()), created.stdout

    again = await migrated("tenants", "create", "acme")
    assert_one_line_error(again, "error: tenants.name_taken")

    listed = await migrated("tenants", "list")
    assert listed.exit_code == 0, listed.output
    assert "acme" in listed.stdout


async def test_an_invalid_tenant_name_is_one_line(migrated: Cli) -> None:
    result = await migrated("tenants", "create", "Not Valid")
    assert_one_line_error(result, "error: tenants.invalid_name")


async def test_a_created_key_authenticates_with_its_scopes(migrated: Cli) -> None:
    assert (await migrated("tenants", "create", "acme")).exit_code == 0
    result = await migrated("keys", "create", "--tenant", "acme", "--scopes", "admin")
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert KEY.match(key), key

    principal = await in_database(migrated.settings, lambda s: auth.authenticate(s, key))
    assert principal.tenant_name == "acme"
    assert principal.scopes == frozenset({Scope.ADMIN})


async def test_scopes_may_be_repeated_or_comma_separated(migrated: Cli) -> None:
    assert (await migrated("tenants", "create", "acme")).exit_code == 0
    result = await migrated(
        "keys", "create", "--tenant", "acme", "--scopes", "read,write", "--scopes", "admin"
    )
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    principal = await in_database(migrated.settings, lambda s: auth.authenticate(s, key))
    assert principal.scopes == frozenset(Scope)


async def test_an_unknown_scope_is_one_line(migrated: Cli) -> None:
    assert (await migrated("tenants", "create", "acme")).exit_code == 0
    result = await migrated("keys", "create", "--tenant", "acme", "--scopes", "root")
    assert_one_line_error(result, "error: unknown scope")


async def test_a_key_for_an_unknown_tenant_is_refused(migrated: Cli) -> None:
    result = await migrated("keys", "create", "--tenant", "nobody", "--scopes", "read")
    assert_one_line_error(result, "error: tenants.not_found")


async def test_a_revoked_key_no_longer_authenticates(migrated: Cli) -> None:
    assert (await migrated("tenants", "create", "acme")).exit_code == 0
    key = (await migrated("keys", "create", "--tenant", "acme", "--scopes", "read")).stdout.strip()
    principal = await in_database(migrated.settings, lambda s: auth.authenticate(s, key))

    result = await migrated("keys", "revoke", "--tenant", "acme", str(principal.key_id))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"revoked {principal.key_id}"
    with pytest.raises(InvalidApiKey):
        await in_database(migrated.settings, lambda s: auth.authenticate(s, key))


async def test_revoking_a_malformed_key_id_is_one_line(migrated: Cli) -> None:
    assert (await migrated("tenants", "create", "acme")).exit_code == 0
    result = await migrated("keys", "revoke", "--tenant", "acme", "not-a-uuid")
    assert_one_line_error(result, "error: 'not-a-uuid' is not a key id")


async def test_an_invalid_setting_is_one_line_naming_it(cli: Cli) -> None:
    result = await cli("tenants", "list", AUTOLEDGER_PORT="abc")
    assert_one_line_error(result, "error: invalid setting AUTOLEDGER_PORT:")


async def test_an_unmigrated_database_is_one_line(cli: Cli) -> None:
    result = await cli("tenants", "list")
    assert_one_line_error(result, "error: database error: no such table: tenants")


async def test_an_unreachable_database_is_one_line(cli: Cli) -> None:
    result = await cli(
        "tenants", "list", AUTOLEDGER_DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere"
    )
    assert_one_line_error(result, "error: cannot reach the database:")
