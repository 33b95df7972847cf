"""Autonomous bookkeeping: a proposal for every bank line, booked when the policy allows,
and every human decision kept as a label the next model learns from.

The order of sources is the proposer's (rules, counterparty memory, the ledger's champion
model, the cold-start prior); the policy is the ledger's thresholds per source (see
``categorize.learning``). A booked line is a journal entry debiting (money in) or crediting
(money out) the bank account's ledger account against the proposed one, with
``source = bank_line`` and the actor that decided: ``model:<version>``, ``rule:<id>``,
``memory``, ``prior:<version>`` or the reviewer. A correction of a booked line reverses its
entry and books the new one: the ledger's history keeps both.
"""

import asyncio
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, cast

import structlog
from sqlalchemy import (
    BindParameter,
    CursorResult,
    Select,
    Table,
    bindparam,
    case,
    exists,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from autoledger.banking.statement import currency_scale
from autoledger.banking.tables import BankAccount, BankTransactionRecord
from autoledger.categorize import events
from autoledger.categorize.errors import (
    AlreadyReviewed,
    InvalidRule,
    LineReconciled,
    ModelNotFound,
    ProposalNotFound,
    RuleNotFound,
    UnknownAccount,
)
from autoledger.categorize.features import LineFacts
from autoledger.categorize.learning import (
    Champion,
    Feedback,
    Thresholds,
    choose_thresholds,
    decide,
    retrain,
)
from autoledger.categorize.memory import CounterpartyMemory, MemoryLabel
from autoledger.categorize.metrics import BookkeepingMetrics
from autoledger.categorize.model import LinearModel
from autoledger.categorize.prior import Prior
from autoledger.categorize.proposer import Proposal
from autoledger.categorize.rules import Rule
from autoledger.categorize.schemas import (
    Candidate,
    ProposalEvent,
    ProposalOut,
    Review,
    RuleIn,
    RuleOut,
    SettingsIn,
    StatsOut,
    VersionStats,
)
from autoledger.categorize.tables import (
    CategorizationRule,
    CategorizationSettings,
    LabelRecord,
    ModelVersionRecord,
    ProposalRecord,
)
from autoledger.db import sqlite_driver
from autoledger.kit import clock
from autoledger.kit.clock import utcnow
from autoledger.kit.errors import AutoledgerError
from autoledger.kit.ids import new_id
from autoledger.kit.money import format_amount, parse_amount
from autoledger.ledger import journal
from autoledger.ledger.commands import CreateEntry, PostingInput, ReverseEntry
from autoledger.ledger.errors import PeriodClosed
from autoledger.ledger.service import get_ledger, resolve
from autoledger.ledger.tables import Account
from autoledger.ledger.types import Direction
from autoledger.ml.calibration import Calibrator
from autoledger.platform.events import outbox
from autoledger.reconcile.tables import ReconciledLine

log = structlog.get_logger("autoledger.categorize")

DEFAULTS = SettingsIn()


# --- the state a proposal needs ---------------------------------------------------------


@dataclass
class LedgerState:
    """What proposing for one ledger reads, cached per process (see :class:`StateCache`)."""

    ledger_id: uuid.UUID
    stamp: tuple[Any, ...]
    settings: SettingsIn
    rules: list[Rule]
    chart: list[Account]
    codes: dict[str, uuid.UUID]  # account code -> id
    memory: CounterpartyMemory
    last_label_id: uuid.UUID | None
    model: LinearModel | None
    model_version: str | None
    calibrator: Calibrator | None
    thresholds: Thresholds
    champion_id: uuid.UUID | None = None


@dataclass
class StateCache:
    """Ledger states by ledger id. A state is reused while its stamp (the rules' last change,
    the champion and its thresholds, the settings, the chart size; without a champion, the
    number of labels) is unchanged; labels made since it was built are added to its counterparty
    memory on the next use, so memory is always current. A rebuilt state keeps the memory
    built so far (labels are only ever added): a new champion does not re-read every label;
    and the model of a champion it already had (a retrain that kept the champion moves only
    its thresholds): a version's artifact and calibrator never change."""

    states: dict[uuid.UUID, LedgerState] = field(default_factory=dict)
    metrics: BookkeepingMetrics = field(default_factory=BookkeepingMetrics)
    # One refresh of a ledger's state at a time: two lines of one ledger proposed at once
    # (two bank accounts) would each add the same new labels to the shared memory. By event
    # loop too, as a lock belongs to the loop it first waited on.
    _locks: dict[tuple[int, uuid.UUID], asyncio.Lock] = field(default_factory=dict)

    async def get(
        self, session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID
    ) -> LedgerState:
        key = (id(asyncio.get_running_loop()), ledger_id)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            return await self._refresh(session, tenant_id, ledger_id)

    async def _refresh(
        self, session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID
    ) -> LedgerState:
        state = self.states.get(ledger_id)
        stamp, labels = await _stamp(
            session, ledger_id, None if state is None else state.last_label_id
        )
        if state is None or state.stamp != stamp:
            fresh = await _load_state(session, tenant_id, ledger_id, stamp, state)
            if state is not None:
                fresh.memory, fresh.last_label_id = state.memory, state.last_label_id
            state = self.states[ledger_id] = fresh
        await _catch_up_memory(session, state, labels)
        return state


_PRIOR: Prior | None = None


def prior() -> Prior:
    """The shipped cold-start prior (loaded once; its content hash is checked on load)."""
    global _PRIOR
    if _PRIOR is None:
        _PRIOR = Prior.load()
    return _PRIOR


def prior_default_threshold() -> float | None:
    """The prior's own auto-booking threshold, measured when it was built on held-out lines
    of its training universe (none recorded: the prior books nothing until the ledger's
    feedback proves a threshold)."""
    value = prior().model.metadata.get("default_threshold")
    return None if value is None else float(value)


@functools.cache
def _stamp_query() -> Select[Any]:
    """What a ledger's state is built from, in one statement (built once: every line asks)."""
    ledger_id: BindParameter[Any] = bindparam("ledger_id")
    champion = (
        select(ModelVersionRecord.id, ModelVersionRecord.thresholds)
        .where(ModelVersionRecord.ledger_id == ledger_id, ModelVersionRecord.status == "champion")
        .limit(1)
        .subquery()
    )
    return select(
        select(func.max(CategorizationRule.updated_at))
        .where(CategorizationRule.ledger_id == ledger_id)
        .scalar_subquery(),
        select(champion.c.id).scalar_subquery(),
        select(champion.c.thresholds).scalar_subquery(),
        # counted only without a champion (the labels then make the thresholds)
        case(
            (
                ~exists(champion.select()),
                select(func.count()).where(LabelRecord.ledger_id == ledger_id).scalar_subquery(),
            ),
            else_=None,
        ),
        select(CategorizationSettings.updated_at)
        .where(CategorizationSettings.ledger_id == ledger_id)
        .scalar_subquery(),
        select(func.count())
        .select_from(Account)
        .where(Account.ledger_id == ledger_id)
        .scalar_subquery(),
    )


Labels = list[tuple[uuid.UUID, dict[str, Any], str]]
"""``(id, facts, account code)`` of labels, oldest first."""


async def _stamp(
    session: AsyncSession, ledger_id: uuid.UUID, after: uuid.UUID | None
) -> tuple[tuple[Any, ...], Labels | None]:
    """What a ledger's state is built from, read in one round trip (every line asks); on
    SQLite the labels after ``after`` (every label without) come in the same round trip."""
    if _dialect(session) == "sqlite":
        row, labels = await sqlite_driver.run(
            session, functools.partial(_stamp_and_labels_sqlite, ledger_id=ledger_id, after=after)
        )
    else:
        row, labels = (await session.execute(_stamp_query(), {"ledger_id": ledger_id})).one(), None
    rules, champion_id, thresholds, label_count, settings, accounts = row
    # Without a champion the thresholds come from the labels themselves: a new label is a
    # new state. With one, they are the champion's (recalibrated at every retrain).
    held = None if champion_id is None else (champion_id, thresholds)
    return (rules, held, label_count, settings, accounts), labels


@functools.cache
def _sqlite_reads(dialect: Dialect) -> dict[str, sqlite_driver.Prepared]:
    return {
        "stamp": sqlite_driver.prepare(_stamp_query(), dialect),
        "labels": sqlite_driver.prepare(_new_labels_query(after=False), dialect),
        "labels_after": sqlite_driver.prepare(_new_labels_query(after=True), dialect),
        "reconciled": sqlite_driver.prepare(_reconciled_query(), dialect),
    }


def _stamp_and_labels_sqlite(
    statements: sqlite_driver.Statements, ledger_id: uuid.UUID, after: uuid.UUID | None
) -> tuple[tuple[Any, ...], Labels]:
    sql = _sqlite_reads(statements.dialect)
    [row] = statements.rows(sql["stamp"], {"ledger_id": ledger_id})
    if after is None:
        labels = statements.rows(sql["labels"], {"ledger_id": ledger_id})
    else:
        labels = statements.rows(
            sql["labels_after"], {"ledger_id": ledger_id, "last_label_id": after}
        )
    return row, [(label_id, facts, code) for label_id, facts, code in labels]


async def _load_state(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    stamp: tuple[Any, ...],
    previous: LedgerState | None = None,
) -> LedgerState:
    settings = await get_settings(session, tenant_id, ledger_id)
    rules = [
        rule_of(r)
        for r in await session.scalars(
            select(CategorizationRule).where(
                CategorizationRule.ledger_id == ledger_id, CategorizationRule.active.is_(True)
            )
        )
    ]
    chart = list(
        await session.scalars(
            select(Account).where(Account.ledger_id == ledger_id, Account.status == "active")
        )
    )
    m = ModelVersionRecord
    # the artifact (the largest column) is read only for a champion not loaded before
    champion = (
        await session.execute(
            select(m.id, m.version, m.calibrator, m.thresholds).where(
                m.ledger_id == ledger_id, m.status == "champion"
            )
        )
    ).first()
    model = calibrator = None
    thresholds = Thresholds()
    version = None
    if champion is not None:
        if previous is not None and previous.champion_id == champion.id:
            model, calibrator = previous.model, previous.calibrator
        else:
            artifact = await session.execute(select(m.artifact).where(m.id == champion.id))
            model = LinearModel.from_bytes(artifact.scalar_one())
            calibrator = Calibrator.from_dict(champion.calibrator) if champion.calibrator else None
        thresholds = Thresholds.from_dict(champion.thresholds)
        version = f"{champion.version}"
    else:
        thresholds = await _thresholds_from_feedback(session, ledger_id, settings)
    return LedgerState(
        ledger_id=ledger_id,
        stamp=stamp,
        settings=settings,
        rules=rules,
        chart=chart,
        codes={a.code: a.id for a in chart},
        memory=CounterpartyMemory(),
        last_label_id=None,
        model=model,
        model_version=version,
        calibrator=calibrator,
        thresholds=thresholds,
        champion_id=None if champion is None else champion.id,
    )


async def _thresholds_from_feedback(
    session: AsyncSession, ledger_id: uuid.UUID, settings: SettingsIn
) -> Thresholds:
    feedback = [feedback_of(r) for r in await _labels(session, ledger_id)]
    return choose_thresholds(
        feedback,
        target_precision=settings.target_precision,
        min_feedback=settings.min_feedback,
        prior_default=prior_default_threshold(),
    )


@functools.cache
def _new_labels_query(*, after: bool) -> Select[Any]:
    """A ledger's labels (after ``last_label_id``), oldest first: what memory learns from."""
    query = select(LabelRecord.id, LabelRecord.facts, LabelRecord.account_code).where(
        LabelRecord.ledger_id == bindparam("ledger_id")
    )
    if after:
        query = query.where(LabelRecord.id > bindparam("last_label_id"))
    return query.order_by(LabelRecord.id)


async def _catch_up_memory(
    session: AsyncSession, state: LedgerState, labels: Labels | None = None
) -> None:
    """Teach the state's memory the labels made since it last learned (``labels``, when
    read already with the stamp)."""
    if labels is None:
        after = state.last_label_id is not None
        rows = await session.execute(
            _new_labels_query(after=after),
            {"ledger_id": state.ledger_id, "last_label_id": state.last_label_id}
            if after
            else {"ledger_id": state.ledger_id},
        )
        labels = [(label_id, facts, code) for label_id, facts, code in rows]
    for label_id, facts, account_code in labels:
        state.memory.add(MemoryLabel.of(facts_of(facts), account_code))
        state.last_label_id = label_id


async def _labels(session: AsyncSession, ledger_id: uuid.UUID) -> Sequence[LabelRecord]:
    return (
        await session.scalars(
            select(LabelRecord).where(LabelRecord.ledger_id == ledger_id).order_by(LabelRecord.id)
        )
    ).all()


# --- conversions --------------------------------------------------------------------------


def line_facts(line: BankTransactionRecord) -> LineFacts:
    return LineFacts(
        description=line.description,
        counterparty_name=line.counterparty_name,
        amount=line.amount,
        currency=line.currency,
        booking_date=line.booking_date,
        bank_account_id=str(line.bank_account_id),
        transaction_code=line.transaction_code,
    )


def facts_json(facts: LineFacts) -> dict[str, Any]:
    return {
        "description": facts.description,
        "counterparty_name": facts.counterparty_name,
        "amount": facts.amount,
        "currency": facts.currency,
        "booking_date": facts.booking_date.isoformat(),
        "bank_account_id": facts.bank_account_id,
        "transaction_code": facts.transaction_code,
    }


def facts_of(data: dict[str, Any]) -> LineFacts:
    return LineFacts(
        description=data["description"],
        counterparty_name=data["counterparty_name"],
        amount=int(data["amount"]),
        currency=data["currency"],
        booking_date=date.fromisoformat(data["booking_date"]),
        bank_account_id=data["bank_account_id"],
        transaction_code=data.get("transaction_code"),
    )


def feedback_of(label: LabelRecord) -> Feedback:
    return Feedback(
        facts=facts_of(label.facts),
        account=label.account_code,
        when=label.decided_at,
        proposed=label.proposed_code,
        confidence=label.confidence,
        source=label.source,
        auto_booked=label.auto_booked,
    )


def rule_of(record: CategorizationRule) -> Rule:
    c = record.conditions
    return Rule(
        id=str(record.id),
        priority=record.priority,
        account=record.account_code,
        description_contains=c.get("description_contains"),
        description_regex=c.get("description_regex"),
        counterparty_contains=c.get("counterparty_contains"),
        counterparty_regex=c.get("counterparty_regex"),
        min_amount=c.get("min_amount"),
        max_amount=c.get("max_amount"),
        direction=c.get("direction"),
        bank_account_id=c.get("bank_account_id"),
        counterparty=record.counterparty,
        tags=tuple(record.tags),
    )


# --- proposing --------------------------------------------------------------------------


async def propose_for_line(
    session: AsyncSession, cache: StateCache, tenant_id: uuid.UUID, line_id: uuid.UUID
) -> ProposalRecord | None:
    """The proposal of a new bank line, booked when the policy allows. Idempotent: a line
    that already has its proposal keeps it (None if the line is gone)."""
    found = (await session.execute(_line_query(), {"line_id": line_id})).first()
    if found is None:
        return None
    line, account, existing = found
    if existing is not None:
        return existing
    if line.tenant_id != tenant_id:
        return None
    state = await cache.get(session, tenant_id, account.ledger_id)
    champion = (
        None if state.model is None else Champion(state.model, state.calibrator, state.thresholds)
    )
    # The benchmark's decision function, so that what it measures is what books here.
    decided = decide(
        line_facts(line),
        rules=state.rules,
        memory=state.memory,
        champion=champion,
        prior=prior(),
        chart=state.chart,
        thresholds=state.thresholds,
    )
    proposal = decided.proposal
    if proposal.model_version is None and proposal.source == "model":
        proposal = _with_version(proposal, state.model_version)
    now = utcnow()
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "ledger_id": account.ledger_id,
        "bank_account_id": account.id,
        "bank_transaction_id": line.id,
        "booking_date": line.booking_date,
        "amount": line.amount,
        "currency": line.currency,
        "impact": abs(line.amount),
        "status": "queued",
        "top": [[code, round(p, 6)] for code, p in proposal.top],
        "confidence": round(proposal.confidence, 6),
        "source": proposal.source,
        "explanation": proposal.explanation,
        "model_version": proposal.model_version,
        "account_code": None,
        "entry_id": None,
        "reversed_entry_ids": [],
        "auto_booked": False,
        "reviewed_by": None,
        "reviewed_at": None,
        "updated_at": now,
        # the id and creation time the record's column defaults (IdMixin, CreatedAtMixin)
        # give it: the wall clock, not the service's
        "id": new_id(),
        "created_at": clock.utcnow(),
    }
    inserted, reconciled = await _insert_proposal(session, values)
    if not inserted:  # a concurrent delivery made it first: this one is that proposal
        return await session.scalar(
            select(ProposalRecord).where(ProposalRecord.bank_transaction_id == line_id)
        )
    # The row as written, in the session from now on: what changes below is flushed as an
    # UPDATE of it.
    record = ProposalRecord(**values)
    make_transient_to_detached(record)
    session.add(record)
    news = [events.PROPOSAL_CREATED.name]
    target = proposal.account
    if reconciled:
        # reconciliation booked it already (its settlement): nothing to book or review
        record.status = "reconciled"
    elif (
        target is not None
        and target in state.codes
        and state.codes[target] != account.gl_account_id  # never the bank against itself
        and state.settings.auto_book
        and decided.auto_book
    ):
        # the prior may book what a young source proposes when both agree: the prior decided
        actor = _actor(proposal) if decided.booked_by == proposal.source else _prior_actor()
        try:
            record.entry_id = await _book(session, line, account, target, actor)
        except AutoledgerError as exc:  # a closed period, a balance constraint: a person decides
            record.explanation = {**record.explanation, "auto_booking_failed": exc.detail}
        else:
            record.status, record.account_code = "auto_booked", target
            record.auto_booked = True
            record.explanation = {**record.explanation, "booked_by": decided.booked_by}
            news.append(events.PROPOSAL_AUTO_BOOKED.name)
    cache.metrics.proposals.labels(record.source, record.status).inc()
    await session.flush()
    await _announce(session, record, news)
    return record


