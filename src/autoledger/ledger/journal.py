"""The journal: applies create / post / void / reverse commands to the books.

:func:`execute` takes many commands at once — a group commit of concurrent requests or a
batch — inside the caller's transaction, and never commits. It works in three passes:

1. *lock*: ledger rows, then pending target entries, then balance rows, each in key order
   (one global order, so concurrent writers queue and never deadlock);
2. *plan*: resolve accounts and assets, parse amounts, check balance-per-asset, periods,
   status and idempotency — per command, without touching balances;
3. *apply*: in order, each command against the in-memory balances; a command that would
   break a constraint fails alone (or fails the whole batch when ``atomic``), the rest are
   written with set-based inserts and one update per touched balance row.

The hash chain advances per ledger under its row lock, so sequence numbers and hashes follow
commit order even with several writer processes. Every applied command also gets one audit
record (set-based, after every other write, so the tenant's audit head is the last lock).
"""

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.kit.clock import utcnow
from autoledger.kit.errors import AutoledgerError, FieldError
from autoledger.kit.ids import new_id
from autoledger.kit.money import format_amount, parse_amount, resolve_asset
from autoledger.ledger import chain, events
from autoledger.ledger.commands import (
    Command,
    CreateEntry,
    PostingInput,
    ReverseEntry,
    VoidPending,
)
from autoledger.ledger.domain import (
    AccountPolicy,
    AccountStatus,
    BalanceState,
    EntryStatus,
    Leg,
    check_balanced,
    mirror,
)
from autoledger.ledger.errors import (
    AccountArchived,
    AlreadyReversed,
    AssetMismatch,
    BatchFailed,
    EntryNotFound,
    EntryNotPending,
    EntryNotPosted,
    InsufficientFunds,
    InvalidEntry,
    LedgerNotFound,
    PendingExpired,
    PeriodClosed,
    UnknownAccount,
    UnknownAsset,
)
from autoledger.ledger.repository import (
    AccountRow,
    JournalWrites,
    LedgerHead,
    LedgerRepository,
    PostedTotal,
)
from autoledger.ledger.tables import JournalEntry, Posting
from autoledger.ledger.types import AccountType, Direction
from autoledger.ledger.views import EntryView, PostingView
from autoledger.platform import audit
from autoledger.platform.events.envelope import Event

Outcome = EntryView | AutoledgerError
BalanceKey = tuple[uuid.UUID, str]


@dataclass(slots=True)
class _Plan:
    """A validated command, ready to apply against balances."""

    index: int
    kind: str  # create | post | void
    tenant_id: uuid.UUID
    ledger_id: uuid.UUID
    actor: str
    legs: list[Leg] = field(default_factory=list)
    request_id: str | None = None
    # create
    command: CreateEntry | ReverseEntry | None = None
    effective_date: date | None = None
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    source_type: str = "api"
    source_id: str | None = None
    pending: bool = False
    expires_at: datetime | None = None
    client_id: str | None = None
    reverses_id: uuid.UUID | None = None
    # post / void
    target: JournalEntry | None = None
    held: list[Leg] = field(default_factory=list)
    posted_amounts: list[int] = field(default_factory=list)


class _Context:
    """Everything the plan and apply passes read, loaded once per call."""

    def __init__(self, repo: LedgerRepository, now: datetime) -> None:
        self.repo = repo
        self.now = now
        self.ledgers: dict[uuid.UUID, LedgerHead] = {}
        self.targets: dict[uuid.UUID, JournalEntry] = {}
        self.target_postings: dict[uuid.UUID, list[Posting]] = {}
        self.reversed: dict[uuid.UUID, uuid.UUID] = {}
        self.custom_assets: dict[uuid.UUID, dict[str, int]] = {}
        self.accounts: dict[uuid.UUID, AccountRow] = {}
        self.codes: dict[tuple[uuid.UUID, str], AccountRow] = {}
        self.policies: dict[uuid.UUID, AccountPolicy] = {}
        self.scales: dict[tuple[uuid.UUID, str], int | None] = {}
        self.formatters: dict[uuid.UUID, Callable[[int, str], str]] = {}
        self.closed: dict[uuid.UUID, list[tuple[date, date]]] = {}
        self.existing_clients: dict[tuple[uuid.UUID, str], JournalEntry] = {}
        self.client_postings: dict[uuid.UUID, list[Posting]] = {}
        self.resolved_now: dict[uuid.UUID, str] = {}
        self.heads: dict[uuid.UUID, _Head] = {}

    def scale(self, tenant_id: uuid.UUID, asset: str) -> int | None:
        key = (tenant_id, asset)
        if key not in self.scales:
            resolved = resolve_asset(asset, self.custom_assets.get(tenant_id, {}))
            self.scales[key] = None if resolved is None else resolved.scale
        return self.scales[key]

    def policy(self, account_id: uuid.UUID) -> AccountPolicy:
        policy = self.policies.get(account_id)
        if policy is None:
            policy = self.policies[account_id] = _policy(self.accounts[account_id])
        return policy

    def period_closed(self, ledger_id: uuid.UUID, day: date) -> bool:
        return any(start <= day <= end for start, end in self.closed.get(ledger_id, ()))


