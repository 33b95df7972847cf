"""The bank reconciliation report of one bank account at a statement date. Pure: no I/O
(ADR 0012, decision 7).

The statement says what the bank holds; the ledger's account says what the books hold. Their
difference is explained line by line:

    statement balance - ledger balance
        = unbooked bank lines                 (on the statement, not yet in the books)
        + statement opening balance, unbooked (what a statement says the account held before
                                               its first line, when no posting books it)
        - outstanding book postings           (in the books, not on the statement)
        + unexplained                         (zero when everything is accounted for)

A bank line is **booked** at the date when an entry that books it (a reconciliation's
settlement, the book entry a match paired it with, or the bookkeeping loop's entry) is
effective on or before it. A book posting is **outstanding** when no booked line accounts
for it and it is not one half of an entry and its reversal. The statement balance is the
one a person gives, or else is carried from the nearest balance a statement file stated
(an anchor) over the lines in between.

Amounts are integers in minor units, signed like bank lines (money in > 0); a posting on the
bank's ledger account is signed the same way (a debit is money in).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

LineState = Literal["reconciled", "booked", "suggested", "unmatched"]


@dataclass(frozen=True, slots=True)
class BankLine:
    id: str
    booked: date
    amount: int
    description: str
    counterparty: str | None
    state: LineState
    #: (entry id, effective date) of every entry that books the line now
    bookings: tuple[tuple[str, date], ...] = ()

    def booked_by(self, end: date) -> bool:
        return any(effective <= end for _, effective in self.bookings)


@dataclass(frozen=True, slots=True)
class BookPosting:
    entry_id: str
    index: int
    effective: date
    amount: int  # a debit is positive (money in)
    description: str
    source_type: str
    reverses: str | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Anchor:
    """A balance a statement stated: what the account held after every line booked on or
    before ``day``."""

    day: date
    balance: int
    source: str


@dataclass(frozen=True, slots=True)
class Period:
    """What happened to the lines booked between ``start`` and ``end``."""

    lines: int
    amount: int
    reconciled: int
    booked: int
    suggested: int
    unmatched: int


@dataclass(frozen=True, slots=True)
class Report:
    start: date | None
    end: date
    statement_balance: int | None
    statement_source: str | None
    ledger_balance: int
    difference: int | None
    #: what the account held before its first line: as a statement states it, or as the
    #: balance given implies it
    opening_balance: int | None
    #: the book posting that carries the opening balance into the books, if one does
    opening_booked_by: BookPosting | None
    unbooked_opening: int
    unbooked_lines: tuple[BankLine, ...]
    outstanding: tuple[BookPosting, ...]
    explained: int
    unexplained: int | None
    period: Period

    @property
    def balanced(self) -> bool:
        """The statement and the books agree once every listed difference is counted."""
        return self.unexplained == 0

    @property
    def unbooked_total(self) -> int:
        return sum(line.amount for line in self.unbooked_lines)

    @property
    def outstanding_total(self) -> int:
        return sum(posting.amount for posting in self.outstanding)


def statement_balance(
    anchors: Sequence[Anchor], lines: Sequence[BankLine], end: date
) -> tuple[int, str] | None:
    """The balance at the end of ``end``, carried from the nearest anchor: the latest on or
    before ``end``, else the earliest after it; ``None`` without anchors."""
    if not anchors:
        return None
    before = [a for a in anchors if a.day <= end]
    anchor = max(before, key=lambda a: a.day) if before else min(anchors, key=lambda a: a.day)
    balance = anchor.balance
    for line in lines:
        if anchor.day < line.booked <= end:
            balance += line.amount
        elif end < line.booked <= anchor.day:
            balance -= line.amount
    return balance, anchor.source


def build(
    *,
    end: date,
    start: date | None,
    lines: Sequence[BankLine],
    postings: Sequence[BookPosting],
    anchors: Sequence[Anchor] = (),
    given: int | None = None,
) -> Report:
    """The report at the end of ``end``; ``lines`` and ``postings`` may run past it."""
    lines_to = sorted((line for line in lines if line.booked <= end), key=_line_order)
    book_to = [p for p in postings if p.effective <= end]
    ledger_balance = sum(p.amount for p in book_to)
    live = {entry for line in lines_to for entry, effective in line.bookings if effective <= end}
    entries = {p.entry_id for p in book_to}
    paired = {p.entry_id for p in book_to if p.reverses in entries} | {
        p.reverses for p in book_to if p.reverses in entries
    }
    outstanding = [p for p in book_to if p.entry_id not in live and p.entry_id not in paired]
    unbooked = tuple(line for line in lines_to if not line.booked_by(end))

    if given is not None:
        stated: tuple[int, str] | None = (given, "given")
    else:
        stated = statement_balance(anchors, lines, end)
    # The opening balance is a statement's fact when a statement states a balance (carried
    # back over the lines to before the first); otherwise it is only implied by the balance
    # given, and counts as explained only when a posting books exactly it.
    stated_opening = _opening(anchors, lines)
    opening = stated_opening
    if opening is None and stated is not None:
        opening = stated[0] - sum(line.amount for line in lines_to)
    opening_posting = None if opening is None else _opening_posting(opening, outstanding, lines_to)
    if opening_posting is not None:
        outstanding.remove(opening_posting)
    unbooked_opening = stated_opening if stated_opening and opening_posting is None else 0
    outstanding.sort(key=lambda p: (p.effective, p.entry_id, p.index))
    explained = (
        sum(line.amount for line in unbooked)
        + unbooked_opening
        - sum(p.amount for p in outstanding)
    )
    difference = None if stated is None else stated[0] - ledger_balance
    return Report(
        start=start,
        end=end,
        statement_balance=None if stated is None else stated[0],
        statement_source=None if stated is None else stated[1],
        ledger_balance=ledger_balance,
        difference=difference,
        opening_balance=opening,
        opening_booked_by=opening_posting,
        unbooked_opening=unbooked_opening,
        unbooked_lines=unbooked,
        outstanding=tuple(outstanding),
        explained=explained,
        unexplained=None if difference is None else difference - explained,
        period=_period(lines_to, start, end),
    )


def _opening(anchors: Sequence[Anchor], lines: Sequence[BankLine]) -> int | None:
    """What the account held before its first line, by the earliest stated balance."""
    if not anchors:
        return None
    first = min(anchors, key=lambda a: a.day)
    return first.balance - sum(line.amount for line in lines if line.booked <= first.day)


def _line_order(line: BankLine) -> tuple[date, str]:
    return line.booked, line.id


def _opening_posting(
    opening: int, outstanding: Sequence[BookPosting], lines: Sequence[BankLine]
) -> BookPosting | None:
    """The outstanding posting that books the opening balance: of exactly its amount,
    effective no later than the first line (the earliest such)."""
    if opening == 0:
        return None
    first = lines[0].booked if lines else None
    found = [
        p for p in outstanding if p.amount == opening and (first is None or p.effective <= first)
    ]
    return min(found, key=lambda p: (p.effective, p.entry_id, p.index)) if found else None


def _period(lines: Sequence[BankLine], start: date | None, end: date) -> Period:
    inside = [line for line in lines if start is None or line.booked >= start]
    booked = [line for line in inside if line.booked_by(end)]
    return Period(
        lines=len(inside),
        amount=sum(line.amount for line in inside),
        reconciled=sum(1 for line in booked if line.state == "reconciled"),
        booked=sum(1 for line in booked if line.state != "reconciled"),
        suggested=sum(
            1 for line in inside if not line.booked_by(end) and line.state == "suggested"
        ),
        unmatched=sum(
            1 for line in inside if not line.booked_by(end) and line.state != "suggested"
        ),
    )
