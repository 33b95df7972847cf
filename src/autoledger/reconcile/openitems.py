"""Open items, materialized from ledger facts (ADR 0012, decisions 1 and 2).

An account marked open-item managed turns every posting of a posted entry whose metadata
carries a ``reference`` into an open item, signed as the bank amount that would settle it
(a debit is positive, a credit negative: an invoice on a receivable is money in, a bill on a
payable money out). A later posting on the same account with the same reference and the
opposite sign settles the oldest open items of that reference first; what it pays beyond
them is an item of its own (a credit the counterparty has with us). A reversal cancels the
items its entry created and gives back what its entry settled. Entries that carry
``reconcile_match_id`` are reconciliation's own settlements, which it records itself.

A posting on a bank account's ledger account that another system booked (any source but the
bookkeeping loop's, reconciliation's and the system's own) is a **book item**, with or
without a reference: the bank line that pays it pairs with it rather than being booked a
second time.

Everything here takes the caller's session and never commits; applying an entry twice
changes nothing (items are unique per posting, settlements are looked up per posting).
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.kit.clock import utcnow
from autoledger.kit.money import format_amount, parse_amount
from autoledger.ledger import service as ledger_service
from autoledger.ledger.repository import LedgerRepository
from autoledger.ledger.schemas import EntryOut, PostingOut
from autoledger.ledger.tables import Account
from autoledger.reconcile import schemas
from autoledger.reconcile.errors import (
    AccountNotMarked,
    OpenItemAccountNotFound,
    OpenItemNotFound,
)
from autoledger.reconcile.repository import OpenItemRepository
from autoledger.reconcile.tables import OpenItem, OpenItemAccount, OpenItemSettlement

#: entry metadata that makes an entry reconciliation's own (it records its settlements)
MATCH_KEY = "reconcile_match_id"
#: the kind of a book item: a posting on a bank account's ledger account that another system
#: booked, which a bank line of that account pairs with instead of being booked again
BOOK = "book"
#: entries that book bank lines themselves (the bookkeeping loop's, reconciliation's)
OWN_SOURCES = frozenset({"bank_line", "reconciliation", "system"})
_TEXT = 200  # the width of reference and counterparty columns


@dataclass(frozen=True, slots=True)
class Marking:
    """An open-item managed account with the account it marks."""

    record: OpenItemAccount
    account: Account


# accounts
async def resolve_account(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, ref: str
) -> Account:
    """The ledger's account named by id or by code."""
    account = await LedgerRepository(session).account_by_ref(tenant_id, ledger_id, ref)
    if account is None:
        raise OpenItemAccountNotFound(f"the ledger has no account {ref!r}")
    return account


async def mark_account(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, account: str, role: str
) -> Marking:
    """Make ``account`` (id or code) open-item managed with ``role``; marking it again
    changes its role. Postings before the marking are not turned into items."""
    await ledger_service.get_ledger(session, tenant_id, ledger_id)
    target = await resolve_account(session, tenant_id, ledger_id, account)
    repo = OpenItemRepository(session)
    record = await repo.marking(tenant_id, ledger_id, target.id)
    if record is None:
        record = OpenItemAccount(
            tenant_id=tenant_id,
            ledger_id=ledger_id,
            account_id=target.id,
            role=role,
            created_at=utcnow(),
        )
        await repo.add(record)
    elif record.role != role:
        record.role = role
        await session.flush()
    return Marking(record, target)


async def unmark_account(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, account: str
) -> Marking:
    """Stop making items of the account's postings; its items stay as they are."""
    await ledger_service.get_ledger(session, tenant_id, ledger_id)
    target = await resolve_account(session, tenant_id, ledger_id, account)
    repo = OpenItemRepository(session)
    record = await repo.marking(tenant_id, ledger_id, target.id)
    if record is None:
        raise AccountNotMarked(f"account {target.code} is not open-item managed")
    await repo.delete(record)
    return Marking(record, target)


async def get_marking(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, account: str
) -> Marking:
    await ledger_service.get_ledger(session, tenant_id, ledger_id)
    target = await resolve_account(session, tenant_id, ledger_id, account)
    record = await OpenItemRepository(session).marking(tenant_id, ledger_id, target.id)
    if record is None:
        raise AccountNotMarked(f"account {target.code} is not open-item managed")
    return Marking(record, target)


async def list_accounts(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID
) -> list[Marking]:
    await ledger_service.get_ledger(session, tenant_id, ledger_id)
    pairs = await OpenItemRepository(session).markings(tenant_id, ledger_id)
    return [Marking(record, account) for record, account in pairs]