async def _load(repo: LedgerRepository, commands: Sequence[Command], now: datetime) -> _Context:
    ctx = _Context(repo, now)
    target_keys = {(c.tenant_id, c.entry_id) for c in commands if not isinstance(c, CreateEntry)}
    unlocked = await repo.entries_by_ids({entry_id for _, entry_id in target_keys})
    # the target entries locked below: a command's tenant must own the entry
    lockable = {(t, e) for t, e in target_keys if e in unlocked and unlocked[e].tenant_id == t}
    ledger_keys = {(c.tenant_id, c.ledger_id) for c in commands if isinstance(c, CreateEntry)}
    ledger_keys |= {(e.tenant_id, e.ledger_id) for e in unlocked.values()}
    refs: dict[tuple[uuid.UUID, uuid.UUID], tuple[set[uuid.UUID], set[str]]] = defaultdict(
        lambda: (set(), set())
    )
    for c in commands:
        if isinstance(c, CreateEntry):
            ids, codes = refs[(c.tenant_id, c.ledger_id)]
            for p in c.postings:
                (ids.add if isinstance(p.account, uuid.UUID) else codes.add)(p.account)  # type: ignore[arg-type]
    client_keys = {
        (c.ledger_id, c.client_id) for c in commands if isinstance(c, CreateEntry) and c.client_id
    }
    lockable_ids = {e for _, e in lockable}
    client_keys |= {
        (unlocked[c.entry_id].ledger_id, c.client_id)
        for c in commands
        if isinstance(c, ReverseEntry) and c.client_id and c.entry_id in lockable_ids
    }
    # Lock order: ledgers (here), then target entries, then (later) balances.
    reads = await repo.journal_reads(
        ledger_keys, {c.tenant_id for c in commands}, refs, client_keys
    )
    ctx.ledgers = reads.heads
    ctx.heads = {
        lid: _Head(lid, row.tenant_id, row.last_seq, row.last_hash)
        for lid, row in ctx.ledgers.items()
    }
    ctx.custom_assets = reads.custom_assets
    for account in reads.accounts:
        ctx.accounts[account.id] = account
        ctx.codes[(account.ledger_id, account.code)] = account
    ctx.closed = reads.closed
    for entry in reads.client_entries:
        ctx.existing_clients[(entry.ledger_id, entry.client_id or "")] = entry

    ctx.targets = await repo.lock_entries(lockable)
    ctx.target_postings = await repo.postings(list(ctx.targets))
    ctx.reversed = await repo.reversals_of(
        [c.entry_id for c in commands if isinstance(c, ReverseEntry) and c.entry_id in ctx.targets]
    )
    target_accounts = {p.account_id for ps in ctx.target_postings.values() for p in ps} - set(
        ctx.accounts
    )
    for tenant_id in {e.tenant_id for e in ctx.targets.values()}:
        for account in await repo.journal_accounts(tenant_id, None, target_accounts):
            ctx.accounts[account.id] = account
    ctx.client_postings = await repo.postings([e.id for e in ctx.existing_clients.values()])
    return ctx


