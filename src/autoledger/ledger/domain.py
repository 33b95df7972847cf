"""The pure arithmetic of double entry: balancing, holds, constraints. No I/O.

Invariants kept here (and checked again by the property tests):
- every entry balances per asset: Σ debits = Σ credits;
- a balance never violates its account's constraint *counting pending holds*:
  ``debits_must_not_exceed_credits`` ⇒ debits_posted + debits_pending ≤ credits_posted + limit
  (and the mirror), so a hold really holds;
- posting a hold releases exactly what it held and books at most that much.
"""

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from autoledger.kit.errors import FieldError
from autoledger.kit.money import MAX_AMOUNT, format_amount
from autoledger.ledger.errors import Unbalanced
from autoledger.ledger.types import AccountType, Direction


class EntryStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class SourceType(StrEnum):
    API = "api"
    BANK_LINE = "bank_line"
    DOCUMENT = "document"
    PAYROLL_RUN = "payroll_run"
    AGENT_PROPOSAL = "agent_proposal"
    RECONCILIATION = "reconciliation"
    SYSTEM = "system"
    JOURNAL_IMPORT = "journal_import"  # migrated from Beancount or hledger (ADR 0016)


@dataclass(frozen=True, slots=True)
class Leg:
    """One resolved posting: account, asset, side and a positive amount in minor units."""

    account_id: uuid.UUID
    asset: str
    direction: Direction
    amount: int


def check_balanced(legs: Sequence[Leg], scales: dict[str, int], *, field: str = "postings") -> None:
    """Raise :class:`Unbalanced` naming every asset whose debits and credits differ."""
    totals: dict[str, int] = defaultdict(int)
    for leg in legs:
        totals[leg.asset] += leg.amount if leg.direction is Direction.DEBIT else -leg.amount
    off = {asset: diff for asset, diff in totals.items() if diff != 0}
    if off:
        parts = [
            f"{asset} debits exceed credits by {format_amount(abs(d), scales[asset])}"
            if d > 0
            else f"{asset} credits exceed debits by {format_amount(abs(d), scales[asset])}"
            for asset, d in sorted(off.items())
        ]
        raise Unbalanced(
            "; ".join(parts),
            errors=[FieldError(loc=field, message=p) for p in parts],
            extra={"differences": {a: format_amount(d, scales[a]) for a, d in sorted(off.items())}},
        )


@dataclass(slots=True)
class BalanceState:
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0
    version: int = 0

    def copy(self) -> "BalanceState":
        return BalanceState(
            self.debits_posted,
            self.credits_posted,
            self.debits_pending,
            self.credits_pending,
            self.version,
        )

    def hold(self, leg: Leg) -> None:
        if leg.direction is Direction.DEBIT:
            self.debits_pending += leg.amount
        else:
            self.credits_pending += leg.amount
        self.version += 1

    def release(self, leg: Leg) -> None:
        if leg.direction is Direction.DEBIT:
            self.debits_pending -= leg.amount
        else:
            self.credits_pending -= leg.amount
        self.version += 1

    def book(self, direction: Direction, amount: int) -> None:
        if direction is Direction.DEBIT:
            self.debits_posted += amount
        else:
            self.credits_posted += amount
        self.version += 1

    def posted(self, side: Direction) -> int:
        """Posted balance signed so that the account's normal side is positive."""
        net = self.debits_posted - self.credits_posted
        return net if side is Direction.DEBIT else -net

    def available(self, side: Direction) -> int:
        """Posted balance less pending outflows (holds against the normal side)."""
        outflow = self.credits_pending if side is Direction.DEBIT else self.debits_pending
        return self.posted(side) - outflow

    def in_range(self) -> bool:
        return all(
            0 <= v <= MAX_AMOUNT
            for v in (
                self.debits_posted,
                self.credits_posted,
                self.debits_pending,
                self.credits_pending,
            )
        )


@dataclass(frozen=True, slots=True)
class AccountPolicy:
    id: uuid.UUID
    code: str
    type: AccountType
    asset: str | None
    status: str
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    balance_limit: int | None

    def shortfall(self, state: BalanceState) -> int:
        """How far ``state`` breaks this account's constraint (0 when it holds)."""
        limit = self.balance_limit or 0
        if self.debits_must_not_exceed_credits:
            over = state.debits_posted + state.debits_pending - state.credits_posted - limit
            if over > 0:
                return over
        if self.credits_must_not_exceed_debits:
            over = state.credits_posted + state.credits_pending - state.debits_posted - limit
            if over > 0:
                return over
        return 0


def mirror(legs: Iterable[Leg]) -> list[Leg]:
    """The legs of a reversal: same accounts and amounts, sides swapped."""
    flip = {Direction.DEBIT: Direction.CREDIT, Direction.CREDIT: Direction.DEBIT}
    return [Leg(leg.account_id, leg.asset, flip[leg.direction], leg.amount) for leg in legs]
