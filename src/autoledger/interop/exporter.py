"""Export a ledger as a Beancount file or an hledger / ledger-cli journal.

Written: the chart (every account, opened on its first use), the assets, every posted entry
as of the export date, market prices recorded on imported entries, and a closing balance
assertion per account and asset, so that ``bean-check`` / ``hledger check`` prove the file
adds up to the ledger. Pending holds are not balances and are left out; voided entries too.
"""

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.interop.beancount_writer import write_beancount
from autoledger.interop.book import ROOTS, Book, BookAccount, BookEntry, BookPosting, component
from autoledger.interop.importer import JournalFormat, all_accounts
from autoledger.interop.journal_writer import write_journal
from autoledger.interop.planner import JOURNAL_ACCOUNT
from autoledger.kit.clock import utcnow
from autoledger.kit.money import resolve_asset
from autoledger.ledger import service
from autoledger.ledger.domain import EntryStatus
from autoledger.ledger.tables import Account
from autoledger.ledger.types import AccountType, Direction

_PAGE = 1000  # entries per query


async def export_ledger(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    fmt: JournalFormat,
    *,
    as_of: date | None = None,
) -> str:
    book = await load_book(session, tenant_id, ledger_id, as_of=as_of)
    return write_beancount(book) if fmt is JournalFormat.BEANCOUNT else write_journal(book)


async def load_book(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, *, as_of: date | None
) -> Book:
    """The ledger's posted entries (effective on or before ``as_of``) in journal terms."""
    ledger = await service.get_ledger(session, tenant_id, ledger_id)
    accounts = await all_accounts(session, tenant_id, ledger_id)
    names = journal_names(accounts)
    custom = await service.asset_scales(session, tenant_id)
    asset_names = {a.code: a.name for a in await service.list_assets(session, tenant_id)}
    views = []
    before: int | None = None
    while True:
        page = await service.list_entries(
            session,
            tenant_id,
            ledger_id,
            date_to=as_of,
            status=EntryStatus.POSTED,
            before_seq=before,
            limit=_PAGE,
        )
        views.extend(page)
        if len(page) < _PAGE:
            break
        before = page[-1].seq
    entries: list[BookEntry] = []
    scales: dict[str, int] = {}
    # Journals are in date order; within a day, commit order.
    for view in sorted(views, key=lambda v: (v.effective_date, v.seq)):
        postings = []
        for p in view.postings:
            if not p.posted_amount:
                continue
            sign = 1 if p.direction == Direction.DEBIT else -1
            postings.append(BookPosting(names[p.account_id], p.asset, sign * p.posted_amount))
            if p.asset not in scales:
                resolved = resolve_asset(p.asset, custom)
                scales[p.asset] = resolved.scale if resolved is not None else 0
        metadata = {str(k): _text(v) for k, v in view.metadata.items()}
        entries.append(
            BookEntry(
                view.effective_date,
                view.description,
                tuple(postings),
                metadata,
                pending_flag=metadata.get("flag") == "!",
            )
        )
    base = resolve_asset(ledger.base_currency, custom)
    if base is not None:
        scales.setdefault(base.code, base.scale)
    book = Book(
        title=ledger.name,
        base_currency=ledger.base_currency,
        scales=scales,
        asset_names=asset_names,
        accounts=[],
        entries=entries,
        as_of=as_of or (entries[-1].date if entries else utcnow().date()),
    )
    first = book.first_use()
    for account in accounts:
        name = names[account.id]
        candidates = [first.get(name, account.created_at.date()), book.as_of]
        declared = _date(account.meta.get("opened"))
        if declared is not None:
            candidates.append(declared)
        closed = _date(account.meta.get("closed"))
        book.accounts.append(
            BookAccount(
                name=name,
                type=AccountType(account.type),
                opened=min(candidates),
                closed=closed if closed is not None and closed <= book.as_of else None,
                asset=account.asset,
            )
        )
    return book


def journal_names(accounts: list[Account]) -> dict[uuid.UUID, str]:
    """The journal name of every account: the name it was imported under, else its type's
    root and the code-and-name of each ancestor (``Assets:1000-Cash:1110-Operating``)."""
    by_id = {a.id: a for a in accounts}
    out: dict[uuid.UUID, str] = {}

    def name(account: Account, depth: int = 0) -> str:
        if account.id in out:
            return out[account.id]
        imported = account.meta.get(JOURNAL_ACCOUNT)
        if isinstance(imported, str) and imported:
            result = imported
        else:
            parent = by_id.get(account.parent_id) if account.parent_id else None
            prefix = (
                name(parent, depth + 1)
                if parent is not None and depth < len(by_id)
                else ROOTS[AccountType(account.type)]
            )
            result = f"{prefix}:{component(account.code, account.name)}"
        out[account.id] = result
        return result

    for account in accounts:
        name(account)
    return out


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)