def _legs(ctx: _Context, c: CreateEntry) -> list[Leg]:
    legs: list[Leg] = []
    errors: list[FieldError] = []
    scales: dict[str, int] = {}
    for i, p in enumerate(c.postings):
        loc = f"postings.{i}"
        scale = ctx.scale(c.tenant_id, p.asset)
        if scale is None:
            raise UnknownAsset(
                f"{loc}.asset: {p.asset!r} is neither an ISO 4217 currency nor an asset of this tenant",
                errors=[FieldError(f"{loc}.asset", f"unknown asset {p.asset!r}")],
            )
        scales[p.asset] = scale
        account = _account(ctx, c.ledger_id, p)
        if account is None:
            errors.append(FieldError(f"{loc}.account", f"no account {p.account} in this ledger"))
            continue
        if account.asset is not None and account.asset != p.asset:
            raise AssetMismatch(
                f"{loc}: account {account.code} holds {account.asset} only, not {p.asset}",
                errors=[
                    FieldError(f"{loc}.asset", f"account {account.code} holds {account.asset} only")
                ],
            )
        amount = parse_amount(p.amount, scale, field=f"{loc}.amount")
        legs.append(Leg(account.id, p.asset, Direction(p.direction), amount))
    if errors:
        raise UnknownAccount("; ".join(f"{e.loc}: {e.message}" for e in errors), errors=errors)
    check_balanced(legs, scales)
    return legs


def _account(ctx: _Context, ledger_id: uuid.UUID, p: PostingInput) -> AccountRow | None:
    if isinstance(p.account, uuid.UUID):
        account = ctx.accounts.get(p.account)
        return account if account is not None and account.ledger_id == ledger_id else None
    return ctx.codes.get((ledger_id, p.account))


def _plan(ctx: _Context, index: int, c: Command) -> _Plan:
    if isinstance(c, CreateEntry):
        if c.ledger_id not in ctx.ledgers:
            raise LedgerNotFound(f"no ledger {c.ledger_id}")
        if len(c.postings) < 2:
            raise InvalidEntry(
                "an entry needs at least two postings",
                errors=[FieldError("postings", "at least two")],
            )
        legs = _legs(ctx, c)
        effective = c.effective_date or ctx.now.date()
        if ctx.period_closed(c.ledger_id, effective):
            raise PeriodClosed(f"effective date {effective} falls in a closed period")
        if c.pending and c.expires_at is not None and c.expires_at <= ctx.now:
            raise InvalidEntry(
                "expires_at is in the past", errors=[FieldError("expires_at", "in the past")]
            )
        return _Plan(
            index,
            "create",
            c.tenant_id,
            c.ledger_id,
            c.actor,
            legs,
            c.request_id,
            command=c,
            effective_date=effective,
            description=c.description,
            metadata=dict(c.metadata),
            source_type=c.source_type,
            source_id=c.source_id,
            pending=c.pending,
            expires_at=c.expires_at if c.pending else None,
            client_id=c.client_id,
        )

    target = ctx.targets.get(c.entry_id)
    if target is None or target.tenant_id != c.tenant_id:
        raise EntryNotFound(f"no journal entry {c.entry_id}")
    held = [
        Leg(p.account_id, p.asset, Direction(p.direction), p.amount)
        for p in ctx.target_postings[target.id]
    ]

    if isinstance(c, ReverseEntry):
        if target.status != EntryStatus.POSTED:
            raise EntryNotPosted(
                f"entry {target.id} is {target.status}; only posted entries can be reversed"
            )
        if target.id in ctx.reversed:
            raise AlreadyReversed(
                f"entry {target.id} was already reversed by {ctx.reversed[target.id]}"
            )
        postings = ctx.target_postings[target.id]
        booked = [
            Leg(p.account_id, p.asset, Direction(p.direction), p.posted_amount or 0)
            for p in postings
            if p.posted_amount
        ]
        effective = c.effective_date or ctx.now.date()
        if ctx.period_closed(target.ledger_id, effective):
            raise PeriodClosed(f"effective date {effective} falls in a closed period")
        return _Plan(
            index,
            "create",
            c.tenant_id,
            target.ledger_id,
            c.actor,
            mirror(booked),
            c.request_id,
            command=c,
            effective_date=effective,
            description=c.description if c.description is not None else f"Reversal of {target.id}",
            metadata=dict(target.meta),
            source_type=target.source_type,
            source_id=target.source_id,
            client_id=c.client_id,
            reverses_id=target.id,
        )

    if target.status != EntryStatus.PENDING:
        raise EntryNotPending(f"entry {target.id} is {target.status}, not pending")
    if ctx.period_closed(target.ledger_id, target.effective_date):
        raise PeriodClosed(
            f"entry {target.id} is dated {target.effective_date}, in a closed period"
        )
    if isinstance(c, VoidPending):
        return _Plan(
            index,
            "void",
            c.tenant_id,
            target.ledger_id,
            c.actor,
            request_id=c.request_id,
            target=target,
            held=held,
        )

    if target.expires_at is not None and target.expires_at <= ctx.now:
        raise PendingExpired(f"entry {target.id} expired at {target.expires_at.isoformat()}")
    if c.amounts is None:
        amounts = [leg.amount for leg in held]
    else:
        if len(c.amounts) != len(held):
            raise InvalidEntry(
                f"give one amount per posting ({len(held)}), not {len(c.amounts)}",
                errors=[FieldError("amounts", f"expected {len(held)} amounts")],
            )
        amounts = []
        for i, (text, leg) in enumerate(zip(c.amounts, held, strict=True)):
            scale = ctx.scale(c.tenant_id, leg.asset) or 0
            value = parse_amount(text, scale, field=f"amounts.{i}", allow_zero=True)
            if value > leg.amount:
                raise InvalidEntry(
                    f"amounts.{i}: {text} exceeds the held {format_amount(leg.amount, scale)}",
                    errors=[FieldError(f"amounts.{i}", "exceeds the held amount")],
                )
            amounts.append(value)
        scales = {leg.asset: ctx.scale(c.tenant_id, leg.asset) or 0 for leg in held}
        check_balanced(
            [
                Leg(leg.account_id, leg.asset, leg.direction, a)
                for leg, a in zip(held, amounts, strict=True)
            ],
            scales,
            field="amounts",
        )
        if not any(amounts):
            raise InvalidEntry("post at least one non-zero amount, or void the entry instead")
    legs = [
        Leg(leg.account_id, leg.asset, leg.direction, a)
        for leg, a in zip(held, amounts, strict=True)
    ]
    return _Plan(
        index,
        "post",
        c.tenant_id,
        target.ledger_id,
        c.actor,
        legs,
        c.request_id,
        target=target,
        held=held,
        posted_amounts=amounts,
    )


