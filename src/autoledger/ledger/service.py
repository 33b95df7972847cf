"""Ledger domain logic outside the journal hot path: books, assets, accounts, periods,
balances, statements and chain verification. Takes a session; never commits."""

import base64
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.kit.clock import utcnow
from autoledger.kit.errors import FieldError, InvalidCursor
from autoledger.kit.money import Asset, iso_currency, resolve_asset
from autoledger.ledger import chain, events
from autoledger.ledger.chart import ChartRow, load_template, parse_chart_csv
from autoledger.ledger.domain import AccountStatus, BalanceState, EntryStatus
from autoledger.ledger.errors import (
    AccountNotFound,
    DuplicateAccountCode,
    DuplicateAsset,
    EntryNotFound,
    InvalidAccount,
    InvalidPeriod,
    LedgerNotFound,
    PeriodNotFound,
    PeriodOverlap,
    UnknownAsset,
)
from autoledger.ledger.repository import LedgerRepository
from autoledger.ledger.tables import Account, JournalEntry, Ledger, Period, TenantAsset
from autoledger.ledger.types import AccountType, Direction
from autoledger.ledger.views import (
    AccountBalances,
    BalanceView,
    EntryView,
    Statement,
    StatementLine,
    VerifyReport,
)
from autoledger.platform.events import outbox


# assets
async def asset_scales(session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, int]:
    return await LedgerRepository(session).custom_assets(tenant_id)


async def resolve(session: AsyncSession, tenant_id: uuid.UUID, code: str) -> Asset:
    asset = resolve_asset(code, await asset_scales(session, tenant_id))
    if asset is None:
        raise UnknownAsset(
            f"{code!r} is neither an ISO 4217 currency nor an asset of this tenant",
            errors=[FieldError("asset", f"unknown asset {code!r}")],
        )
    return asset


async def define_asset(
    session: AsyncSession, tenant_id: uuid.UUID, code: str, scale: int, name: str
) -> TenantAsset:
    if iso_currency(code) is not None:
        raise DuplicateAsset(f"{code} is an ISO 4217 currency; it needs no definition")
    repo = LedgerRepository(session)
    if code in await repo.custom_assets(tenant_id):
        raise DuplicateAsset(f"asset {code} is already defined")
    Asset(code, scale)  # validates code and scale
    row = TenantAsset(tenant_id=tenant_id, code=code, scale=scale, name=name)
    await repo.add(row)
    return row


async def list_assets(session: AsyncSession, tenant_id: uuid.UUID) -> Sequence[TenantAsset]:
    return await LedgerRepository(session).assets(tenant_id)


# ledgers
async def create_ledger(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    name: str,
    base_currency: str,
    metadata: dict[str, str],
    chart_template: str | None = None,
) -> Ledger:
    await resolve(session, tenant_id, base_currency)
    rows = load_template(chart_template) if chart_template else []
    ledger = Ledger(tenant_id=tenant_id, name=name, base_currency=base_currency, meta=metadata)
    await LedgerRepository(session).add(ledger)
    await outbox.append(session, [events.ledger_created(ledger)])
    if rows:
        await import_chart(session, tenant_id, ledger.id, rows, asset=base_currency)
    return ledger


async def get_ledger(session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID) -> Ledger:
    ledger = await LedgerRepository(session).ledger(tenant_id, ledger_id)
    if ledger is None:
        raise LedgerNotFound(f"no ledger {ledger_id}")
    return ledger


async def list_ledgers(session: AsyncSession, tenant_id: uuid.UUID) -> Sequence[Ledger]:
    return await LedgerRepository(session).ledgers(tenant_id)


# accounts
async def create_account(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    *,
    code: str,
    name: str,
    type: AccountType,
    parent: str | uuid.UUID | None = None,
    asset: str | None = None,
    debits_must_not_exceed_credits: bool = False,
    credits_must_not_exceed_debits: bool = False,
    balance_limit: int | None = None,
    metadata: dict[str, str] | None = None,
) -> Account:
    repo = LedgerRepository(session)
    await get_ledger(session, tenant_id, ledger_id)
    if asset is not None:
        await resolve(session, tenant_id, asset)
    parent_id = None
    if parent is not None:
        parent_row = (
            await repo.account(tenant_id, parent)
            if isinstance(parent, uuid.UUID)
            else await repo.account_by_code(tenant_id, ledger_id, parent)
        )
        if parent_row is None or parent_row.ledger_id != ledger_id:
            raise InvalidAccount(
                f"parent {parent} is not an account of this ledger",
                errors=[FieldError("parent", "unknown account")],
            )
        parent_id = parent_row.id
    if debits_must_not_exceed_credits and credits_must_not_exceed_debits:
        raise InvalidAccount("an account can carry at most one of the two balance constraints")
    if await repo.account_by_code(tenant_id, ledger_id, code) is not None:
        raise DuplicateAccountCode(f"account code {code} is taken in this ledger")
    account = Account(
        tenant_id=tenant_id,
        ledger_id=ledger_id,
        code=code,
        name=name,
        type=type.value,
        parent_id=parent_id,
        asset=asset,
        debits_must_not_exceed_credits=debits_must_not_exceed_credits,
        credits_must_not_exceed_debits=credits_must_not_exceed_debits,
        balance_limit=balance_limit,
        status=AccountStatus.ACTIVE.value,
        meta=metadata or {},
    )
    try:
        async with session.begin_nested():
            await repo.add(account)
    except IntegrityError:
        raise DuplicateAccountCode(f"account code {code} is taken in this ledger") from None
    if asset is not None:
        await repo.ensure_balances(tenant_id, [(account.id, asset)])
    await outbox.append(session, [events.account_changed(account, created=True)])
    return account


