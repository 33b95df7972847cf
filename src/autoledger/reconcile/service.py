"""Reconciliation runs and decisions: load, match, keep, book (ADR 0012, decisions 5 and 6).

A **run** for a bank account matches its unreconciled lines against the ledger's open items
in the account's currency, with what the ledger's reviews taught (aliases, history, rejected
pairs, calibration and threshold). Earlier suggestions for those lines are superseded; the
engine's choice for each line and its alternatives (the best three) are kept as matches; a
choice at or above the threshold is reconciled at once when the ledger allows it.

**Reconciling** a match books its settlement entry through the ledger (bank account against
the items' accounts, plus write-offs), allocates the items and locks its lines — in the
caller's transaction, all or nothing. **Accept** reconciles a suggestion, **reject** records
that the pair is wrong (never proposed again), **unreconcile** reverses the settlement and
reopens what it settled. Every decision is feedback for the calibration.

Services never commit; the request or the consumer owns the transaction.
"""

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.banking.repository import BankingRepository
from autoledger.banking.statement import currency_scale
from autoledger.banking.tables import BankAccount, BankTransactionRecord
from autoledger.categorize import service as bookkeeping
from autoledger.kit.clock import utcnow
from autoledger.kit.errors import AutoledgerError
from autoledger.kit.ids import new_id
from autoledger.kit.money import format_amount
from autoledger.ledger import journal
from autoledger.ledger.commands import CreateEntry, PostingInput, ReverseEntry
from autoledger.ledger.repository import LedgerRepository
from autoledger.platform.events import outbox
from autoledger.reconcile import engine
from autoledger.reconcile.errors import (
    BankAccountNotFound,
    MatchDecided,
    MatchNotFound,
    MatchStale,
    WriteOffCurrency,
)
from autoledger.reconcile.events import (
    MATCH_CREATED,
    MATCH_RECONCILED,
    MATCH_REJECTED,
    MATCH_UNRECONCILED,
    match_event,
)
from autoledger.reconcile.learning import Policy, aliases_of, learn_policy
from autoledger.reconcile.locks import ensure_unlocked, locked_through
from autoledger.reconcile.normalize import party_key
from autoledger.reconcile.openitems import resolve_account
from autoledger.reconcile.schemas import AllocationOut, MatchLineOut, MatchOut, WriteOffOut
from autoledger.reconcile.scoring import FEATURES, prior
from autoledger.reconcile.settlement import DEFAULT_WRITEOFF_ACCOUNTS, explain, settlement_legs
from autoledger.reconcile.tables import (
    OpenItem,
    OpenItemSettlement,
    ReconcileAlias,
    ReconciledLine,
    ReconcileFeedback,
    ReconcileMatch,
    ReconcileMatchItem,
    ReconcileMatchLine,
    ReconcileRejection,
    ReconcileSettings,
)
from autoledger.reconcile.tolerance import Tolerances

log = structlog.get_logger("autoledger.reconcile")

OPEN = ("open", "partially_settled")
SOURCE_TYPE = "reconciliation"
BOOK = "book"  # the kind of a book item (ADR 0012, decision 1)


@dataclass(frozen=True, slots=True)
class RunReport:
    bank_account_id: uuid.UUID
    lines: int
    open_items: int
    matches: int
    auto_reconciled: int
    suggested_lines: int
    unmatched_lines: int
    threshold: float | None
    policy_source: str
    stats: dict[str, int]


def model_actor() -> str:
    return f"model:reconcile:{prior().sha256[:12]}"


# --- runs ---------------------------------------------------------------------------------


async def get_bank_account(
    session: AsyncSession, tenant_id: uuid.UUID, bank_account_id: uuid.UUID
) -> BankAccount:
    account = await BankingRepository(session).bank_account(tenant_id, bank_account_id)
    if account is None:
        raise BankAccountNotFound(f"no bank account {bank_account_id}")
    return account


async def settings_of(session: AsyncSession, ledger_id: uuid.UUID) -> ReconcileSettings:
    found = await session.scalar(
        select(ReconcileSettings).where(ReconcileSettings.ledger_id == ledger_id)
    )
    return found or ReconcileSettings(
        ledger_id=ledger_id,
        auto_reconcile=True,
        run_on_import=True,
        target_precision=0.995,
        tolerances=Tolerances().to_dict(),
        writeoff_accounts=dict(DEFAULT_WRITEOFF_ACCOUNTS),
    )