def _policy(account: AccountRow) -> AccountPolicy:
    return AccountPolicy(
        id=account.id,
        code=account.code,
        type=AccountType(account.type),
        asset=account.asset,
        status=account.status,
        debits_must_not_exceed_credits=account.debits_must_not_exceed_credits,
        credits_must_not_exceed_debits=account.credits_must_not_exceed_debits,
        balance_limit=account.balance_limit,
    )


def _apply_to_balances(
    ctx: _Context, plan: _Plan, states: dict[BalanceKey, BalanceState]
) -> dict[BalanceKey, BalanceState]:
    """The balances after ``plan``, or an error; ``states`` is left untouched."""
    touched: dict[BalanceKey, BalanceState] = {}

    def state(key: BalanceKey) -> BalanceState:
        if key not in touched:
            touched[key] = states[key].copy()
        return touched[key]

    if plan.kind == "create":
        for leg in plan.legs:
            if ctx.accounts[leg.account_id].status != AccountStatus.ACTIVE:
                raise AccountArchived(f"account {ctx.accounts[leg.account_id].code} is archived")
            s = state((leg.account_id, leg.asset))
            if plan.pending:
                s.hold(leg)
            else:
                s.book(leg.direction, leg.amount)
    else:
        for held, leg in zip(plan.held, plan.legs or plan.held, strict=True):
            s = state((held.account_id, held.asset))
            s.release(held)
            if plan.kind == "post" and leg.amount:
                s.book(leg.direction, leg.amount)

    for (account_id, asset), s in touched.items():
        if not s.in_range():
            raise InvalidEntry(
                f"the entry would overflow the balance of account {ctx.accounts[account_id].code}"
            )
        policy = ctx.policy(account_id)
        shortfall = policy.shortfall(s)
        if shortfall > 0 and (plan.kind == "create" or plan.kind == "post"):
            scale = ctx.scale(plan.tenant_id, asset) or 0
            raise InsufficientFunds(
                f"account {policy.code} would be short by {format_amount(shortfall, scale)} {asset}",
                extra={
                    "account_id": str(account_id),
                    "account_code": policy.code,
                    "asset": asset,
                    "shortfall": format_amount(shortfall, scale),
                },
            )
    return touched


