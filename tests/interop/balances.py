"""Per-account balances from each side of a cross-check, in one shape:
``{(journal account, commodity): Decimal}``, debit-positive as plaintext journals count.

The autoledger side reads the ledger's own balance query (``as_of``: every account), and
the financial statements of ``autoledger.reports`` (:func:`statement_balances`: the balance
sheet, asset by asset; :func:`statement_period_totals`: the income statement), each account's
own amount taken back out of the statement's roll-ups.
"""

import csv
import io
import uuid
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import beanquery
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.interop.exporter import journal_names
from autoledger.interop.importer import all_accounts
from autoledger.kit.money import resolve_asset
from autoledger.ledger import service
from autoledger.ledger.types import AccountType
from autoledger.reports import service as reports
from autoledger.reports.repository import ReportRepository

Balances = dict[tuple[str, str], Decimal]


def nonzero(balances: Balances) -> Balances:
    return {k: v for k, v in balances.items() if v != 0}


async def ledger_balances(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, as_of: date
) -> Balances:
    """Every account's own posted balance per asset as of ``as_of``, zeros dropped."""
    accounts = await all_accounts(session, tenant_id, ledger_id)
    names = journal_names(accounts)
    custom = await service.asset_scales(session, tenant_id)
    out: Balances = {}
    for account in accounts:
        view = await service.account_balances(session, tenant_id, account.id, as_of=as_of)
        for b in view.balances:
            asset = resolve_asset(b.asset, custom)
            assert asset is not None
            net = Decimal(b.debits_posted - b.credits_posted).scaleb(-asset.scale)
            if net:
                out[(names[account.id], b.asset)] = net
    return out


async def ledger_period_totals(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    start: date,
    end: date,
    prefixes: tuple[str, ...] = ("Income:", "Expenses:"),
) -> Balances:
    """The change of each income and expense account over ``start..end``."""
    closing = await ledger_balances(session, tenant_id, ledger_id, end)
    opening = await ledger_balances(session, tenant_id, ledger_id, start - timedelta(days=1))
    out: Balances = defaultdict(Decimal)
    for key, value in closing.items():
        out[key] += value
    for key, value in opening.items():
        out[key] -= value
    return nonzero({k: v for k, v in out.items() if k[0].startswith(prefixes)})


async def statement_balances(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, as_of: date
) -> Balances:
    """Assets, liabilities and equity per account and asset, from the balance sheet."""
    query = {"as_of": as_of}
    return await _statements(session, tenant_id, ledger_id, reports.balance_sheet, query)


async def statement_period_totals(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, start: date, end: date
) -> Balances:
    """Revenue and expenses per account and asset over ``start..end``, from the income
    statement."""
    query = {"date_from": start, "date_to": end}
    return await _statements(session, tenant_id, ledger_id, reports.income_statement, query)


async def _statements(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    build: Any,
    query: dict[str, date],
) -> Balances:
    accounts = await all_accounts(session, tenant_id, ledger_id)
    names = journal_names(accounts)
    kinds = {a.id: AccountType(a.type) for a in accounts}
    children: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for a in accounts:
        if a.parent_id is not None and kinds[a.parent_id] is kinds[a.id]:
            children[a.parent_id].append(a.id)
    custom = await service.asset_scales(session, tenant_id)
    out: Balances = {}
    for code in await ReportRepository(session).assets(tenant_id, ledger_id):
        view = await build(session, tenant_id, ledger_id, reports.ReportQuery(**query, asset=code))
        rolled = {
            line.account_id: line.amounts[0]
            for section in view.report.sections
            for line in section.lines
            if line.kind == "account" and line.account_id is not None
        }
        asset = resolve_asset(code, custom)
        assert asset is not None
        for account_id, amount in rolled.items():
            own = amount - sum(rolled.get(child, 0) for child in children[account_id])
            normal = 1 if kinds[account_id] in (AccountType.ASSET, AccountType.EXPENSE) else -1
            if own:
                out[(names[account_id], code)] = Decimal(own * normal).scaleb(-asset.scale)
    return out


def beanquery_balances(path: Path, as_of: date) -> Balances:
    """Beancount's own numbers: Σ units per account and currency up to ``as_of``."""
    # BQL over a local file; the only interpolation is a date.
    query = f"SELECT account, currency, sum(number) FROM postings WHERE date <= {as_of.isoformat()} GROUP BY account, currency"  # noqa: S608
    return _beanquery(path, query)


def beanquery_period_totals(path: Path, start: date, end: date) -> Balances:
    query = (
        "SELECT account, currency, sum(number) FROM postings "  # noqa: S608 - BQL, dates only
        f"WHERE date >= {start.isoformat()} AND date <= {end.isoformat()} "
        "AND account ~ '^(Income|Expenses):' GROUP BY account, currency"
    )
    return _beanquery(path, query)


def _beanquery(path: Path, query: str) -> Balances:
    connection = beanquery.connect(f"beancount:{path}")
    rows = connection.execute(query).fetchall()
    return nonzero({(account, currency): Decimal(total) for account, currency, total in rows})


def hledger_balances(csv_text: str) -> Balances:
    """``hledger bal -O csv --flat -N`` output: one row per account, amounts joined by ", "."""
    out: Balances = {}
    rows = list(csv.reader(io.StringIO(csv_text)))
    for account, amounts in rows[1:]:
        for amount in amounts.split(", "):
            if amount.strip() in ("", "0"):
                continue
            if amount.startswith("$"):  # hledger keeps the symbol the journal wrote
                number, commodity = amount[1:], "USD"
            else:
                number, commodity = amount.rsplit(" ", 1)
            out[(account, commodity.strip('"'))] = Decimal(number)
    return nonzero(out)