async def policy_of(
    session: AsyncSession, ledger_id: uuid.UUID, settings: ReconcileSettings
) -> Policy:
    pairs = (
        await session.execute(
            select(ReconcileFeedback.score, ReconcileFeedback.correct)
            .where(ReconcileFeedback.ledger_id == ledger_id)
            .order_by(ReconcileFeedback.created_at, ReconcileFeedback.id)
        )
    ).all()
    return learn_policy(
        [(float(score), bool(ok)) for score, ok in pairs],
        prior_threshold=prior().metadata.get("default_threshold"),
        target_precision=settings.target_precision,
    )


async def run(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    bank_account_id: uuid.UUID,
    *,
    bank: BankAccount | None = None,
    settings: ReconcileSettings | None = None,
) -> RunReport:
    """Match the bank account's unreconciled lines (a caller that loaded the bank account
    and its ledger's settings passes them)."""
    bank = bank or await get_bank_account(session, tenant_id, bank_account_id)
    settings = settings or await settings_of(session, bank.ledger_id)
    policy = await policy_of(session, bank.ledger_id, settings)
    query = select(BankTransactionRecord).where(
        BankTransactionRecord.tenant_id == tenant_id,
        BankTransactionRecord.bank_account_id == bank.id,
        ~exists().where(ReconciledLine.bank_transaction_id == BankTransactionRecord.id),
    )
    through = await locked_through(session, tenant_id, bank.id)
    if through is not None:  # a reconciled period's lines stay as they were signed off
        query = query.where(BankTransactionRecord.booking_date > through)
    records = list(
        (
            await session.scalars(
                query.order_by(BankTransactionRecord.booking_date, BankTransactionRecord.id)
            )
        ).all()
    )
    open_items = list(
        (
            await session.scalars(
                select(OpenItem).where(
                    OpenItem.tenant_id == tenant_id,
                    OpenItem.ledger_id == bank.ledger_id,
                    OpenItem.status.in_(OPEN),
                    OpenItem.currency == bank.currency,
                    # another bank account's book items are not this one's to settle
                    or_(OpenItem.kind != BOOK, OpenItem.account_id == bank.gl_account_id),
                )
            )
        ).all()
    )
    lines = [_line(r) for r in records]
    items = [_item(i, bank) for i in open_items]
    outcome = engine.match(
        lines,
        items,
        scorer=prior(),
        knowledge=await _knowledge(session, bank.ledger_id, [r.id for r in records]),
        tolerances=Tolerances.from_dict(settings.tolerances),
        calibrate=policy.calibrator.calibrate,
    )
    await _supersede(session, [r.id for r in records])
    by_line = {line.id: line for line in lines}
    by_item = {item.id: item for item in items}
    chosen = {_key(c) for c in outcome.matches}
    kept: dict[tuple[object, ...], ReconcileMatch] = {}
    created: list[MatchOut] = []
    auto = 0
    for suggestions in outcome.suggestions.values():
        for rank, candidate in enumerate(suggestions, start=1):
            key = _key(candidate)
            if key in kept:
                continue
            record, line_rows, item_rows = _keep(
                bank, candidate, 1 if key in chosen else rank + 1, by_line, by_item
            )
            session.add(record)
            session.add_all([*line_rows, *item_rows])
            kept[key] = record
            created.append(match_out(record, line_rows, item_rows))
    await session.flush()
    await _announce(session, MATCH_CREATED, tenant_id, created)
    reconciled: set[str] = set()
    failed: Counter[str] = Counter()
    if settings.auto_reconcile:
        for candidate in outcome.matches:
            if not policy.auto(candidate.confidence, candidate.identified):
                continue
            record = kept[_key(candidate)]
            try:
                async with session.begin_nested():
                    await _reconcile(
                        session, record, model_actor(), auto=True, bank=bank, settings=settings
                    )
            except AutoledgerError as exc:
                # the match stays a suggestion; a person's accept will say the same
                failed[exc.code] += 1
                log.warning("reconcile.auto_failed", match_id=str(record.id), code=exc.code)
                await session.refresh(record)
                continue
            await _announce(
                session, MATCH_RECONCILED, tenant_id, [await match_out_of(session, record)]
            )
            auto += 1
            reconciled.update(candidate.lines)
    matched_lines = {line_id for c in outcome.matches for line_id in c.lines}
    return RunReport(
        bank_account_id=bank.id,
        lines=len(lines),
        open_items=len(items),
        matches=len(kept),
        auto_reconciled=auto,
        suggested_lines=len(set(outcome.suggestions) - reconciled),
        unmatched_lines=len(lines) - len(matched_lines | set(outcome.suggestions)),
        threshold=policy.threshold,
        policy_source=policy.source,
        stats={**outcome.stats, **{f"auto_failed:{code}": n for code, n in failed.items()}},
    )