@dataclass(slots=True)
class _Head:
    """A ledger's chain head as it advances within this call (written back once, at the end;
    the locked ORM row is never modified, so nothing is flushed behind our back)."""

    ledger_id: uuid.UUID
    tenant_id: uuid.UUID
    last_seq: int
    last_hash: str


def _append_log(
    writes: JournalWrites,
    ledger: _Head,
    entry_id: uuid.UUID,
    action: str,
    recorded_at: datetime,
    digest: str,
) -> int:
    seq = ledger.last_seq + 1
    new_hash = chain.link(ledger.last_hash, digest)
    writes.log.append(
        {
            "ledger_id": ledger.ledger_id,
            "seq": seq,
            "tenant_id": ledger.tenant_id,
            "entry_id": entry_id,
            "action": action,
            "recorded_at": recorded_at,
            "digest": digest,
            "prev_hash": ledger.last_hash,
            "hash": new_hash,
        }
    )
    ledger.last_seq, ledger.last_hash = seq, new_hash
    return seq


def _write_create(ctx: _Context, plan: _Plan, writes: JournalWrites) -> EntryView:
    ledger = ctx.heads[plan.ledger_id]
    entry_id = new_id()
    status = EntryStatus.PENDING if plan.pending else EntryStatus.POSTED
    effective_date = plan.effective_date or ctx.now.date()
    digest = chain.create_digest(
        entry_id=entry_id,
        ledger_id=ledger.ledger_id,
        seq=ledger.last_seq + 1,
        status=status,
        effective_date=effective_date,
        recorded_at=ctx.now,
        description=plan.description,
        metadata=plan.metadata,
        source_type=plan.source_type,
        source_id=plan.source_id,
        actor=plan.actor,
        client_id=plan.client_id,
        reverses_id=plan.reverses_id,
        expires_at=plan.expires_at,
        postings=[
            chain.CanonicalPosting(leg.account_id, leg.asset, leg.direction, leg.amount)
            for leg in plan.legs
        ],
    )
    seq = _append_log(writes, ledger, entry_id, "create", ctx.now, digest)
    entry = {
        "id": entry_id,
        "tenant_id": plan.tenant_id,
        "ledger_id": ledger.ledger_id,
        "seq": seq,
        "client_id": plan.client_id,
        "status": status.value,
        "effective_date": effective_date,
        "recorded_at": ctx.now,
        "description": plan.description,
        "metadata": plan.metadata,
        "source_type": plan.source_type,
        "source_id": plan.source_id,
        "actor": plan.actor,
        "reverses_id": plan.reverses_id,
        "expires_at": plan.expires_at,
        "resolved_at": None,
    }
    writes.entries.append(entry)
    views = []
    for i, leg in enumerate(plan.legs):
        posted = None if plan.pending else leg.amount
        writes.postings.append(
            {
                "entry_id": entry_id,
                "index": i,
                "tenant_id": plan.tenant_id,
                "ledger_id": ledger.ledger_id,
                "account_id": leg.account_id,
                "asset": leg.asset,
                "direction": leg.direction.value,
                "amount": leg.amount,
                "posted_amount": posted,
                "effective_date": effective_date,
                "seq": seq,
            }
        )
        views.append(
            PostingView(i, leg.account_id, leg.asset, leg.direction.value, leg.amount, posted)
        )
    if not plan.pending:
        _book_totals(writes, plan, effective_date)
    return _view(entry, views)


def _book_totals(writes: JournalWrites, plan: _Plan, day: date) -> None:
    """Posted amounts for the report aggregates, dated by the entry's effective date."""
    writes.totals.extend(
        PostedTotal(
            plan.tenant_id,
            plan.ledger_id,
            leg.account_id,
            leg.asset,
            day,
            leg.amount if leg.direction is Direction.DEBIT else 0,
            0 if leg.direction is Direction.DEBIT else leg.amount,
        )
        for leg in plan.legs
        if leg.amount
    )


