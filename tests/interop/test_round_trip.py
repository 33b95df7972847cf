"""Export then import gives the same balances, in both syntaxes; re-importing a file adds
nothing twice."""

import uuid
from datetime import date
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.interop.exporter import export_ledger
from autoledger.interop.importer import (
    JournalFormat,
    fingerprint,
    import_journal,
    read_journal,
)
from autoledger.platform.auth import service as auth
from tests.interop.balances import ledger_balances
from tests.interop.native import LAST_DAY, build_native_ledger


async def _reimport(
    session: AsyncSession, tenant_id: uuid.UUID, path: Path, fmt: JournalFormat
) -> uuid.UUID:
    journal = read_journal(path, fmt)
    assert journal.errors == []
    report = await import_journal(session, tenant_id, journal, digest=fingerprint(path))
    return report.ledger_id


async def test_native_ledger_round_trips_in_both_syntaxes(
    session: AsyncSession, tmp_path: Path
) -> None:
    books = await build_native_ledger(session)
    before = await ledger_balances(session, books.tenant_id, books.ledger_id, LAST_DAY)
    for fmt, suffix in ((JournalFormat.LEDGER, "journal"), (JournalFormat.BEANCOUNT, "beancount")):
        path = tmp_path / f"books.{suffix}"
        path.write_text(await export_ledger(session, books.tenant_id, books.ledger_id, fmt))
        copy = await _reimport(session, books.tenant_id, path, fmt)
        after = await ledger_balances(session, books.tenant_id, copy, LAST_DAY)
        assert after == before, fmt


async def test_bean_example_round_trips_through_beancount_and_hledger_syntax(
    session: AsyncSession, bean_example: Path, tmp_path: Path
) -> None:
    tenant = await auth.create_tenant(session, f"t-{uuid.uuid4().hex[:16]}")
    first = await _reimport(session, tenant.id, bean_example, JournalFormat.BEANCOUNT)
    end = date(2024, 12, 31)
    original = await ledger_balances(session, tenant.id, first, end)
    for fmt, suffix in ((JournalFormat.BEANCOUNT, "beancount"), (JournalFormat.LEDGER, "journal")):
        path = tmp_path / f"again.{suffix}"
        path.write_text(await export_ledger(session, tenant.id, first, fmt))
        copy = await _reimport(session, tenant.id, path, fmt)
        # The conversions were already explicit: no new conversion accounts appear.
        assert await ledger_balances(session, tenant.id, copy, end) == original, fmt


async def test_importing_the_same_file_twice_adds_nothing(
    session: AsyncSession, tmp_path: Path
) -> None:
    tenant = await auth.create_tenant(session, f"t-{uuid.uuid4().hex[:16]}")
    path = tmp_path / "small.journal"
    path.write_text(
        "2025-01-02 * Coffee\n"
        "    Expenses:Food:Coffee   3.50 EUR\n"
        "    Assets:Cash\n"
        "\n"
        "2025-01-03 Groceries\n"
        "    Expenses:Food:Groceries   20.00 EUR\n"
        "    Assets:Cash  -20.00 EUR = -23.50 EUR\n"
    )
    journal = read_journal(path, JournalFormat.LEDGER)
    first = await import_journal(session, tenant.id, journal, digest=fingerprint(path))
    again = await import_journal(
        session, tenant.id, journal, digest=fingerprint(path), ledger_id=first.ledger_id
    )
    assert (first.entries_created, first.entries_replayed) == (2, 0)
    assert (again.entries_created, again.entries_replayed, again.accounts_created) == (0, 2, 0)
    assert first.assertions_checked == 1
    balances = await ledger_balances(session, tenant.id, first.ledger_id, LAST_DAY)
    assert balances[("Assets:Cash", "EUR")] == -23.5