def _line(record: BankTransactionRecord) -> engine.Line:
    return engine.Line(
        id=str(record.id),
        booked=record.booking_date,
        amount=record.amount,
        currency=record.currency,
        text=record.description,
        counterparty=record.counterparty_name,
        reference=record.end_to_end_id,
        bank_account=str(record.bank_account_id),
    )


def _item(item: OpenItem, bank: BankAccount) -> engine.Item:
    return engine.Item(
        id=str(item.id),
        amount=item.open_amount,
        currency=item.currency,
        issued=item.issued,
        due_date=item.due_date,
        reference=item.reference or None,
        counterparty=item.counterparty,
        bank_account=str(bank.id) if item.kind == BOOK else None,
    )


def _key(candidate: engine.Candidate) -> tuple[object, ...]:
    return (candidate.lines, candidate.allocations, candidate.writeoffs)


def _keep(
    bank: BankAccount,
    candidate: engine.Candidate,
    rank: int,
    lines: dict[str, engine.Line],
    items: dict[str, engine.Item],
) -> tuple[ReconcileMatch, list[ReconcileMatchLine], list[ReconcileMatchItem]]:
    """The rows of one kept candidate: the match, its lines, its allocations."""
    record = ReconcileMatch(
        id=new_id(),
        tenant_id=bank.tenant_id,
        ledger_id=bank.ledger_id,
        bank_account_id=bank.id,
        status="suggested",
        rank=rank,
        kind=candidate.kind,
        method=candidate.method,
        auto=False,
        score=candidate.score,
        confidence=candidate.confidence,
        currency=bank.currency,
        total=sum(lines[i].amount for i in candidate.lines),
        features=dict(zip(FEATURES, candidate.features, strict=True)),
        explanation=explain(
            candidate,
            lines=lines,
            items=items,
            scale=currency_scale(bank.currency),
            strongest=prior().strongest(candidate.features),
        ),
        writeoffs=[{"purpose": w.purpose, "amount": w.amount} for w in candidate.writeoffs],
    )
    line_rows = [
        ReconcileMatchLine(
            match_id=record.id,
            tenant_id=bank.tenant_id,
            bank_transaction_id=uuid.UUID(i),
            amount=lines[i].amount,
        )
        for i in candidate.lines
    ]
    item_rows = [
        ReconcileMatchItem(
            match_id=record.id,
            tenant_id=bank.tenant_id,
            open_item_id=uuid.UUID(a.item_id),
            amount=a.amount,
        )
        for a in candidate.allocations
    ]
    return record, line_rows, item_rows


async def _knowledge(
    session: AsyncSession, ledger_id: uuid.UUID, line_ids: Sequence[uuid.UUID]
) -> engine.Knowledge:
    aliases = dict(
        (
            await session.execute(
                select(ReconcileAlias.alias, ReconcileAlias.party).where(
                    ReconcileAlias.ledger_id == ledger_id
                )
            )
        ).all()
    )
    confirmed = (
        await session.execute(
            select(OpenItem.counterparty)
            .join(ReconcileMatchItem, ReconcileMatchItem.open_item_id == OpenItem.id)
            .join(ReconcileMatch, ReconcileMatch.id == ReconcileMatchItem.match_id)
            .where(ReconcileMatch.ledger_id == ledger_id, ReconcileMatch.status == "reconciled")
        )
    ).scalars()
    history = Counter(party_key(name) for name in confirmed if name)
    rejected: set[tuple[str, str]] = set()
    for chunk in _chunks(line_ids, 5_000):
        rows = await session.execute(
            select(ReconcileRejection.bank_transaction_id, ReconcileRejection.open_item_id).where(
                ReconcileRejection.bank_transaction_id.in_(chunk)
            )
        )
        rejected.update((str(line), str(item)) for line, item in rows.all())
    return engine.Knowledge(aliases=aliases, history=dict(history), rejected=frozenset(rejected))