def _write_resolve(ctx: _Context, plan: _Plan, writes: JournalWrites) -> EntryView:
    target = plan.target
    if target is None:  # invariant: _plan gives every post/void plan its target
        raise RuntimeError("resolve plan without a target")
    ledger = ctx.heads[target.ledger_id]
    posted = plan.posted_amounts if plan.kind == "post" else [None] * len(plan.held)
    digest = chain.resolve_digest(
        entry_id=target.id, action=plan.kind, recorded_at=ctx.now, posted_amounts=posted
    )
    _append_log(writes, ledger, target.id, plan.kind, ctx.now, digest)
    status = EntryStatus.POSTED if plan.kind == "post" else EntryStatus.VOIDED
    writes.resolved.append({"id": target.id, "status": status.value, "resolved_at": ctx.now})
    if plan.kind == "post":
        writes.posted.extend(
            {"entry_id": target.id, "index": i, "posted_amount": a}
            for i, a in enumerate(plan.posted_amounts)
        )
        _book_totals(writes, plan, target.effective_date)
    # Remember the transition for later commands in this call. The ORM row is left untouched:
    # a dirty row would be flushed at commit as a second UPDATE, which the trigger refuses.
    ctx.resolved_now[target.id] = status.value
    postings = ctx.target_postings[target.id]
    return EntryView.from_rows(
        target, postings, status=status.value, resolved_at=ctx.now, posted=posted
    )


def _view(
    entry: dict[str, Any], postings: list[PostingView], *, replayed: bool = False
) -> EntryView:
    return EntryView(
        id=entry["id"],
        ledger_id=entry["ledger_id"],
        seq=entry["seq"],
        client_id=entry["client_id"],
        status=entry["status"],
        effective_date=entry["effective_date"],
        recorded_at=entry["recorded_at"],
        description=entry["description"],
        metadata=entry["metadata"],
        source_type=entry["source_type"],
        source_id=entry["source_id"],
        actor=entry["actor"],
        reverses_id=entry["reverses_id"],
        expires_at=entry["expires_at"],
        resolved_at=entry["resolved_at"],
        postings=postings,
        replayed=replayed,
    )


async def execute_one(session: AsyncSession, command: Command) -> EntryView:
    """Apply one command inside the caller's transaction; its refusal is raised."""
    outcome = (await execute(session, [command]))[0]
    if isinstance(outcome, AutoledgerError):
        raise outcome
    return outcome


