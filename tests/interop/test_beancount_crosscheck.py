"""Cross-check against Beancount itself: a multi-year ledger from ``bean-example``, imported,
must show Beancount's own numbers (beanquery) account by account, to the cent."""

import uuid
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.interop.importer import JournalFormat, fingerprint, import_journal, read_journal
from autoledger.interop.planner import CONVERSION
from autoledger.platform.auth import service as auth
from tests.interop.balances import (
    Balances,
    beanquery_balances,
    beanquery_period_totals,
    ledger_balances,
    ledger_period_totals,
    statement_balances,
    statement_period_totals,
)

YEARS = (2022, 2023, 2024)


def _without_conversions(balances: Balances) -> Balances:
    return {k: v for k, v in balances.items() if f":{CONVERSION}:" not in k[0]}


async def _import_example(session: AsyncSession, path: Path) -> tuple[uuid.UUID, uuid.UUID]:
    tenant = await auth.create_tenant(session, f"t-{uuid.uuid4().hex[:16]}")
    journal = read_journal(path, JournalFormat.BEANCOUNT)
    report = await import_journal(session, tenant.id, journal, digest=fingerprint(path))
    return tenant.id, report.ledger_id


async def test_balances_equal_beanquery_account_by_account(
    session: AsyncSession, bean_example: Path
) -> None:
    tenant_id, ledger_id = await _import_example(session, bean_example)
    for as_of in (date(2022, 6, 30), date(2023, 12, 31), date(2024, 12, 31)):
        ours = await ledger_balances(session, tenant_id, ledger_id, as_of)
        theirs = beanquery_balances(bean_example, as_of)
        assert len(theirs) > 25  # the example really is a rich multi-asset ledger
        assert _without_conversions(ours) == theirs, as_of
    # Every asset sums to zero over the books: what trades converted sits on
    # Equity:Conversion accounts, one per asset pair and side, each holding its own asset.
    per_asset: dict[str, Decimal] = defaultdict(Decimal)
    for (_, asset), value in ours.items():
        per_asset[asset] += value
    assert set(per_asset.values()) == {0}
    conversions = {k: v for k, v in ours.items() if f":{CONVERSION}:" in k[0]}
    assert ("Equity:Conversion:ITOT-USD:ITOT", "ITOT") in conversions
    assert all(account.endswith(f":{asset}") for account, asset in conversions)


async def test_income_and_expenses_equal_beanquery_per_year(
    session: AsyncSession, bean_example: Path
) -> None:
    tenant_id, ledger_id = await _import_example(session, bean_example)
    for year in YEARS:
        start, end = date(year, 1, 1), date(year, 12, 31)
        ours = await ledger_period_totals(session, tenant_id, ledger_id, start, end)
        theirs = beanquery_period_totals(bean_example, start, end)
        assert theirs, year
        assert ours == theirs, year


async def test_the_balance_sheet_and_income_statement_equal_beanquery(
    session: AsyncSession, bean_example: Path
) -> None:
    """The financial statements themselves, asset by asset, account by account."""
    tenant_id, ledger_id = await _import_example(session, bean_example)
    balance_sheet = ("Assets:", "Liabilities:", "Equity:")
    for as_of in (date(2023, 12, 31), date(2024, 12, 31)):
        ours = await statement_balances(session, tenant_id, ledger_id, as_of)
        theirs = beanquery_balances(bean_example, as_of)
        wanted = {k: v for k, v in theirs.items() if k[0].startswith(balance_sheet)}
        assert len(wanted) > 8  # cash, brokerage positions, cards, opening equity
        assert _without_conversions(ours) == wanted, as_of
    for year in YEARS:
        start, end = date(year, 1, 1), date(year, 12, 31)
        ours = await statement_period_totals(session, tenant_id, ledger_id, start, end)
        assert ours == beanquery_period_totals(bean_example, start, end), year