async def import_chart(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    rows: Sequence[ChartRow],
    *,
    asset: str | None,
) -> list[Account]:
    """Create the accounts of a chart (parents before children), all or nothing."""
    created: dict[str, Account] = {}
    for row in rows:
        parent = created[row.parent_code].id if row.parent_code in created else row.parent_code
        created[row.code] = await create_account(
            session,
            tenant_id,
            ledger_id,
            code=row.code,
            name=row.name,
            type=row.type,
            parent=parent,
            asset=asset,
        )
    return list(created.values())


async def import_chart_csv(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    text: str,
    *,
    asset: str | None,
) -> list[Account]:
    return await import_chart(session, tenant_id, ledger_id, parse_chart_csv(text), asset=asset)


async def get_account(
    session: AsyncSession, tenant_id: uuid.UUID, account_id: uuid.UUID
) -> Account:
    account = await LedgerRepository(session).account(tenant_id, account_id)
    if account is None:
        raise AccountNotFound(f"no account {account_id}")
    return account


async def list_accounts(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    *,
    after: str | None,
    limit: int,
    status: str | None = None,
    type_: str | None = None,
) -> Sequence[Account]:
    await get_ledger(session, tenant_id, ledger_id)
    return await LedgerRepository(session).accounts(
        tenant_id, ledger_id, after=after, limit=limit, status=status, type_=type_
    )


async def update_account(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    *,
    name: str | None = None,
    status: AccountStatus | None = None,
    metadata: dict[str, str] | None = None,
) -> Account:
    account = await get_account(session, tenant_id, account_id)
    if name is not None:
        account.name = name
    if status is not None:
        account.status = status.value
    if metadata is not None:
        account.meta = metadata
    await session.flush()
    await outbox.append(session, [events.account_changed(account, created=False)])
    return account


# balances
def _balance_view(asset: str, state: BalanceState, side: Direction) -> BalanceView:
    return BalanceView(
        asset=asset,
        debits_posted=state.debits_posted,
        credits_posted=state.credits_posted,
        debits_pending=state.debits_pending,
        credits_pending=state.credits_pending,
        posted=state.posted(side),
        available=state.available(side),
        version=state.version,
    )


async def _descendants(session: AsyncSession, account: Account) -> list[uuid.UUID]:
    accounts = await LedgerRepository(session).accounts(account.tenant_id, account.ledger_id)
    children: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for a in accounts:
        if a.parent_id is not None:
            children[a.parent_id].append(a.id)
    out: list[uuid.UUID] = []
    stack = list(children[account.id])
    while stack:
        current = stack.pop()
        out.append(current)
        stack.extend(children[current])
    return out


async def _states(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    account_ids: Sequence[uuid.UUID],
    as_of: date | None,
) -> dict[uuid.UUID, dict[str, BalanceState]]:
    repo = LedgerRepository(session)
    out: dict[uuid.UUID, dict[str, BalanceState]] = defaultdict(dict)
    if as_of is None:
        for row in await repo.balances(tenant_id, account_ids):
            out[row.account_id][row.asset] = BalanceState(
                row.debits_posted,
                row.credits_posted,
                row.debits_pending,
                row.credits_pending,
                row.version,
            )
        return out
    for account_id, asset, direction, total in await repo.posted_totals_as_of(
        tenant_id, account_ids, as_of
    ):
        state = out[account_id].setdefault(asset, BalanceState())
        state.book(Direction(direction), total)
        state.version = 0
    return out