async def execute(
    session: AsyncSession,
    commands: Sequence[Command],
    *,
    atomic: bool = False,
    now: datetime | None = None,
) -> list[Outcome]:
    """Apply ``commands`` in order inside the caller's transaction; one outcome per command.

    With ``atomic`` any failure raises :class:`BatchFailed` (listing every failure) and the
    caller must roll back; otherwise failures are returned in place and the rest stand.
    """
    repo = LedgerRepository(session)
    ctx = await _load(repo, commands, now or utcnow())
    outcomes: list[Outcome | None] = [None] * len(commands)
    plans: list[_Plan] = []
    for i, command in enumerate(commands):
        replay = _replay(ctx, command)
        if replay is not None:
            outcomes[i] = replay
            continue
        try:
            plans.append(_plan(ctx, i, command))
        except AutoledgerError as exc:
            outcomes[i] = exc

    by_tenant: dict[uuid.UUID, set[BalanceKey]] = defaultdict(set)
    for plan in plans:
        by_tenant[plan.tenant_id].update(
            (leg.account_id, leg.asset) for leg in [*plan.legs, *plan.held]
        )
    states = {
        key: BalanceState(*totals)
        for key, totals in (await repo.lock_balance_totals(by_tenant)).items()
    }
    changed: set[BalanceKey] = set()
    writes = JournalWrites(recorded_at=ctx.now)
    seen_clients: dict[tuple[uuid.UUID, str], EntryView] = {}
    reversed_now: set[uuid.UUID] = set()
    news: list[Event] = []
    for plan in plans:
        client_key = (plan.ledger_id, plan.client_id) if plan.client_id else None
        if client_key is not None and client_key in seen_clients:
            outcomes[plan.index] = _replayed(seen_clients[client_key])
            continue
        try:
            if plan.target is not None and plan.target.id in ctx.resolved_now:
                raise EntryNotPending(
                    f"entry {plan.target.id} is {ctx.resolved_now[plan.target.id]}, not pending"
                )
            if plan.reverses_id is not None and plan.reverses_id in reversed_now:
                raise AlreadyReversed(f"entry {plan.reverses_id} was already reversed")
            touched = _apply_to_balances(ctx, plan, states)
        except AutoledgerError as exc:
            outcomes[plan.index] = exc
            continue
        states.update(touched)
        changed |= touched.keys()
        view = (
            _write_create(ctx, plan, writes)
            if plan.kind == "create"
            else _write_resolve(ctx, plan, writes)
        )
        if plan.reverses_id is not None:
            reversed_now.add(plan.reverses_id)
        writes.audit_entries.append(_audit_entry(plan, view, writes.log[-1]))
        entry_news = events.entry_events(plan.tenant_id, view, _formatter(ctx, plan.tenant_id))
        news.extend(entry_news)
        # The entry's first event carries it in the API's Entry schema: keep that rendering
        # for the response.
        view = replace(view, rendered=entry_news[0].data)
        if client_key is not None:
            seen_clients[client_key] = view
        outcomes[plan.index] = view

    failures = [(i, o) for i, o in enumerate(outcomes) if isinstance(o, AutoledgerError)]
    if atomic and failures:
        raise BatchFailed(
            f"{len(failures)} of {len(commands)} entries failed; nothing was written",
            errors=[
                FieldError(f"entries.{i}", f"{o.code}: {o.detail}", o.code) for i, o in failures
            ],
        )

    writes.balances = [
        {
            "account_id": a,
            "asset": s,
            "debits_posted": st.debits_posted,
            "credits_posted": st.credits_posted,
            "debits_pending": st.debits_pending,
            "credits_pending": st.credits_pending,
            "version": st.version,
        }
        for (a, s), st in sorted(((k, states[k]) for k in changed), key=lambda kv: kv[0])
    ]
    writes.events = news
    writes.heads = [(h.ledger_id, h.last_seq, h.last_hash) for h in ctx.heads.values()]
    await repo.write_journal(writes)
    return [o for o in outcomes if o is not None]


def _audit_entry(plan: _Plan, view: EntryView, log: dict[str, Any]) -> audit.AuditEntry:
    """The audit record of an applied command; its digest is the journal log's digest of
    the action (the canonical command as applied), which ties the two chains together."""
    action = "reverse" if plan.reverses_id is not None else plan.kind
    details: dict[str, Any] = {"ledger_id": str(plan.ledger_id), "log_seq": log["seq"]}
    if plan.reverses_id is not None:
        details["reverses_id"] = str(plan.reverses_id)
    return audit.AuditEntry(
        tenant_id=plan.tenant_id,
        actor=plan.actor,
        action=f"ledger.entry.{action}",
        target_type="journal_entry",
        target_id=str(view.id),
        request_id=plan.request_id,
        change_digest=log["digest"],
        details=details,
    )


def _formatter(ctx: _Context, tenant_id: uuid.UUID) -> Callable[[int, str], str]:
    formatter = ctx.formatters.get(tenant_id)
    if formatter is None:

        def amount(minor: int, asset: str) -> str:
            scale = ctx.scale(tenant_id, asset)
            return format_amount(minor, 0 if scale is None else scale)

        formatter = ctx.formatters[tenant_id] = amount
    return formatter


def _replay(ctx: _Context, command: Command) -> EntryView | None:
    """The entry an earlier request with the same client id created, if any."""
    if isinstance(command, CreateEntry) and command.client_id:
        existing = ctx.existing_clients.get((command.ledger_id, command.client_id))
    elif (
        isinstance(command, ReverseEntry) and command.client_id and command.entry_id in ctx.targets
    ):
        existing = ctx.existing_clients.get(
            (ctx.targets[command.entry_id].ledger_id, command.client_id)
        )
    else:
        return None
    if existing is None or existing.tenant_id != command.tenant_id:
        return None
    return EntryView.from_rows(existing, ctx.client_postings[existing.id], replayed=True)


def _replayed(view: EntryView) -> EntryView:
    return replace(view, replayed=True)
