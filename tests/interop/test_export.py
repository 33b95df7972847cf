"""Export a native ledger and let the real tools judge: ``bean-check`` and ``hledger check``
accept the files, and ``hledger bal`` / ``hledger bs`` show autoledger's balances."""

import csv
import io
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.interop.exporter import export_ledger
from autoledger.interop.importer import JournalFormat, fingerprint, import_journal, read_journal
from autoledger.platform.auth import service as auth
from tests.interop.balances import (
    Balances,
    beanquery_balances,
    hledger_balances,
    ledger_balances,
)
from tests.interop.conftest import bean_check, run_hledger
from tests.interop.native import LAST_DAY, build_native_ledger


def _hledger_bs(csv_text: str) -> Balances:
    """Rows of ``hledger bs -O csv --flat -N``; liabilities shown normal-positive there."""
    out: Balances = {}
    section = ""
    for row in list(csv.reader(io.StringIO(csv_text)))[2:]:
        account, amounts = row[0], row[1]
        if not amounts:
            section = account
            continue
        if account in ("total", "Net:"):
            continue
        sign = -1 if section == "Liabilities" else 1
        for amount in amounts.split(", "):
            number, commodity = amount.rsplit(" ", 1)
            if Decimal(number):
                out[(account, commodity.strip('"'))] = sign * Decimal(number)
    return out


async def test_hledger_agrees_with_the_ledger(
    session: AsyncSession, tmp_path: Path, hledger: str
) -> None:
    books = await build_native_ledger(session)
    path = tmp_path / "books.journal"
    path.write_text(
        await export_ledger(session, books.tenant_id, books.ledger_id, JournalFormat.LEDGER)
    )
    run_hledger(hledger, "-f", str(path), "check")
    run_hledger(hledger, "-f", str(path), "--strict", "check")  # accounts, commodities declared

    ours = await ledger_balances(session, books.tenant_id, books.ledger_id, LAST_DAY)
    assert ours[
        ("Assets:1000-Assets:1100-Cash-and-cash-equivalents:1170-Bitcoin-wallet", "BTC")
    ] == Decimal("0.01234567")
    theirs = hledger_balances(
        run_hledger(hledger, "-f", str(path), "bal", "-O", "csv", "--flat", "-N")
    )
    assert theirs == ours
    balance_sheet = _hledger_bs(
        run_hledger(hledger, "-f", str(path), "bs", "-O", "csv", "--flat", "-N")
    )
    assert balance_sheet == {
        k: v for k, v in ours.items() if k[0].startswith(("Assets:", "Liabilities:"))
    }
    # The pending hold is not a balance; the reversed entry nets to zero.
    text = path.read_text()
    assert '2025-01-20 * Sale  invoice "A-1"\n' in text  # ';' would start a comment
    assert "Held, not posted" not in text


async def test_beancount_export_passes_bean_check(session: AsyncSession, tmp_path: Path) -> None:
    books = await build_native_ledger(session)
    path = tmp_path / "books.beancount"
    path.write_text(
        await export_ledger(session, books.tenant_id, books.ledger_id, JournalFormat.BEANCOUNT)
    )
    done = bean_check(path)
    assert done.returncode == 0, done.stderr
    text = path.read_text()
    assert 'counterparty: "Smith, Jones & Co"' in text
    assert (
        "balance Assets:1000-Assets:1100-Cash-and-cash-equivalents:1110-Operating-bank-account  11000.00 USD"
        in text
    )


async def test_hledger_names_become_valid_beancount_names(
    session: AsyncSession, tmp_path: Path
) -> None:
    """hledger accepts lower-case roots, "revenues" and spaces; Beancount does not."""
    tenant = await auth.create_tenant(session, f"t-{uuid.uuid4().hex[:16]}")
    source = tmp_path / "lower.journal"
    source.write_text(
        "2025-01-02 * Invoice paid\n"
        "    assets:bank account:main   $1,200.00\n"
        "    revenues:consulting\n"
    )
    journal = read_journal(source, JournalFormat.LEDGER)
    report = await import_journal(session, tenant.id, journal, digest=fingerprint(source))
    path = tmp_path / "lower.beancount"
    path.write_text(
        await export_ledger(session, tenant.id, report.ledger_id, JournalFormat.BEANCOUNT)
    )
    done = bean_check(path)
    assert done.returncode == 0, done.stderr
    text = path.read_text()
    assert "Assets:Bank-account:Main  1200.00 USD" in text
    assert "Income:Consulting  -1200.00 USD" in text


async def test_bean_example_through_autoledger_reads_the_same_in_hledger(
    session: AsyncSession, bean_example: Path, tmp_path: Path, hledger: str
) -> None:
    """Beancount's example, imported and exported as a journal: hledger's balances are
    autoledger's, and (conversions aside) Beancount's own."""
    tenant = await auth.create_tenant(session, f"t-{uuid.uuid4().hex[:16]}")
    journal = read_journal(bean_example, JournalFormat.BEANCOUNT)
    report = await import_journal(session, tenant.id, journal, digest=fingerprint(bean_example))
    path = tmp_path / "example.journal"
    path.write_text(await export_ledger(session, tenant.id, report.ledger_id, JournalFormat.LEDGER))
    run_hledger(hledger, "-f", str(path), "--strict", "check")
    end = date(2024, 12, 31)
    ours = await ledger_balances(session, tenant.id, report.ledger_id, end)
    theirs = hledger_balances(
        run_hledger(
            hledger, "-f", str(path), "bal", "-O", "csv", "--flat", "-N", "-e", "2025-01-01"
        )
    )
    assert theirs == ours
    assert {k: v for k, v in ours.items() if ":Conversion:" not in k[0]} == beanquery_balances(
        bean_example, end
    )