async def account_balances(
    session: AsyncSession, tenant_id: uuid.UUID, account_id: uuid.UUID, *, as_of: date | None = None
) -> AccountBalances:
    """Own balances per asset and, for a parent, the roll-up over every descendant.
    ``as_of`` gives posted balances by effective date (holds are not historical)."""
    account = await get_account(session, tenant_id, account_id)
    side = AccountType(account.type).normal_side
    descendants = await _descendants(session, account)
    states = await _states(session, tenant_id, [account.id, *descendants], as_of)
    own = [_balance_view(asset, s, side) for asset, s in sorted(states.get(account.id, {}).items())]
    rolled: dict[str, BalanceState] = {}
    if descendants:
        for per_account in states.values():
            for asset, s in per_account.items():
                total = rolled.setdefault(asset, BalanceState())
                total.debits_posted += s.debits_posted
                total.credits_posted += s.credits_posted
                total.debits_pending += s.debits_pending
                total.credits_pending += s.credits_pending
                total.version += s.version
    return AccountBalances(
        account_id=account.id,
        normal_side=side.value,
        as_of=as_of,
        balances=own,
        rolled_up=[_balance_view(asset, s, side) for asset, s in sorted(rolled.items())],
        descendants=len(descendants),
    )


# statements
def _encode_cursor(position: tuple[date, int, int]) -> str:
    raw = f"{position[0].isoformat()}|{position[1]}|{position[2]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_statement_cursor(cursor: str) -> tuple[date, int, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        day, seq, index = raw.split("|")
        return date.fromisoformat(day), int(seq), int(index)
    except (ValueError, UnicodeDecodeError):
        raise InvalidCursor(
            "invalid cursor", errors=[FieldError("cursor", "not a cursor this API issued")]
        ) from None


async def statement(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    account_id: uuid.UUID,
    *,
    asset: str | None,
    date_from: date | None,
    date_to: date | None,
    cursor: str | None,
    limit: int,
) -> Statement:
    """Posted postings in (effective date, commit order), each with the running balance."""
    account = await get_account(session, tenant_id, account_id)
    side = AccountType(account.type).normal_side
    code = asset or account.asset
    if code is None:
        ledger = await get_ledger(session, tenant_id, account.ledger_id)
        code = ledger.base_currency
    after = decode_statement_cursor(cursor) if cursor else None
    repo = LedgerRepository(session)
    net = await repo.net_before(tenant_id, account.id, code, after, date_from)
    sign = 1 if side is Direction.DEBIT else -1
    opening = net * sign
    rows = await repo.statement(
        tenant_id,
        account.id,
        code,
        date_from=date_from,
        date_to=date_to,
        after=after,
        limit=limit + 1,
    )
    lines: list[StatementLine] = []
    running = opening
    for posting, entry in rows[:limit]:
        amount = posting.posted_amount or 0
        running += (amount if posting.direction == Direction.DEBIT else -amount) * sign
        lines.append(
            StatementLine(
                entry_id=entry.id,
                seq=posting.seq,
                index=posting.index,
                effective_date=posting.effective_date,
                description=entry.description,
                direction=posting.direction,
                amount=amount,
                running_balance=running,
            )
        )
    next_cursor = None
    if len(rows) > limit and lines:
        last = lines[-1]
        next_cursor = _encode_cursor((last.effective_date, last.seq, last.index))
    return Statement(account.id, code, side.value, opening, lines, next_cursor)


# entries
async def get_entry(session: AsyncSession, tenant_id: uuid.UUID, entry_id: uuid.UUID) -> EntryView:
    repo = LedgerRepository(session)
    entry = await repo.entry(tenant_id, entry_id)
    if entry is None:
        raise EntryNotFound(f"no journal entry {entry_id}")
    postings = await repo.postings([entry.id])
    return EntryView.from_rows(entry, postings[entry.id])