def _chunks(values: Sequence[uuid.UUID], size: int) -> Iterable[Sequence[uuid.UUID]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


async def _supersede(
    session: AsyncSession, line_ids: Sequence[uuid.UUID], *, keep: uuid.UUID | None = None
) -> None:
    """Suggestions for these lines (but ``keep``) are replaced: by a new run or a decision."""
    for chunk in _chunks(line_ids, 5_000):
        query = update(ReconcileMatch).where(
            ReconcileMatch.status == "suggested",
            ReconcileMatch.id.in_(
                select(ReconcileMatchLine.match_id).where(
                    ReconcileMatchLine.bank_transaction_id.in_(chunk)
                )
            ),
        )
        if keep is not None:
            query = query.where(ReconcileMatch.id != keep)
        await session.execute(
            query.values(status="superseded").execution_options(synchronize_session=False)
        )


# --- decisions ----------------------------------------------------------------------------


async def get_match(
    session: AsyncSession, tenant_id: uuid.UUID, match_id: uuid.UUID, *, lock: bool = False
) -> ReconcileMatch:
    query = select(ReconcileMatch).where(
        ReconcileMatch.id == match_id, ReconcileMatch.tenant_id == tenant_id
    )
    if lock:
        query = query.with_for_update()
    found = await session.scalar(query)
    if found is None:
        raise MatchNotFound(f"no match {match_id}")
    return found


async def match_parts(
    session: AsyncSession, match_id: uuid.UUID
) -> tuple[list[ReconcileMatchLine], list[ReconcileMatchItem]]:
    lines = (
        await session.scalars(
            select(ReconcileMatchLine).where(ReconcileMatchLine.match_id == match_id)
        )
    ).all()
    items = (
        await session.scalars(
            select(ReconcileMatchItem).where(ReconcileMatchItem.match_id == match_id)
        )
    ).all()
    return list(lines), list(items)


async def accept(
    session: AsyncSession, tenant_id: uuid.UUID, match_id: uuid.UUID, actor: str
) -> ReconcileMatch:
    match = await get_match(session, tenant_id, match_id, lock=True)
    if match.status == "reconciled":
        return match  # the same decision again changes nothing
    if match.status != "suggested":
        raise MatchDecided(f"match {match_id} is {match.status}")
    await _ensure_unlocked(session, match)
    await _reconcile(session, match, actor, auto=False)
    await _feedback(session, match, correct=True)
    await _learn_alias(session, match)
    await _announce(session, MATCH_RECONCILED, tenant_id, [await match_out_of(session, match)])
    return match


async def reject(
    session: AsyncSession, tenant_id: uuid.UUID, match_id: uuid.UUID, actor: str
) -> ReconcileMatch:
    match = await get_match(session, tenant_id, match_id, lock=True)
    if match.status == "rejected":
        return match
    await _ensure_unlocked(session, match)
    if match.status == "reconciled":
        await _unreconcile(session, match, actor)
    elif match.status != "suggested":
        raise MatchDecided(f"match {match_id} is {match.status}")
    lines, items = await match_parts(session, match.id)
    for line in lines:
        for item in items:
            exists_already = await session.scalar(
                select(ReconcileRejection.id).where(
                    ReconcileRejection.bank_transaction_id == line.bank_transaction_id,
                    ReconcileRejection.open_item_id == item.open_item_id,
                )
            )
            if exists_already is None:
                session.add(
                    ReconcileRejection(
                        tenant_id=match.tenant_id,
                        ledger_id=match.ledger_id,
                        bank_transaction_id=line.bank_transaction_id,
                        open_item_id=item.open_item_id,
                    )
                )
    match.status = "rejected"
    match.decided_by, match.decided_at = actor, utcnow()
    await _feedback(session, match, correct=False)
    await _announce(session, MATCH_REJECTED, tenant_id, [await match_out_of(session, match)])
    return match


async def unreconcile(
    session: AsyncSession, tenant_id: uuid.UUID, match_id: uuid.UUID, actor: str
) -> ReconcileMatch:
    match = await get_match(session, tenant_id, match_id, lock=True)
    if match.status == "unreconciled":
        return match
    if match.status != "reconciled":
        raise MatchDecided(f"match {match_id} is {match.status}, not reconciled")
    await _ensure_unlocked(session, match)
    await _unreconcile(session, match, actor)
    match.status = "unreconciled"
    match.decided_by = actor
    await _announce(session, MATCH_UNRECONCILED, tenant_id, [await match_out_of(session, match)])
    return match


async def _ensure_unlocked(session: AsyncSession, match: ReconcileMatch) -> None:
    days = (
        await session.scalars(
            select(BankTransactionRecord.booking_date)
            .join(
                ReconcileMatchLine,
                ReconcileMatchLine.bank_transaction_id == BankTransactionRecord.id,
            )
            .where(ReconcileMatchLine.match_id == match.id)
        )
    ).all()
    await ensure_unlocked(session, match.tenant_id, match.bank_account_id, days)


async def _reconcile(
    session: AsyncSession,
    match: ReconcileMatch,
    actor: str,
    *,
    auto: bool,
    bank: BankAccount | None = None,
    settings: ReconcileSettings | None = None,
) -> None:
    """Book ``match``; a run passes the bank account and settings it already loaded."""
    match_id = match.id
    lines, allocations = await match_parts(session, match_id)
    try:
        # The claim rows are added inside the savepoint: ``begin_nested`` flushes what is
        # pending first, outside it, where a conflict would doom the whole transaction.
        async with session.begin_nested():
            session.add_all(
                ReconciledLine(
                    bank_transaction_id=line.bank_transaction_id,
                    tenant_id=match.tenant_id,
                    match_id=match_id,
                )
                for line in lines
            )
            await session.flush()
    except IntegrityError as exc:
        raise MatchStale(f"a line of match {match_id} is already reconciled") from exc
    items = {
        i.id: i
        for i in (
            await session.scalars(
                select(OpenItem)
                .where(OpenItem.id.in_([a.open_item_id for a in allocations]))
                .with_for_update()
            )
        ).all()
    }
    for allocation in allocations:
        item = items.get(allocation.open_item_id)
        if (
            item is None
            or item.status not in OPEN
            or (allocation.amount > 0) != (item.open_amount > 0)
            or abs(allocation.amount) > abs(item.open_amount)
        ):
            raise MatchStale(f"open item {allocation.open_item_id} changed since match {match.id}")
    await bookkeeping.release_lines(
        session, match.tenant_id, [line.bank_transaction_id for line in lines], actor
    )
    bank = bank or await get_bank_account(session, match.tenant_id, match.bank_account_id)
    settings = settings or await settings_of(session, match.ledger_id)
    records = {
        r.id: r
        for r in (
            await session.scalars(
                select(BankTransactionRecord).where(
                    BankTransactionRecord.id.in_([line.bank_transaction_id for line in lines])
                )
            )
        ).all()
    }
    candidate = engine.Candidate(
        lines=tuple(str(line.bank_transaction_id) for line in lines),
        allocations=tuple(engine.Allocation(str(a.open_item_id), a.amount) for a in allocations),
        writeoffs=tuple(engine.WriteOff(w["purpose"], int(w["amount"])) for w in match.writeoffs),
        kind=match.kind,  # type: ignore[arg-type]
        method=match.method,  # type: ignore[arg-type]
        features=(),
        score=match.score,
        confidence=match.confidence,
    )
    legs = settlement_legs(
        candidate,
        line_amounts={str(k): r.amount for k, r in records.items()},
        bank_account=bank.gl_account_id,
        item_accounts={str(k): i.account_id for k, i in items.items()},
        writeoff_accounts=await _writeoff_accounts(
            session, match, settings.writeoff_accounts, bank.currency
        ),
        asset=bank.currency,
        scale=currency_scale(bank.currency),
    )
    entry_id = None
    if legs:  # a line paired with book items alone is in the books already: no entry
        references = ", ".join(i.reference for i in items.values() if i.reference)
        command = CreateEntry(
            tenant_id=match.tenant_id,
            ledger_id=match.ledger_id,
            postings=tuple(
                PostingInput(leg.account, leg.direction, leg.amount, leg.asset) for leg in legs
            ),
            actor=actor,
            effective_date=max(r.booking_date for r in records.values()),
            description=f"Reconciled: {references or 'bank line'}"[:1000],
            metadata={"reconcile_match_id": str(match.id)},
            source_type=SOURCE_TYPE,
            source_id=str(match.id),
            client_id=f"reconcile:{match.id}",
        )
        entry_id = (await journal.execute_one(session, command)).id
    now = utcnow()
    for allocation in allocations:
        item = items[allocation.open_item_id]
        item.open_amount -= allocation.amount
        item.status = "settled" if item.open_amount == 0 else "partially_settled"
        item.updated_at = now
        session.add(
            OpenItemSettlement(
                tenant_id=match.tenant_id,
                open_item_id=item.id,
                entry_id=entry_id or item.entry_id,
                posting_index=None,
                amount=allocation.amount,
                source="reconciliation",
                match_id=match.id,
            )
        )
    match.status, match.auto, match.entry_id = "reconciled", auto, entry_id
    match.decided_by, match.decided_at = actor, now
    await _supersede(session, [line.bank_transaction_id for line in lines], keep=match.id)


async def _writeoff_accounts(
    session: AsyncSession, match: ReconcileMatch, configured: dict[str, str], currency: str
) -> dict[str, uuid.UUID | str]:
    """The account of each write-off purpose ``match`` uses, in ``currency``: the configured
    one when it holds that currency (or any), else its sub-account ``<code>-<currency>``."""
    out: dict[str, uuid.UUID | str] = {}
    for purpose in {w["purpose"] for w in match.writeoffs}:
        code = configured[purpose]
        account = await resolve_account(session, match.tenant_id, match.ledger_id, code)
        if account.asset not in (None, currency):
            sub = await LedgerRepository(session).account_by_code(
                match.tenant_id, match.ledger_id, f"{account.code}-{currency}"
            )
            if sub is None or sub.asset not in (None, currency):
                raise WriteOffCurrency(
                    f"the {purpose.replace('_', ' ')} write-off account {account.code} holds"
                    f" {account.asset} only and the match writes off {currency}: set"
                    f" writeoff_accounts.{purpose} to an account that holds {currency} (or"
                    f" create {account.code}-{currency})"
                )
            account = sub
        out[purpose] = account.id
    return out


async def _unreconcile(session: AsyncSession, match: ReconcileMatch, actor: str) -> None:
    if match.entry_id is None:  # paired with book items only: nothing was booked
        await reopen(session, match, None)
        return
    command = ReverseEntry(
        tenant_id=match.tenant_id,
        entry_id=match.entry_id,
        actor=actor,
        description="Unreconciled",
        client_id=f"unreconcile:{match.id}",
    )
    await reopen(session, match, (await journal.execute_one(session, command)).id)


async def reopen(
    session: AsyncSession, match: ReconcileMatch, reversal_entry_id: uuid.UUID | None
) -> None:
    """Give back what ``match`` settled and free its lines: its entry was reversed by
    ``reversal_entry_id``, or it had none (book items alone), and its settlements, which
    never reached the ledger, are removed."""
    settlements = (
        await session.scalars(
            select(OpenItemSettlement).where(
                and_(
                    OpenItemSettlement.match_id == match.id,
                    OpenItemSettlement.reversed_by_entry_id.is_(None),
                )
            )
        )
    ).all()
    now = utcnow()
    for settlement in settlements:
        item = await session.get(OpenItem, settlement.open_item_id, with_for_update=True)
        if item is not None:
            item.open_amount += settlement.amount
            item.status = "open" if item.open_amount == item.amount else "partially_settled"
            item.updated_at = now
        if reversal_entry_id is None:
            await session.delete(settlement)
        else:
            settlement.reversed_by_entry_id = reversal_entry_id
    freed = (
        await session.scalars(
            select(ReconciledLine.bank_transaction_id).where(ReconciledLine.match_id == match.id)
        )
    ).all()
    await session.execute(delete(ReconciledLine).where(ReconciledLine.match_id == match.id))
    await bookkeeping.requeue_lines(session, match.tenant_id, list(freed))
    match.reversal_entry_id = reversal_entry_id
    match.decided_at = now


async def _feedback(session: AsyncSession, match: ReconcileMatch, *, correct: bool) -> None:
    known = await session.scalar(
        select(ReconcileFeedback.id).where(ReconcileFeedback.match_id == match.id)
    )
    if known is None:
        session.add(
            ReconcileFeedback(
                tenant_id=match.tenant_id,
                ledger_id=match.ledger_id,
                match_id=match.id,
                score=match.score,
                correct=correct,
            )
        )


async def _learn_alias(session: AsyncSession, match: ReconcileMatch) -> None:
    lines, allocations = await match_parts(session, match.id)
    records = (
        await session.scalars(
            select(BankTransactionRecord).where(
                BankTransactionRecord.id.in_([line.bank_transaction_id for line in lines])
            )
        )
    ).all()
    items = (
        await session.scalars(
            select(OpenItem).where(OpenItem.id.in_([a.open_item_id for a in allocations]))
        )
    ).all()
    parties = {party_key(i.counterparty) for i in items if i.counterparty}
    if len(parties) != 1:
        return
    (party,) = parties
    now = utcnow()
    for record in records:
        for alias, _ in aliases_of(record.counterparty_name, record.description, party):
            known = await session.scalar(
                select(ReconcileAlias).where(
                    ReconcileAlias.ledger_id == match.ledger_id, ReconcileAlias.alias == alias
                )
            )
            if known is None:
                session.add(
                    ReconcileAlias(
                        tenant_id=match.tenant_id,
                        ledger_id=match.ledger_id,
                        alias=alias[:200],
                        party=party[:200],
                        updated_at=now,
                    )
                )
            else:
                known.party, known.updated_at = party[:200], now
                known.confirmations += 1


async def matches_of(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    bank_account_id: uuid.UUID,
    *,
    status: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[ReconcileMatch]:
    query = select(ReconcileMatch).where(
        ReconcileMatch.tenant_id == tenant_id, ReconcileMatch.bank_account_id == bank_account_id
    )
    if status is not None:
        query = query.where(ReconcileMatch.status == status)
    if after is not None:
        query = query.where(ReconcileMatch.id > after)
    return list((await session.scalars(query.order_by(ReconcileMatch.id).limit(limit))).all())


# --- presenting ---------------------------------------------------------------------------


def match_out(
    match: ReconcileMatch,
    lines: Sequence[ReconcileMatchLine],
    items: Sequence[ReconcileMatchItem],
) -> MatchOut:
    scale = currency_scale(match.currency)

    def money(minor: int) -> str:
        return format_amount(minor, scale)

    return MatchOut(
        id=match.id,
        ledger_id=match.ledger_id,
        bank_account_id=match.bank_account_id,
        status=match.status,  # type: ignore[arg-type]
        rank=match.rank,
        kind=match.kind,  # type: ignore[arg-type]
        method=match.method,  # type: ignore[arg-type]
        auto=match.auto,
        score=match.score,
        confidence=match.confidence,
        currency=match.currency,
        total=money(match.total),
        lines=[
            MatchLineOut(bank_transaction_id=r.bank_transaction_id, amount=money(r.amount))
            for r in lines
        ],
        allocations=[
            AllocationOut(open_item_id=r.open_item_id, amount=money(r.amount)) for r in items
        ],
        writeoffs=[
            WriteOffOut(purpose=w["purpose"], amount=money(int(w["amount"])))
            for w in match.writeoffs
        ],
        explanation=list(match.explanation),
        features=dict(match.features),
        entry_id=match.entry_id,
        reversal_entry_id=match.reversal_entry_id,
        decided_by=match.decided_by,
        decided_at=match.decided_at,
        created_at=match.created_at or utcnow(),
    )


async def match_out_of(session: AsyncSession, match: ReconcileMatch) -> MatchOut:
    lines, items = await match_parts(session, match.id)
    return match_out(match, lines, items)


async def _announce(
    session: AsyncSession, event_type: str, tenant_id: uuid.UUID, payloads: Sequence[MatchOut]
) -> None:
    if payloads:
        await outbox.append(session, [match_event(event_type, tenant_id, p) for p in payloads])
