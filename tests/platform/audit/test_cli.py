"""``autoledger audit verify`` and ``audit export`` (mounted here as cli/main.py will)."""

import asyncio
import logging
from pathlib import Path

import orjson
import structlog
import typer
from click.testing import Result
from sqlalchemy import text, update
from typer.testing import CliRunner

from autoledger.cli.audit_commands import audit_app
from autoledger.db.migrate import upgrade
from autoledger.platform.audit import AuditEntry, change_digest, record
from autoledger.platform.audit.tables import AuditRecord
from autoledger.platform.auth import service as auth
from tests.conftest import make_settings
from tests.ledger.support import fresh_sessionmaker

root = typer.Typer()
root.add_typer(audit_app, name="audit")


def _invoke(env: dict[str, str], *args: str) -> Result:
    logger = logging.getLogger()
    handlers, level = logger.handlers[:], logger.level
    try:
        return CliRunner().invoke(root, list(args), env=env)
    finally:
        logger.handlers[:], logger.level = handlers, level
        structlog.reset_defaults()


async def test_verify_and_export(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    settings = make_settings(url, tmp_path / "data")
    await asyncio.to_thread(upgrade, settings)
    env = {"AUTOLEDGER_DATABASE_URL": url, "AUTOLEDGER_DATA_DIR": str(tmp_path / "data")}
    async with fresh_sessionmaker(settings) as sm, sm() as session:
        tenant = await auth.create_tenant(session, "acme")
        await record(
            session,
            [
                AuditEntry(tenant.id, "cli", f"test.{i}", "thing", change_digest(i))
                for i in range(3)
            ],
        )
        await session.commit()

    result = await asyncio.to_thread(_invoke, env, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert "acme: ok, 3 records" in result.stdout

    out = tmp_path / "audit.jsonl"
    result = await asyncio.to_thread(
        _invoke, env, "audit", "export", "--tenant", "acme", "--output", str(out)
    )
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [line["action"] for line in lines] == ["test.0", "test.1", "test.2"]
    result = await asyncio.to_thread(_invoke, env, "audit", "export", "--tenant", "acme")
    assert result.stdout.count("\n") == 3

    async with fresh_sessionmaker(settings) as sm, sm() as session:
        await session.execute(text("DROP TRIGGER audit_log_no_update"))
        await session.execute(
            update(AuditRecord).where(AuditRecord.seq == 2).values(action="test.rewritten")
        )
        await session.commit()
    result = await asyncio.to_thread(_invoke, env, "audit", "verify", "--tenant", "acme")
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: audit chain of tenant acme is broken at seq 2 (record "), line
    assert lines[1]["id"] in line

    result = await asyncio.to_thread(_invoke, env, "audit", "verify", "--tenant", "nobody")
    assert result.exit_code == 1