def account_out(marking: Marking) -> schemas.OpenItemAccountOut:
    return schemas.OpenItemAccountOut(
        ledger_id=marking.record.ledger_id,
        account_id=marking.account.id,
        code=marking.account.code,
        name=marking.account.name,
        role=marking.record.role,  # type: ignore[arg-type]
        created_at=marking.record.created_at,
    )


# the consumer's logic
async def apply_entry(session: AsyncSession, tenant_id: uuid.UUID, entry: EntryOut) -> None:
    """Turn a posted entry into open items, settlements, cancellations or reopenings."""
    if entry.status != "posted" or MATCH_KEY in entry.metadata:
        return
    repo = OpenItemRepository(session)
    if entry.reverses_id is not None:
        await _reverse(repo, tenant_id, entry)
        return
    accounts = {p.account_id for p in entry.postings}
    banks: set[uuid.UUID] = set()
    if entry.source.type not in OWN_SOURCES:
        banks = await repo.bank_ledger_accounts(tenant_id, entry.ledger_id, accounts)
    reference = entry.metadata.get("reference", "").strip()[:_TEXT]
    roles = await repo.roles(tenant_id, entry.ledger_id, accounts) if reference else {}
    roles.update(dict.fromkeys(banks, BOOK))
    if not roles:
        return
    done = {item.posting_index for item in await repo.items_of_entry(tenant_id, entry.id)} | {
        s.posting_index for s in await repo.settlements_of_entry(tenant_id, entry.id)
    }
    scales: dict[str, int] = {}
    for posting in entry.postings:
        role = roles.get(posting.account_id)
        if role is None or posting.index in done:
            continue
        if posting.asset not in scales:
            scales[posting.asset] = (
                await ledger_service.resolve(session, tenant_id, posting.asset)
            ).scale
        amount = _signed(posting, scales[posting.asset])
        if amount == 0:
            continue
        if role == BOOK:  # settled only by a bank line, never by a later posting
            await repo.add(_new_item(tenant_id, entry, posting, role, reference, amount))
            continue
        rest = await _settle(repo, tenant_id, entry, posting, reference, amount)
        if rest != 0:
            await repo.add(_new_item(tenant_id, entry, posting, role, reference, rest))


def _signed(posting: PostingOut, scale: int) -> int:
    """The posting as the bank amount that would settle it: a debit positive."""
    text = posting.posted_amount if posting.posted_amount is not None else posting.amount
    minor = parse_amount(text, scale, allow_zero=True)
    return minor if posting.direction == "debit" else -minor


async def _settle(
    repo: OpenItemRepository,
    tenant_id: uuid.UUID,
    entry: EntryOut,
    posting: PostingOut,
    reference: str,
    amount: int,
) -> int:
    """Settle the account's open items of ``reference`` of the opposite sign, oldest first,
    by at most ``|amount|``; return what is left of ``amount`` (same sign)."""
    rest = amount
    for item in await repo.open_by_reference(
        tenant_id, entry.ledger_id, posting.account_id, reference
    ):
        if rest == 0:
            break
        if item.currency != posting.asset or (item.open_amount > 0) == (rest > 0):
            continue
        take = min(abs(item.open_amount), abs(rest))
        signed = take if item.open_amount > 0 else -take
        await repo.add(
            OpenItemSettlement(
                tenant_id=tenant_id,
                open_item_id=item.id,
                entry_id=entry.id,
                posting_index=posting.index,
                amount=signed,
                source="ledger",
                match_id=None,
                reversed_by_entry_id=None,
                created_at=utcnow(),
            )
        )
        _move(item, -signed)
        rest += signed
    return rest


def _new_item(
    tenant_id: uuid.UUID,
    entry: EntryOut,
    posting: PostingOut,
    role: str,
    reference: str,
    amount: int,
) -> OpenItem:
    meta = entry.metadata
    now = utcnow()
    return OpenItem(
        tenant_id=tenant_id,
        ledger_id=entry.ledger_id,
        account_id=posting.account_id,
        entry_id=entry.id,
        posting_index=posting.index,
        kind=role if role == BOOK else (meta.get("kind") or role)[:40],
        reference=reference,
        counterparty=(meta.get("counterparty") or None) and meta["counterparty"][:_TEXT],
        counterparty_id=(meta.get("counterparty_id") or None) and meta["counterparty_id"][:_TEXT],
        due_date=_date(meta.get("due_date")),
        issued=entry.effective_date,
        currency=posting.asset,
        amount=amount,
        open_amount=amount,
        status="open",
        created_at=now,
        updated_at=now,
    )


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _move(item: OpenItem, delta: int) -> None:
    """Change what is open by ``delta`` and the status with it; an item never goes past
    zero nor beyond its amount (the callers only settle or give back what they took)."""
    item.open_amount += delta
    if item.open_amount == 0:
        item.status = "settled"
    elif item.open_amount == item.amount:
        item.status = "open"
    else:
        item.status = "partially_settled"
    item.updated_at = utcnow()


