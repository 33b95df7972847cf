"""``autoledger import-journal`` and ``autoledger export`` as an operator runs them."""

import uuid
from datetime import date
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.ledger import service
from autoledger.platform.auth import service as auth
from tests.cli.conftest import Cli, in_database
from tests.interop.conftest import bean_check
from tests.interop.test_journal_parser import FIXTURES


def _ledger_id(output: str) -> str:
    return output.split()[1]


async def _ledgers(cli: Cli, tenant: str) -> list[uuid.UUID]:
    async def work(session: AsyncSession) -> list[uuid.UUID]:
        owner = await auth.get_tenant_by_name(session, tenant)
        return [ledger.id for ledger in await service.list_ledgers(session, owner.id)]

    return await in_database(cli.settings, work)


def _assert_reported(stderr: str, lines: list[int], summary: str) -> None:
    rows = stderr.strip().splitlines()
    assert [r.split(":")[1] for r in rows[:-1]] == [str(n) for n in lines], stderr
    assert rows[-1] == f"error: {summary}"
    assert sum(r.startswith("error:") for r in rows) == 1
    assert "Traceback" not in stderr


async def test_import_then_export_both_syntaxes(migrated: Cli, tmp_path: Path) -> None:
    assert (await migrated("tenants", "create", "acme")).exit_code == 0
    journal = FIXTURES / "multicurrency.journal"
    result = await migrated("import-journal", str(journal), "--tenant", "acme")
    assert result.exit_code == 0, result.output
    assert "7 entries, 0 already imported" in result.stdout
    assert "5 balance assertions checked" in result.stdout
    assert "ignored 2 price (multicurrency.journal lines 16, 17)" in result.stdout
    ledger = _ledger_id(result.stdout)

    again = await migrated("import-journal", str(journal), "--tenant", "acme", "--ledger", ledger)
    assert again.exit_code == 0, again.output
    assert "0 entries, 7 already imported, 0 accounts" in again.stdout

    out = tmp_path / "books.beancount"
    exported = await migrated(
        "export",
        "--tenant",
        "acme",
        "--ledger",
        ledger,
        "--format",
        "beancount",
        "--output",
        str(out),
    )
    assert exported.exit_code == 0, exported.output
    done = bean_check(out)
    assert done.returncode == 0, done.stderr
    assert "Assets:Broker  6.5000 AAPL" in out.read_text()

    text = await migrated("export", "--tenant", "acme", "--ledger", ledger, "--format", "ledger")
    assert text.exit_code == 0, text.output
    assert "    Assets:Checking  0.00 USD = 6850.25 USD" in text.stdout


async def test_unsupported_input_is_reported_and_nothing_is_written(migrated: Cli) -> None:
    assert (await migrated("tenants", "create", "acme")).exit_code == 0
    result = await migrated(
        "import-journal",
        str(FIXTURES / "unsupported.journal"),
        "--tenant",
        "acme",
        "--format",
        "ledger",
    )
    assert result.exit_code == 1
    _assert_reported(
        result.stderr,
        [2, 3, 6, 15, 18, 22, 26, 31],
        "8 problem(s) in unsupported.journal; nothing imported",
    )
    assert await _ledgers(migrated, "acme") == []


async def test_a_failure_while_writing_rolls_everything_back(migrated: Cli, tmp_path: Path) -> None:
    """Assets, accounts and entries written before the failing entry disappear with it."""
    assert (await migrated("tenants", "create", "acme")).exit_code == 0
    first = await migrated(
        "import-journal", str(FIXTURES / "multicurrency.journal"), "--tenant", "acme"
    )
    ledger = _ledger_id(first.stdout)

    async def close_march(session: AsyncSession) -> None:
        owner = await auth.get_tenant_by_name(session, "acme")
        period = await service.create_period(
            session,
            owner.id,
            uuid.UUID(ledger),
            name="2025-03",
            start_date=date(2025, 3, 1),
            end_date=date(2025, 3, 31),
        )
        await service.set_period_status(session, owner.id, period.id, closed=True, actor="test")
        await session.commit()

    await in_database(migrated.settings, close_march)
    late = tmp_path / "late.journal"
    late.write_text(
        "2025-02-01 * Fine\n    Assets:Gold  2 GOLDBAR\n    Equity:Opening  -2 GOLDBAR\n\n"
        "2025-03-05 * In a closed period\n    Expenses:New  $1.00\n    Assets:Checking\n"
    )
    result = await migrated("import-journal", str(late), "--tenant", "acme", "--ledger", ledger)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ledger.batch_failed"), result.stderr

    async def state(session: AsyncSession) -> tuple[set[str], dict[str, int]]:
        owner = await auth.get_tenant_by_name(session, "acme")
        accounts = await service.list_accounts(
            session, owner.id, uuid.UUID(ledger), after=None, limit=1000
        )
        return {a.name for a in accounts}, await service.asset_scales(session, owner.id)

    names, assets = await in_database(migrated.settings, state)
    assert "Assets:Gold" not in names
    assert "Expenses:New" not in names
    assert "GOLDBAR" not in assets
    assert "AAPL" in assets  # the first import stands


async def test_errors_are_one_line(migrated: Cli, tmp_path: Path) -> None:
    missing = await migrated("import-journal", str(tmp_path / "nope.journal"), "--tenant", "acme")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == f"error: {tmp_path / 'nope.journal'}: no such file"
    bad = await migrated("export", "--tenant", "acme", "--ledger", "x", "--format", "ledger")
    assert bad.exit_code == 1
    assert bad.stderr.strip() == "error: 'x' is not a ledger id (a UUID)"
    unknown = await migrated(
        "export", "--tenant", "nobody", "--ledger", str(uuid.uuid4()), "--format", "csv"
    )
    assert unknown.stderr.strip() == "error: unknown format 'csv'; choose beancount or ledger"
