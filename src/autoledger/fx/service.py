"""Exchange rates kept per tenant, looked up exactly, and the period-end revaluation
(ADR 0017). Services never commit; the request owns the transaction."""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import and_, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.fx import ecb
from autoledger.fx.rates import MAX_AGE_DAYS, Quote, Rate, RateTable
from autoledger.fx.revaluation import Position, Revaluation, revalue
from autoledger.fx.tables import FxRate
from autoledger.kit.clock import utcnow
from autoledger.kit.errors import InvalidRequest
from autoledger.kit.money import format_amount
from autoledger.ledger import journal
from autoledger.ledger import service as ledger_service
from autoledger.ledger.commands import CreateEntry, PostingInput, ReverseEntry
from autoledger.ledger.errors import AccountNotFound
from autoledger.ledger.repository import LedgerRepository
from autoledger.ledger.tables import Account
from autoledger.ledger.types import Direction

CHUNK = 2_000


class NotATradingAccount(InvalidRequest):
    code = "fx.not_a_trading_account"
    title = "Not a currency trading account"


REVALUATION_SOURCE = "system"


@dataclass(frozen=True, slots=True)
class Written:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: "Written") -> "Written":
        return Written(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


# --- rates --------------------------------------------------------------------------------


async def put_rates(
    session: AsyncSession, tenant_id: uuid.UUID, rates: Sequence[Rate], source: str
) -> Written:
    """Store ``rates``; a rate already kept for the pair and day is replaced when it differs.
    The last of duplicates in ``rates`` wins."""
    latest = {(r.base, r.quote, r.day): r for r in rates}
    ordered = list(latest.values())
    total = Written()
    now = utcnow()
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        keys = [(r.base, r.quote, r.day) for r in chunk]
        existing = {
            (row.base, row.quote, row.day): row
            for row in (
                await session.scalars(
                    select(FxRate).where(
                        FxRate.tenant_id == tenant_id,
                        tuple_(FxRate.base, FxRate.quote, FxRate.day).in_(keys),
                    )
                )
            ).all()
        }
        inserted = updated = unchanged = 0
        for rate in chunk:
            row = existing.get((rate.base, rate.quote, rate.day))
            if row is None:
                session.add(
                    FxRate(
                        tenant_id=tenant_id,
                        base=rate.base,
                        quote=rate.quote,
                        day=rate.day,
                        rate=str(rate.rate),
                        source=source,
                        created_at=now,
                        updated_at=now,
                    )
                )
                inserted += 1
            elif Decimal(row.rate) != rate.rate:
                row.rate, row.source, row.updated_at = str(rate.rate), source, now
                updated += 1
            else:
                unchanged += 1
        await session.flush()
        total += Written(inserted, updated, unchanged)
    return total


async def import_ecb(
    session: AsyncSession, tenant_id: uuid.UUID, content: bytes, source: str
) -> tuple[ecb.EcbFile, Written]:
    """An ECB reference-rate CSV, all or nothing: a file with a bad cell stores no rate
    (the caller reports its problems)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ecb.EcbFileError(f"the file is not UTF-8 text: {exc.reason}") from exc
    parsed = ecb.parse(text)
    if parsed.problems:
        return parsed, Written()
    if not parsed.rates:
        raise ecb.EcbFileError("the file holds no rates")
    return parsed, await put_rates(session, tenant_id, parsed.rates, source)


async def list_rates(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    base: str | None,
    quote: str | None,
    start: date | None,
    end: date | None,
    after: tuple[date, str, str] | None,
    limit: int,
) -> list[FxRate]:
    """A page of rates, newest day first."""
    query = select(FxRate).where(FxRate.tenant_id == tenant_id)
    if base is not None:
        query = query.where(FxRate.base == base)
    if quote is not None:
        query = query.where(FxRate.quote == quote)
    if start is not None:
        query = query.where(FxRate.day >= start)
    if end is not None:
        query = query.where(FxRate.day <= end)
    if after is not None:
        day, after_base, after_quote = after
        query = query.where(
            or_(
                FxRate.day < day,
                and_(
                    FxRate.day == day, tuple_(FxRate.base, FxRate.quote) > (after_base, after_quote)
                ),
            )
        )
    query = query.order_by(FxRate.day.desc(), FxRate.base, FxRate.quote).limit(limit)
    return list((await session.scalars(query)).all())


async def rate_table(
    session: AsyncSession, tenant_id: uuid.UUID, currencies: Iterable[str], start: date, end: date
) -> RateTable:
    """The tenant's rates that involve ``currencies`` (or a pivot of theirs), published from
    ``start`` (less the staleness a closing rate may have) to ``end``."""
    wanted = set(currencies)
    since = start - timedelta(days=min(MAX_AGE_DAYS, (start - date.min).days))
    rows = (
        await session.execute(
            select(FxRate.base, FxRate.quote, FxRate.day, FxRate.rate).where(
                FxRate.tenant_id == tenant_id,
                FxRate.day >= since,
                FxRate.day <= end,
                or_(FxRate.base.in_(wanted), FxRate.quote.in_(wanted)),
            )
        )
    ).all()
    return RateTable(Rate(b, q, d, Decimal(r)) for b, q, d, r in rows)


async def quote(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    base: str,
    quote_currency: str,
    day: date,
    *,
    start: date | None = None,
) -> Quote:
    """The closing rate on ``day``, or with ``start`` the average from ``start`` to ``day``."""
    table = await rate_table(session, tenant_id, {base, quote_currency}, start or day, day)
    if start is None:
        return table.closing(base, quote_currency, day)
    return table.average(base, quote_currency, start, day)


# --- revaluation --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RevaluationResult:
    ledger_id: uuid.UUID
    as_of: date
    base: str
    base_scale: int
    per_account: dict[uuid.UUID, Revaluation]
    entry_id: uuid.UUID | None
    reversal_entry_id: uuid.UUID | None

    @property
    def value(self) -> int:
        return sum(r.value for r in self.per_account.values())


async def revalue_ledger(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    *,
    as_of: date,
    trading_accounts: Sequence[str],
    gain_loss_account: str,
    actor: str,
) -> RevaluationResult:
    """Value the trading accounts at ``as_of``'s closing rates; book the value into profit
    and loss effective ``as_of`` and reverse it effective the next day. Asking again for the
    same day returns the same entries (their client ids are the day's)."""
    ledger = await ledger_service.get_ledger(session, tenant_id, ledger_id)
    repo = LedgerRepository(session)
    accounts = [await _account(repo, tenant_id, ledger_id, ref) for ref in trading_accounts]
    for account in accounts:
        if account.asset is not None:
            raise NotATradingAccount(
                f"account {account.code} holds only {account.asset}: a currency trading account"
                " is multi-asset (it holds each currency's side of every exchange)"
            )
    gain_loss = await _account(repo, tenant_id, ledger_id, gain_loss_account)
    base = ledger.base_currency
    scales = await ledger_service.asset_scales(session, tenant_id)
    base_scale = scales.get(base, (await ledger_service.resolve(session, tenant_id, base)).scale)
    tag = f"fx-revaluation:{as_of.isoformat()}"
    done = {
        e.client_id: e
        for e in await repo.entries_by_client_ids(
            [(ledger_id, tag), (ledger_id, f"{tag}:reversal")]
        )
    }
    balances: dict[uuid.UUID, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    totals = await repo.posted_totals_as_of(tenant_id, [a.id for a in accounts], as_of)
    for account_id, asset, direction, total in totals:
        balances[account_id][asset] += total if direction == Direction.DEBIT else -total
    if tag in done:  # asked again: value what the books held before it, return it as it is
        for posting in (await repo.postings([done[tag].id]))[done[tag].id]:
            amount = posting.posted_amount or 0
            sign = -1 if posting.direction == Direction.DEBIT else 1
            balances[posting.account_id][posting.asset] += sign * amount
    currencies = {asset for held in balances.values() for asset in held} | {base}
    table = await rate_table(session, tenant_id, currencies, as_of, as_of)
    per_account: dict[uuid.UUID, Revaluation] = {}
    for account in accounts:
        held = {asset: amount for asset, amount in balances[account.id].items() if amount}
        positions = {}
        for asset, amount in held.items():
            scale = scales.get(asset)
            if scale is None:
                scale = (await ledger_service.resolve(session, tenant_id, asset)).scale
            positions[asset] = Position(asset, amount, scale)
        per_account[account.id] = revalue(
            positions, base=base, base_scale=base_scale, as_of=as_of, rates=table
        )
    if tag in done:
        reversal = done.get(f"{tag}:reversal")
        return RevaluationResult(
            ledger_id,
            as_of,
            base,
            base_scale,
            per_account,
            done[tag].id,
            None if reversal is None else reversal.id,
        )
    legs = _legs(per_account, gain_loss.id, base, base_scale)
    if not legs:
        return RevaluationResult(ledger_id, as_of, base, base_scale, per_account, None, None)
    created = await _execute(
        session,
        CreateEntry(
            tenant_id=tenant_id,
            ledger_id=ledger_id,
            postings=legs,
            actor=actor,
            effective_date=as_of,
            description=f"Unrealized FX revaluation at {as_of.isoformat()}",
            metadata={"fx_revaluation": as_of.isoformat()},
            source_type=REVALUATION_SOURCE,
            source_id=tag,
            client_id=tag,
        ),
    )
    reversed_ = await _execute(
        session,
        ReverseEntry(
            tenant_id=tenant_id,
            entry_id=created,
            actor=actor,
            effective_date=as_of + timedelta(days=1),
            description=f"Reversal of the unrealized FX revaluation at {as_of.isoformat()}",
            client_id=f"{tag}:reversal",
        ),
    )
    return RevaluationResult(ledger_id, as_of, base, base_scale, per_account, created, reversed_)


def _legs(
    per_account: dict[uuid.UUID, Revaluation],
    gain_loss: uuid.UUID,
    base: str,
    scale: int,
) -> tuple[PostingInput, ...]:
    """Each trading account is credited its value (debited, when it is negative) and the
    gain/loss account takes the sum the other way."""
    legs = []
    for account_id, revaluation in per_account.items():
        value = revaluation.value
        if value:
            side = Direction.CREDIT if value > 0 else Direction.DEBIT
            legs.append(PostingInput(account_id, side, format_amount(abs(value), scale), base))
    total = sum(r.value for r in per_account.values())
    if total:
        side = Direction.DEBIT if total > 0 else Direction.CREDIT
        legs.append(PostingInput(gain_loss, side, format_amount(abs(total), scale), base))
    return tuple(legs) if total or len(legs) > 1 else ()


async def _account(
    repo: LedgerRepository, tenant_id: uuid.UUID, ledger_id: uuid.UUID, ref: str
) -> Account:
    account = await repo.account_by_ref(tenant_id, ledger_id, ref)
    if account is None:
        raise AccountNotFound(f"the ledger has no account {ref!r}")
    return account


async def _execute(session: AsyncSession, command: CreateEntry | ReverseEntry) -> uuid.UUID:
    return (await journal.execute_one(session, command)).id