async def _reverse(repo: OpenItemRepository, tenant_id: uuid.UUID, entry: EntryOut) -> None:
    """The reversed entry's items are cancelled; what it settled is open again."""
    reversed_id = entry.reverses_id
    if reversed_id is None:
        return
    now = utcnow()
    for item in await repo.items_of_entry(tenant_id, reversed_id):
        if item.status != "cancelled":
            item.status, item.open_amount, item.updated_at = "cancelled", 0, now
    settlements = [
        s
        for s in await repo.settlements_of_entry(tenant_id, reversed_id)
        if s.reversed_by_entry_id is None
    ]
    items = await repo.items_by_ids(tenant_id, {s.open_item_id for s in settlements})
    for settlement in settlements:
        settlement.reversed_by_entry_id = entry.id
        item = items[settlement.open_item_id]
        if item.status != "cancelled":
            _move(item, settlement.amount)
    await repo.session.flush()


# reading
async def list_items(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    *,
    status: str | None = None,
    account: str | None = None,
    counterparty: str | None = None,
    reference: str | None = None,
    after: uuid.UUID | None = None,
    limit: int = 100,
) -> Sequence[OpenItem]:
    """A page of the ledger's items, oldest first; ``account`` by id or code,
    ``counterparty`` by id or (case-insensitive) name."""
    await ledger_service.get_ledger(session, tenant_id, ledger_id)
    account_id = None
    if account is not None:
        account_id = (await resolve_account(session, tenant_id, ledger_id, account)).id
    return await OpenItemRepository(session).items(
        tenant_id,
        ledger_id,
        status=status,
        account_id=account_id,
        counterparty=counterparty,
        reference=reference,
        after=after,
        limit=limit,
    )


async def get_item(
    session: AsyncSession, tenant_id: uuid.UUID, item_id: uuid.UUID
) -> tuple[OpenItem, Sequence[OpenItemSettlement]]:
    repo = OpenItemRepository(session)
    item = await repo.item(tenant_id, item_id)
    if item is None:
        raise OpenItemNotFound(f"no open item {item_id}")
    return item, await repo.settlements_of_item(tenant_id, item_id)


class AmountFormatter:
    """Formats minor units at each asset's scale, resolving each asset once."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session, self.tenant_id = session, tenant_id
        self._scales: dict[str, int] = {}

    async def __call__(self, minor: int, code: str) -> str:
        if code not in self._scales:
            self._scales[code] = (
                await ledger_service.resolve(self.session, self.tenant_id, code)
            ).scale
        return format_amount(minor, self._scales[code])


async def item_out(item: OpenItem, amount: AmountFormatter) -> schemas.OpenItemOut:
    return schemas.OpenItemOut(
        id=item.id,
        ledger_id=item.ledger_id,
        account_id=item.account_id,
        entry_id=item.entry_id,
        posting_index=item.posting_index,
        kind=item.kind,
        reference=item.reference,
        counterparty=item.counterparty,
        counterparty_id=item.counterparty_id,
        due_date=item.due_date,
        issued=item.issued,
        currency=item.currency,
        amount=await amount(item.amount, item.currency),
        open_amount=await amount(item.open_amount, item.currency),
        status=item.status,  # type: ignore[arg-type]
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


async def item_detail_out(
    item: OpenItem, settlements: Sequence[OpenItemSettlement], amount: AmountFormatter
) -> schemas.OpenItemDetailOut:
    base = await item_out(item, amount)
    return schemas.OpenItemDetailOut(
        **base.model_dump(),
        settlements=[
            schemas.SettlementOut(
                id=s.id,
                entry_id=s.entry_id,
                posting_index=s.posting_index,
                amount=await amount(s.amount, item.currency),
                source=s.source,  # type: ignore[arg-type]
                match_id=s.match_id,
                reversed_by_entry_id=s.reversed_by_entry_id,
                created_at=s.created_at,
            )
            for s in settlements
        ],
    )