@functools.cache
def _line_query() -> Select[BankTransactionRecord, BankAccount, ProposalRecord | None]:
    """A bank line with its account and, if it has one already, its proposal (a proposal
    belongs to its line: there is none without it). Built once: every line asks."""
    return (
        select(BankTransactionRecord, BankAccount, ProposalRecord)
        .join(BankAccount, BankAccount.id == BankTransactionRecord.bank_account_id)
        .outerjoin(ProposalRecord, ProposalRecord.bank_transaction_id == BankTransactionRecord.id)
        .where(BankTransactionRecord.id == bindparam("line_id"))
    )


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


@functools.cache
def _new_proposal(dialect: str) -> Any:
    """A proposal's INSERT, unless its line has one (built once: every line asks)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return insert(_PROPOSALS).on_conflict_do_nothing(index_elements=["bank_transaction_id"])


_PROPOSALS: Table = ProposalRecord.__table__  # type: ignore[assignment]


async def _insert_proposal(session: AsyncSession, values: dict[str, Any]) -> tuple[bool, bool]:
    """Insert the proposal ``values`` unless its line has one already (no savepoint: one
    statement); then whether reconciliation holds the line (read after the insert, which
    holds the line's key from then on). On SQLite one round trip for both."""
    dialect = _dialect(session)
    if dialect == "sqlite":
        return await sqlite_driver.run(
            session, functools.partial(_insert_proposal_sqlite, values=values)
        )
    result = cast(CursorResult[Any], await session.execute(_new_proposal(dialect), values))
    if result.rowcount != 1:
        return False, False
    return True, await _reconciled(session, values["bank_transaction_id"])


def _insert_proposal_sqlite(
    statements: sqlite_driver.Statements, values: dict[str, Any]
) -> tuple[bool, bool]:
    insert = _sqlite_insert_proposal(statements.dialect, tuple(values))
    if statements.execute(insert, [values]) != 1:
        return False, False
    line = {"line_id": values["bank_transaction_id"]}
    return True, bool(statements.rows(_sqlite_reads(statements.dialect)["reconciled"], line))


@functools.cache
def _sqlite_insert_proposal(dialect: Dialect, keys: tuple[str, ...]) -> sqlite_driver.Prepared:
    return sqlite_driver.prepare(_new_proposal("sqlite"), dialect, keys)


@functools.cache
def _reconciled_query() -> Select[Any]:
    return select(ReconciledLine.bank_transaction_id).where(
        ReconciledLine.bank_transaction_id == bindparam("line_id")
    )


async def _reconciled(session: AsyncSession, line_id: uuid.UUID) -> bool:
    found = await session.scalar(_reconciled_query(), {"line_id": line_id})
    return found is not None


async def release_lines(
    session: AsyncSession, tenant_id: uuid.UUID, line_ids: Sequence[uuid.UUID], actor: str
) -> None:
    """Reconciliation takes these lines over (its settlement books them): a booking made
    here is reversed first, so the bank's money is in the ledger once, and their proposals
    leave the queue as ``reconciled``."""
    records = (
        await session.scalars(
            select(ProposalRecord)
            .where(
                ProposalRecord.tenant_id == tenant_id,
                ProposalRecord.bank_transaction_id.in_(line_ids),
                ProposalRecord.status != "reconciled",
            )
            .with_for_update()
        )
    ).all()
    now = utcnow()
    for record in records:
        if record.entry_id is not None:
            # dated as the line: the books never held it twice on any day since
            await _reverse(
                session,
                tenant_id,
                record.entry_id,
                actor,
                "Superseded by reconciliation",
                effective_date=record.booking_date,
            )
            record.reversed_entry_ids = [*record.reversed_entry_ids, str(record.entry_id)]
            record.entry_id = None
        record.status, record.account_code, record.updated_at = "reconciled", None, now
        await _announce(session, record, [events.PROPOSAL_REVIEWED.name])


async def requeue_lines(
    session: AsyncSession, tenant_id: uuid.UUID, line_ids: Sequence[uuid.UUID]
) -> None:
    """These lines are no longer reconciled: their proposals wait in the queue again."""
    records = (
        await session.scalars(
            select(ProposalRecord)
            .where(
                ProposalRecord.tenant_id == tenant_id,
                ProposalRecord.bank_transaction_id.in_(line_ids),
                ProposalRecord.status == "reconciled",
            )
            .with_for_update()
        )
    ).all()
    now = utcnow()
    for record in records:
        record.status, record.updated_at = "queued", now


def _with_version(proposal: Proposal, version: str | None) -> Proposal:
    return Proposal(
        top=proposal.top,
        confidence=proposal.confidence,
        source=proposal.source,
        explanation=proposal.explanation,
        model_version=version,
        counterparty=proposal.counterparty,
        tags=proposal.tags,
    )


def _actor(proposal: Proposal) -> str:
    if proposal.source == "rule":
        return f"rule:{proposal.explanation.get('rule_id', '')}"
    if proposal.source == "model":
        return f"model:{proposal.model_version}"
    if proposal.source == "prior":
        return _prior_actor()
    return proposal.source


def _prior_actor() -> str:
    return f"model:{prior().version}"


async def _book(
    session: AsyncSession,
    line: BankTransactionRecord,
    account: BankAccount,
    code: str,
    actor: str,
    *,
    attempt: int = 0,
) -> uuid.UUID:
    """Book ``line`` to ``code`` against the bank's ledger account; the entry id."""
    amount = format_amount(abs(line.amount), currency_scale(line.currency))
    debit, credit = Direction.DEBIT, Direction.CREDIT
    bank_side, other_side = (debit, credit) if line.amount >= 0 else (credit, debit)
    command = CreateEntry(
        tenant_id=line.tenant_id,
        ledger_id=account.ledger_id,
        postings=(
            PostingInput(account.gl_account_id, bank_side, amount, line.currency),
            PostingInput(code, other_side, amount, line.currency),
        ),
        actor=actor,
        effective_date=line.booking_date,
        description=line.description[:1000],
        source_type="bank_line",
        source_id=str(line.id),
        client_id=f"bank-line:{line.id}:{attempt}",
    )
    return (await journal.execute_one(session, command)).id


async def _announce(session: AsyncSession, record: ProposalRecord, types: list[str]) -> None:
    payload = ProposalEvent(
        id=record.id,
        ledger_id=record.ledger_id,
        bank_transaction_id=record.bank_transaction_id,
        status=record.status,  # type: ignore[arg-type]
        account=record.account_code,
        top=[Candidate(account=c, probability=p) for c, p in record.top],
        confidence=record.confidence,
        source=record.source,  # type: ignore[arg-type]
        model_version=record.model_version,
        entry_id=record.entry_id,
        reviewed_by=record.reviewed_by,
    )
    await outbox.append(
        session, [events.proposal_event(t, record.tenant_id, payload) for t in types]
    )


# --- reviewing --------------------------------------------------------------------------


async def get_proposal(
    session: AsyncSession, tenant_id: uuid.UUID, proposal_id: uuid.UUID, *, lock: bool = False
) -> ProposalRecord:
    query = select(ProposalRecord).where(
        ProposalRecord.id == proposal_id, ProposalRecord.tenant_id == tenant_id
    )
    if lock:
        query = query.with_for_update()
    record = await session.scalar(query)
    if record is None:
        raise ProposalNotFound(f"proposal {proposal_id} not found")
    return record


async def review(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    proposal_id: uuid.UUID,
    decision: Review,
    actor: str,
) -> ProposalRecord:
    """Accept or correct a proposal; idempotent (the same decision again changes nothing).

    Accepting books a queued proposal to its top account, or confirms a booked one.
    Correcting books a queued proposal to the given account, or reverses the entry of a
    booked one and books the given account. Either way the decision is a label.
    """
    record = await get_proposal(session, tenant_id, proposal_id, lock=True)
    if record.status == "reconciled":
        raise LineReconciled(
            f"proposal {proposal_id}'s line is reconciled; unreconcile its match to book it here"
        )
    line = await session.get(BankTransactionRecord, record.bank_transaction_id)
    account = await session.get(BankAccount, record.bank_account_id)
    if line is None or account is None:
        raise ProposalNotFound(f"proposal {proposal_id}'s bank line is gone")
    proposed = record.top[0][0] if record.top else None
    if decision.action == "accept":
        if record.status in ("accepted", "corrected") or (
            record.status == "auto_booked" and record.reviewed_at is not None
        ):
            if record.status == "corrected":
                raise AlreadyReviewed(f"proposal {proposal_id} was corrected; correct it again")
            return record
        target = proposed
        if target is None:
            raise UnknownAccount("the proposal has no account to accept; correct it instead")
    else:
        target = decision.account
        if record.status != "queued" and record.account_code == target and record.reviewed_at:
            return record
    if target is None:  # the request model requires an account for a correction
        raise UnknownAccount("a correction names the account")
    await _check_account(session, account.ledger_id, target, account.gl_account_id)
    auto_booked = record.status == "auto_booked"
    if record.entry_id is not None and record.account_code != target:
        await _reverse(session, tenant_id, record.entry_id, actor)
        record.reversed_entry_ids = [*record.reversed_entry_ids, str(record.entry_id)]
        record.entry_id = None
    if record.entry_id is None:
        attempt = len(record.reversed_entry_ids)
        record.entry_id = await _book(session, line, account, target, actor, attempt=attempt)
    now = utcnow()
    record.status = "accepted" if target == proposed else "corrected"
    if auto_booked and target == proposed:
        record.status = "auto_booked"  # confirmed as it was
    record.account_code = target
    record.reviewed_by, record.reviewed_at, record.updated_at = actor, now, now
    session.add(
        LabelRecord(
            tenant_id=tenant_id,
            ledger_id=record.ledger_id,
            proposal_id=record.id,
            facts=facts_json(line_facts(line)),
            account_code=target,
            proposed_code=proposed,
            confidence=record.confidence,
            source=record.source,
            auto_booked=auto_booked,
            decided_by=actor,
            decided_at=now,
        )
    )
    if decision.create_rule and decision.action == "correct":
        contains = decision.rule_contains or line.counterparty_name or line.description
        await create_rule(
            session,
            tenant_id,
            record.ledger_id,
            RuleIn(
                account=target,
                counterparty_contains=contains if line.counterparty_name else None,
                description_contains=None if line.counterparty_name else contains[:500],
            ),
            actor,
        )
    await session.flush()
    await _announce(session, record, [events.PROPOSAL_REVIEWED.name])
    return record


async def _reverse(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    entry_id: uuid.UUID,
    actor: str,
    description: str = "Recategorized by review",
    *,
    effective_date: date | None = None,
) -> None:
    """Reverse a booking: on ``effective_date`` when given (and its period is open), else
    today."""
    command = ReverseEntry(
        tenant_id=tenant_id,
        entry_id=entry_id,
        actor=actor,
        effective_date=effective_date,
        description=description,
        client_id=f"reverse:{entry_id}",
    )
    try:
        await journal.execute_one(session, command)
    except PeriodClosed:
        if effective_date is None:
            raise
        await _reverse(session, tenant_id, entry_id, actor, description)


async def _check_account(
    session: AsyncSession, ledger_id: uuid.UUID, code: str, bank_gl: uuid.UUID | None
) -> None:
    found = await session.scalar(
        select(Account).where(Account.ledger_id == ledger_id, Account.code == code)
    )
    if found is None or found.status != "active":
        raise UnknownAccount(f"the ledger has no active account {code!r}")
    if found.id == bank_gl:
        raise UnknownAccount(f"{code} is the bank account's own ledger account")


async def bulk_accept(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    ids: Sequence[uuid.UUID],
    actor: str,
) -> list[ProposalRecord]:
    """Accept each proposal (once, in the order given); one failure refuses them all."""
    accepted = []
    for proposal_id in dict.fromkeys(ids):
        record = await get_proposal(session, tenant_id, proposal_id)
        if record.ledger_id != ledger_id:
            raise ProposalNotFound(f"proposal {proposal_id} is not in ledger {ledger_id}")
        accepted.append(
            await review(session, tenant_id, proposal_id, Review(action="accept"), actor)
        )
    return accepted


async def queue(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    *,
    status: str | None,
    bank_account_id: uuid.UUID | None,
    source: str | None,
    max_confidence: float | None,
    date_from: date | None = None,
    date_to: date | None = None,
    after: tuple[int, uuid.UUID] | None,
    limit: int,
) -> Sequence[ProposalRecord]:
    """Proposals of a ledger, largest amount first (the review queue's order: what a wrong
    booking would misstate most comes first), then oldest."""
    p = ProposalRecord
    query = select(p).where(p.tenant_id == tenant_id, p.ledger_id == ledger_id)
    if status is not None:
        query = query.where(p.status == status)
    if bank_account_id is not None:
        query = query.where(p.bank_account_id == bank_account_id)
    if source is not None:
        query = query.where(p.source == source)
    if max_confidence is not None:
        query = query.where(p.confidence <= max_confidence)
    if date_from is not None:
        query = query.where(p.booking_date >= date_from)
    if date_to is not None:
        query = query.where(p.booking_date <= date_to)
    if after is not None:
        query = query.where((p.impact < after[0]) | ((p.impact == after[0]) & (p.id > after[1])))
    return (await session.scalars(query.order_by(p.impact.desc(), p.id).limit(limit))).all()


async def proposal_out(session: AsyncSession, record: ProposalRecord) -> ProposalOut:
    line = await session.get(BankTransactionRecord, record.bank_transaction_id)
    return ProposalOut(
        id=record.id,
        ledger_id=record.ledger_id,
        bank_account_id=record.bank_account_id,
        bank_transaction_id=record.bank_transaction_id,
        booking_date=record.booking_date,
        amount=format_amount(record.amount, currency_scale(record.currency)),
        currency=record.currency,
        description=line.description if line is not None else "",
        counterparty_name=line.counterparty_name if line is not None else None,
        status=record.status,  # type: ignore[arg-type]
        top=[Candidate(account=c, probability=p) for c, p in record.top],
        confidence=record.confidence,
        source=record.source,  # type: ignore[arg-type]
        explanation=record.explanation,
        model_version=record.model_version,
        account=record.account_code,
        entry_id=record.entry_id,
        reviewed_by=record.reviewed_by,
        reviewed_at=record.reviewed_at,
        created_at=record.created_at,
    )


# --- rules and settings -------------------------------------------------------------------


async def create_rule(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, body: RuleIn, actor: str
) -> CategorizationRule:
    bank_gl = None
    # Amounts are minor units of the lines the rule can match: the bank account's currency
    # when the rule names one, else the ledger's base currency.
    currency = (await get_ledger(session, tenant_id, ledger_id)).base_currency
    if body.bank_account_id is not None:
        bank = await session.get(BankAccount, body.bank_account_id)
        if bank is None or bank.tenant_id != tenant_id or bank.ledger_id != ledger_id:
            raise InvalidRule(f"bank account {body.bank_account_id} is not in this ledger")
        bank_gl, currency = bank.gl_account_id, bank.currency
    await _check_account(session, ledger_id, body.account, bank_gl)
    conditions: dict[str, Any] = {
        k: v
        for k, v in {
            "description_contains": body.description_contains,
            "description_regex": body.description_regex,
            "counterparty_contains": body.counterparty_contains,
            "counterparty_regex": body.counterparty_regex,
            "direction": body.direction,
            "bank_account_id": None if body.bank_account_id is None else str(body.bank_account_id),
        }.items()
        if v is not None
    }
    if body.min_amount is not None or body.max_amount is not None:
        scale = (await resolve(session, tenant_id, currency)).scale
        for name, value in (("min_amount", body.min_amount), ("max_amount", body.max_amount)):
            if value is not None:
                conditions[name] = parse_amount(value, scale, field=name)
    now = utcnow()
    record = CategorizationRule(
        tenant_id=tenant_id,
        ledger_id=ledger_id,
        priority=body.priority,
        conditions=conditions,
        account_code=body.account,
        counterparty=body.counterparty,
        tags=list(body.tags),
        active=True,
        created_by=actor,
        updated_at=now,
    )
    try:
        rule_of(record)
    except ValueError as exc:
        raise InvalidRule(str(exc)) from None
    session.add(record)
    await session.flush()
    return record


async def list_rules(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID
) -> Sequence[CategorizationRule]:
    r = CategorizationRule
    return (
        await session.scalars(
            select(r)
            .where(r.tenant_id == tenant_id, r.ledger_id == ledger_id, r.active.is_(True))
            .order_by(r.priority, r.id)
        )
    ).all()


async def deactivate_rule(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, rule_id: uuid.UUID
) -> CategorizationRule:
    record = await session.get(CategorizationRule, rule_id)
    if record is None or record.tenant_id != tenant_id or record.ledger_id != ledger_id:
        raise RuleNotFound(f"rule {rule_id} not found")
    record.active, record.updated_at = False, utcnow()
    return record


def rule_out(record: CategorizationRule) -> RuleOut:
    return RuleOut(
        id=record.id,
        ledger_id=record.ledger_id,
        priority=record.priority,
        account=record.account_code,
        conditions=record.conditions,
        counterparty=record.counterparty,
        tags=record.tags,
        active=record.active,
        created_by=record.created_by,
        created_at=record.created_at,
    )


async def get_settings(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID
) -> SettingsIn:
    row = await session.scalar(
        select(CategorizationSettings).where(
            CategorizationSettings.tenant_id == tenant_id,
            CategorizationSettings.ledger_id == ledger_id,
        )
    )
    if row is None:
        return DEFAULTS
    return SettingsIn(
        auto_book=row.auto_book,
        target_precision=row.target_precision,
        min_feedback=row.min_feedback,
        retrain_after=row.retrain_after,
    )


async def put_settings(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, body: SettingsIn
) -> SettingsIn:
    row = await session.scalar(
        select(CategorizationSettings)
        .where(CategorizationSettings.ledger_id == ledger_id)
        .with_for_update()
    )
    now = utcnow()
    if row is None:
        row = CategorizationSettings(tenant_id=tenant_id, ledger_id=ledger_id)
        session.add(row)
    row.auto_book, row.target_precision = body.auto_book, body.target_precision
    row.min_feedback, row.retrain_after, row.updated_at = body.min_feedback, body.retrain_after, now
    await session.flush()
    return body


# --- learning -----------------------------------------------------------------------------


async def retrain_ledger(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, *, force: bool = False
) -> ModelVersionRecord | None:
    """Train a challenger when ``retrain_after`` labels arrived since the champion was
    trained (or ``force``); promote it when it beats the champion on the most recent
    labels. Every trained version is kept, promoted or not, with its metrics."""
    settings = await get_settings(session, tenant_id, ledger_id)
    versions = (
        await session.scalars(
            select(ModelVersionRecord)
            .where(ModelVersionRecord.ledger_id == ledger_id)
            .order_by(ModelVersionRecord.version)
        )
    ).all()
    last = versions[-1] if versions else None
    # Counted in the database first: the housekeeping loop asks every round, and most
    # rounds have too few new labels to load them all.
    fresh_query = select(func.count()).where(LabelRecord.ledger_id == ledger_id)
    if last is not None and last.last_label_id is not None:
        fresh_query = fresh_query.where(LabelRecord.id > last.last_label_id)
    fresh = int(await session.scalar(fresh_query) or 0)
    if not force and fresh < settings.retrain_after:
        return None
    labels = await _labels(session, ledger_id)
    if not labels:
        return None
    champion_row = next((v for v in versions if v.status == "champion"), None)
    champion = None
    if champion_row is not None:
        champion = Champion(
            model=LinearModel.from_bytes(champion_row.artifact),
            calibrator=(
                Calibrator.from_dict(champion_row.calibrator) if champion_row.calibrator else None
            ),
            thresholds=Thresholds.from_dict(champion_row.thresholds),
        )
    feedback = [feedback_of(label) for label in labels]
    outcome = await asyncio.to_thread(
        retrain,
        feedback,
        champion=champion,
        now=utcnow(),
        target_precision=settings.target_precision,
        min_feedback=settings.min_feedback,
        prior_default=prior_default_threshold(),
    )
    if outcome.model is None:
        log.info("categorize.retrain.kept", ledger_id=str(ledger_id), reason=outcome.reason)
        if champion_row is not None and champion is not None:
            # The champion stays, its operating point follows the feedback: memory and prior
            # thresholds are chosen anew; the model's stays the one chosen on its holdout.
            recalibrated = choose_thresholds(
                feedback,
                target_precision=settings.target_precision,
                min_feedback=settings.min_feedback,
                prior_default=prior_default_threshold(),
            )
            champion_row.thresholds = Thresholds(
                recalibrated.memory, champion.thresholds.model, recalibrated.prior
            ).to_dict()
            await session.flush()
        return None
    artifact = outcome.model.to_bytes()
    now = utcnow()
    record = ModelVersionRecord(
        tenant_id=tenant_id,
        ledger_id=ledger_id,
        version=(last.version + 1) if last is not None else 1,
        status="champion" if outcome.promote else "challenger",
        artifact=artifact,
        artifact_sha256=outcome.model.content_hash,
        calibrator=None if outcome.calibrator is None else outcome.calibrator.to_dict(),
        thresholds=(outcome.thresholds or Thresholds()).to_dict(),
        metrics=outcome.metrics,
        labels=len(labels),
        last_label_id=labels[-1].id,
        window_start=outcome.trained_from,
        window_end=outcome.trained_to,
        training_seconds=outcome.training_seconds,
        decision=outcome.reason,
        promoted_by="worker" if outcome.promote else None,
        promoted_at=now if outcome.promote else None,
    )
    if outcome.promote and champion_row is not None:
        champion_row.status = "retired"
        await session.flush()
    session.add(record)
    await session.flush()
    return record


async def list_models(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID
) -> Sequence[ModelVersionRecord]:
    m = ModelVersionRecord
    return (
        await session.scalars(
            select(m).where(m.tenant_id == tenant_id, m.ledger_id == ledger_id).order_by(m.version)
        )
    ).all()


async def promote(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    model_id: uuid.UUID,
    actor: str,
) -> ModelVersionRecord:
    """Make a version the champion (a rollback when it is an older one)."""
    target = await session.get(ModelVersionRecord, model_id)
    if target is None or target.tenant_id != tenant_id or target.ledger_id != ledger_id:
        raise ModelNotFound(f"model version {model_id} not found")
    if target.status == "champion":
        return target
    for row in await list_models(session, tenant_id, ledger_id):
        if row.status == "champion":
            row.status = "retired"
    await session.flush()
    target.status, target.promoted_by, target.promoted_at = "champion", actor, utcnow()
    await session.flush()
    return target


# --- numbers ------------------------------------------------------------------------------


async def stats(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID | None
) -> StatsOut:
    """Automation and its precision (an auto-booked line later corrected counts against
    it), the queue, the labels and the champion, per model version; of one ledger, or of
    all the tenant's (``ledger_id`` None: no champion is named then)."""
    p = ProposalRecord
    where: tuple[Any, ...] = (p.tenant_id == tenant_id,)
    if ledger_id is not None:
        where = (*where, p.ledger_id == ledger_id)
    rows = (
        await session.execute(
            select(
                p.model_version,
                func.count(),
                func.sum(case((p.auto_booked.is_(True), 1), else_=0)),
                func.sum(case((p.auto_booked.is_(True) & (p.status == "corrected"), 1), else_=0)),
            )
            .where(*where)
            .group_by(p.model_version)
            .order_by(p.model_version)
        )
    ).all()
    by_version = [
        VersionStats(
            model_version=version,
            proposals=count,
            auto_booked=int(booked or 0),
            auto_corrected=int(corrected or 0),
        )
        for version, count, booked, corrected in rows
    ]
    total = sum(v.proposals for v in by_version)
    booked = sum(v.auto_booked for v in by_version)
    corrected = sum(v.auto_corrected for v in by_version)
    queued, oldest = (
        await session.execute(
            select(func.count(), func.min(p.created_at)).where(*where, p.status == "queued")
        )
    ).one()
    label_query = select(func.count()).select_from(LabelRecord)
    label_query = label_query.where(LabelRecord.tenant_id == tenant_id)
    if ledger_id is not None:
        label_query = label_query.where(LabelRecord.ledger_id == ledger_id)
    labels = await session.scalar(label_query)
    champion = None
    if ledger_id is not None:
        champion = await session.scalar(
            select(ModelVersionRecord.version).where(
                ModelVersionRecord.tenant_id == tenant_id,
                ModelVersionRecord.ledger_id == ledger_id,
                ModelVersionRecord.status == "champion",
            )
        )
    return StatsOut(
        ledger_id=ledger_id,
        proposals=total,
        auto_booked=booked,
        automation_rate=None if not total else booked / total,
        auto_precision=None if not booked else (booked - corrected) / booked,
        queued=int(queued),
        oldest_queued_at=oldest,
        labels=int(labels or 0),
        champion_version=champion,
        by_model_version=by_version,
    )