async def list_entries(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    *,
    account_id: uuid.UUID | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    status: EntryStatus | None = None,
    source_type: str | None = None,
    source_id: str | None = None,
    metadata: dict[str, str] | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> list[EntryView]:
    await get_ledger(session, tenant_id, ledger_id)
    repo = LedgerRepository(session)
    rows: Sequence[JournalEntry] = await repo.entries(
        tenant_id,
        ledger_id,
        account_id=account_id,
        date_from=date_from,
        date_to=date_to,
        status=status.value if status else None,
        source_type=source_type,
        source_id=source_id,
        metadata=metadata or {},
        before_seq=before_seq,
        limit=limit,
    )
    postings = await repo.postings([r.id for r in rows])
    return [EntryView.from_rows(r, postings[r.id]) for r in rows]


# periods
async def create_period(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    *,
    name: str,
    start_date: date,
    end_date: date,
) -> Period:
    await get_ledger(session, tenant_id, ledger_id)
    if end_date < start_date:
        raise InvalidPeriod(
            "end_date is before start_date", errors=[FieldError("end_date", "before start_date")]
        )
    repo = LedgerRepository(session)
    for other in await repo.periods(tenant_id, ledger_id):
        if other.start_date <= end_date and start_date <= other.end_date:
            raise PeriodOverlap(
                f"overlaps period {other.name} ({other.start_date}..{other.end_date})"
            )
    period = Period(
        tenant_id=tenant_id,
        ledger_id=ledger_id,
        name=name,
        start_date=start_date,
        end_date=end_date,
    )
    await repo.add(period)
    return period


async def list_periods(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID
) -> Sequence[Period]:
    await get_ledger(session, tenant_id, ledger_id)
    return await LedgerRepository(session).periods(tenant_id, ledger_id)


async def set_period_status(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    period_id: uuid.UUID,
    *,
    closed: bool,
    actor: str,
    ledger_id: uuid.UUID | None = None,
) -> Period:
    """Close or reopen; ``ledger_id``, when given, must be the period's ledger."""
    repo = LedgerRepository(session)
    period = await repo.period(tenant_id, period_id)
    if period is None or (ledger_id is not None and period.ledger_id != ledger_id):
        raise PeriodNotFound(
            f"no period {period_id}" + (f" in ledger {ledger_id}" if ledger_id else "")
        )
    # Closing takes the ledger lock, so no group commit can slip an entry into the period
    # between the check in the journal and the close.
    await repo.lock_ledgers([(tenant_id, period.ledger_id)])
    period.status = "closed" if closed else "open"
    period.closed_at = utcnow() if closed else None
    period.closed_by = actor if closed else None
    await session.flush()
    await outbox.append(session, [events.period_changed(period)])
    return period


# hash chain
async def verify_chain(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, *, page: int = 2000
) -> VerifyReport:
    """Replay the journal log: recompute each record's digest from the rows as they are now
    and each hash from its predecessor; report the first record that does not match."""
    ledger = await get_ledger(session, tenant_id, ledger_id)
    repo = LedgerRepository(session)
    resolved = await repo.resolved_entry_ids(ledger_id)
    prev_hash, last_seq, checked = chain.GENESIS_HASH, 0, 0

    def broken(seq: int, entry_id: uuid.UUID | None, reason: str) -> VerifyReport:
        return VerifyReport(
            ledger.id, False, checked, ledger.last_seq, ledger.last_hash, seq, entry_id, reason
        )

    while True:
        records = await repo.log(ledger_id, last_seq, page)
        if not records:
            break
        entries = await repo.entries_by_ids({r.entry_id for r in records})
        postings = await repo.postings(list(entries))
        for record in records:
            if record.seq != last_seq + 1:
                return broken(last_seq + 1, record.entry_id, "a journal-log record is missing")
            entry = entries.get(record.entry_id)
            if entry is None:
                return broken(record.seq, record.entry_id, "the entry of this record is missing")
            digest = _digest(record.action, entry, postings[entry.id], record.recorded_at, resolved)
            if digest != record.digest:
                return broken(
                    record.seq,
                    entry.id,
                    f"the {record.action} of this entry does not match its record",
                )
            if record.prev_hash != prev_hash or record.hash != chain.link(prev_hash, record.digest):
                return broken(
                    record.seq, entry.id, "the chain link does not match the previous record"
                )
            prev_hash, last_seq, checked = record.hash, record.seq, checked + 1
    if last_seq != ledger.last_seq or prev_hash != ledger.last_hash:
        return broken(last_seq + 1, None, "the ledger head does not match the last record")
    return VerifyReport(ledger.id, True, checked, ledger.last_seq, ledger.last_hash)


def _digest(
    action: str,
    entry: JournalEntry,
    postings: Sequence[Any],
    recorded_at: datetime,
    resolved: set[uuid.UUID],
) -> str:
    if action == "create":
        initial = (
            EntryStatus.PENDING
            if entry.id in resolved or entry.status == EntryStatus.PENDING
            else entry.status
        )
        if initial == EntryStatus.POSTED and any(p.posted_amount != p.amount for p in postings):
            return "posted-amount-tampered"
        return chain.create_digest(
            entry_id=entry.id,
            ledger_id=entry.ledger_id,
            seq=entry.seq,
            status=initial,
            effective_date=entry.effective_date,
            recorded_at=entry.recorded_at,
            description=entry.description,
            metadata=dict(entry.meta),
            source_type=entry.source_type,
            source_id=entry.source_id,
            actor=entry.actor,
            client_id=entry.client_id,
            reverses_id=entry.reverses_id,
            expires_at=entry.expires_at,
            postings=[
                chain.CanonicalPosting(p.account_id, p.asset, p.direction, p.amount)
                for p in postings
            ],
        )
    posted = [p.posted_amount for p in postings] if action == "post" else [None] * len(postings)
    return chain.resolve_digest(
        entry_id=entry.id, action=action, recorded_at=recorded_at, posted_amounts=posted
    )
