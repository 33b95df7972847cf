"""Read models the service returns: plain data, amounts in minor units."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from autoledger.ledger.tables import JournalEntry, Posting


@dataclass(frozen=True, slots=True)
class PostingView:
    index: int
    account_id: uuid.UUID
    asset: str
    direction: str
    amount: int
    posted_amount: int | None


@dataclass(frozen=True, slots=True)
class EntryView:
    id: uuid.UUID
    ledger_id: uuid.UUID
    seq: int
    client_id: str | None
    status: str
    effective_date: date
    recorded_at: datetime
    description: str
    metadata: dict[str, Any]
    source_type: str
    source_id: str | None
    actor: str
    reverses_id: uuid.UUID | None
    expires_at: datetime | None
    resolved_at: datetime | None
    postings: list[PostingView]
    replayed: bool = False
    # The API rendering (``schemas.EntryOut`` as JSON-ready data) when the journal already
    # made it for the entry's event: the response reuses it instead of rendering again.
    rendered: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_rows(
        cls,
        entry: JournalEntry,
        postings: list[Posting],
        *,
        replayed: bool = False,
        status: str | None = None,
        resolved_at: datetime | None = None,
        posted: Sequence[int | None] | None = None,
    ) -> "EntryView":
        """A view of stored rows; ``status``, ``resolved_at`` and ``posted`` (amounts) stand
        in for a transition made earlier in the current transaction."""
        return cls(
            id=entry.id,
            ledger_id=entry.ledger_id,
            seq=entry.seq,
            client_id=entry.client_id,
            status=status or entry.status,
            effective_date=entry.effective_date,
            recorded_at=entry.recorded_at,
            description=entry.description,
            metadata=dict(entry.meta),
            source_type=entry.source_type,
            source_id=entry.source_id,
            actor=entry.actor,
            reverses_id=entry.reverses_id,
            expires_at=entry.expires_at,
            resolved_at=resolved_at or entry.resolved_at,
            postings=[
                PostingView(
                    p.index,
                    p.account_id,
                    p.asset,
                    p.direction,
                    p.amount,
                    p.posted_amount if posted is None else posted[p.index],
                )
                for p in postings
            ],
            replayed=replayed,
        )


@dataclass(frozen=True, slots=True)
class BalanceView:
    asset: str
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    posted: int
    available: int
    version: int


@dataclass(frozen=True, slots=True)
class AccountBalances:
    account_id: uuid.UUID
    normal_side: str
    as_of: date | None
    balances: list[BalanceView]
    rolled_up: list[BalanceView] = field(default_factory=list)
    descendants: int = 0


@dataclass(frozen=True, slots=True)
class StatementLine:
    entry_id: uuid.UUID
    seq: int
    index: int
    effective_date: date
    description: str
    direction: str
    amount: int
    running_balance: int


@dataclass(frozen=True, slots=True)
class Statement:
    account_id: uuid.UUID
    asset: str
    normal_side: str
    opening_balance: int
    lines: list[StatementLine]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ledger_id: uuid.UUID
    ok: bool
    records_checked: int
    head_seq: int
    head_hash: str
    first_broken_seq: int | None = None
    first_broken_entry_id: uuid.UUID | None = None
    reason: str | None = None
