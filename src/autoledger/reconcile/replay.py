"""A Simulator company as the matcher sees it, with the truth to grade it against.

The open items are what the books know before the bank: issued invoices (money in), received
bills (money out), the processor's payouts on the clearing account (money in, referenced by
payout id), and the payroll provider's net pay and tax entries booked on the operating
account by another system (book items of that bank account). A line's truth is the items
it settles, with the amounts, and the write-offs that close them; a line whose truth names
none of these items settles nothing, and any match of it is wrong.
"""

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from autoledger.demo.model import Company, StatementLine
from autoledger.reconcile.engine import Candidate, Item, Line

PAYROLL_PROVIDER = "Gusto"
PROCESSOR = "Stripe"
BOOK_KINDS = ("payroll", "payroll_tax")
ITEM_KINDS = ("invoice", "bill", "payout", *BOOK_KINDS)


@dataclass(frozen=True, slots=True)
class Truth:
    allocations: frozenset[tuple[str, int]]  # (item id, amount), signed like the line
    writeoffs: tuple[tuple[str, int], ...]  # (purpose, amount)
    item_kind: str  # invoice | bill | payout | payroll | payroll_tax
    shape: str  # one_to_one | one_to_many | partial | with_writeoff


@dataclass(frozen=True, slots=True)
class Scenario:
    lines: tuple[Line, ...]  # in booking order
    items: tuple[Item, ...]  # at their full amounts; each visible from its ``issued`` date
    truth: dict[str, Truth]  # line id -> truth, for the lines that settle items

    def weeks(self) -> Iterator[tuple[date, date, list[Line]]]:
        """(first day, last day, lines booked in between), Monday to Sunday."""
        if not self.lines:
            return
        first = self.lines[0].booked - timedelta(days=self.lines[0].booked.weekday())
        pending = list(self.lines)
        while pending:
            last = first + timedelta(days=6)
            week = [line for line in pending if line.booked <= last]
            pending = pending[len(week) :]
            yield first, last, week
            first = last + timedelta(days=1)


def scenario(
    company: Company, *, processor: str = PROCESSOR, payroll_provider: str = PAYROLL_PROVIDER
) -> Scenario:
    """The company's lines, items and truth; ``processor`` and ``payroll_provider`` name the
    parties of the payout and payroll items."""
    names = {c.id: c.name for c in company.counterparties}
    items: list[Item] = []
    for item in company.open_items:
        sign = 1 if item.kind == "invoice" else -1
        items.append(
            Item(
                id=item.id,
                amount=sign * item.amount,
                currency=item.currency,
                issued=item.issue_date,
                due_date=item.due_date,
                reference=item.reference,
                counterparty=names[item.counterparty_id],
            )
        )
    for payout in company.payouts:
        items.append(
            Item(
                id=payout.id,
                amount=payout.amount,
                currency=payout.currency,
                issued=payout.initiated,
                due_date=payout.arrives,
                reference=payout.id,
                counterparty=processor,
            )
        )
    lines: list[Line] = []
    truth: dict[str, Truth] = {}
    statement_lines = {
        line.id: (statement.account.id, statement.account.currency, line)
        for statement in company.statements
        for line in statement.lines
    }
    known = {item.id: item for item in items}
    for line_truth in company.truths:
        account, currency, line = statement_lines[line_truth.line_id]
        lines.append(_line(line, account, currency))
        allocations = []
        writeoffs = []
        kinds = []
        for m in line_truth.matches:
            if m.kind in BOOK_KINDS:
                book = f"{m.kind}:{m.id}"
                items.append(
                    Item(
                        id=book,
                        amount=m.amount,
                        currency=currency,
                        issued=line.booking_date - timedelta(days=2),
                        due_date=line.booking_date,
                        counterparty=payroll_provider,
                        bank_account=account,
                    )
                )
                allocations.append((book, m.amount))
                kinds.append(m.kind)
            elif (
                m.kind in ITEM_KINDS
                and m.id in known
                and (known[m.id].amount > 0) == (m.amount > 0)
            ):
                allocations.append((m.id, m.amount))
                kinds.append(m.kind)
            elif m.kind == "writeoff":
                writeoffs.append((m.id, m.amount))
        if allocations:
            truth[line.id] = Truth(
                frozenset(allocations),
                tuple(writeoffs),
                kinds[0],
                _shape(allocations, writeoffs, known),
            )
    lines.sort(key=lambda line: (line.booked, line.id))
    items.sort(key=lambda item: (item.issued, item.id))
    return Scenario(tuple(lines), tuple(items), truth)


def _line(line: StatementLine, account: str, currency: str) -> Line:
    return Line(
        id=line.id,
        booked=line.booking_date,
        amount=line.amount,
        currency=currency,
        text=line.description,
        counterparty=line.counterparty,
        reference=line.reference,
        bank_account=account,
    )


def _shape(
    allocations: Sequence[tuple[str, int]], writeoffs: Sequence[object], known: dict[str, Item]
) -> str:
    if len(allocations) > 1:
        return "one_to_many"
    item_id, amount = allocations[0]
    item = known.get(item_id)
    if item is not None and abs(amount) < abs(item.amount):
        return "partial"
    return "with_writeoff" if writeoffs else "one_to_one"


def is_correct(candidate: Candidate, truth: Mapping[str, Truth]) -> bool:
    """Whether ``candidate`` settles exactly what each of its lines truly settles (for a
    match of several lines, their truths together)."""
    return settles_exactly(candidate, {line_id: t.allocations for line_id, t in truth.items()})


def settles_exactly(
    candidate: Candidate, allocations: Mapping[str, Collection[tuple[str, int]]]
) -> bool:
    """Whether ``candidate`` allocates, item by item, what ``allocations`` (line id -> the
    (item id, amount) it truly settles) says its lines settle; a line settling nothing
    makes any candidate wrong."""
    expected: dict[str, int] = {}
    for line_id in candidate.lines:
        settled = allocations.get(line_id)
        if not settled:
            return False
        for item_id, amount in settled:
            expected[item_id] = expected.get(item_id, 0) + amount
    got: dict[str, int] = {}
    for allocation in candidate.allocations:
        got[allocation.item_id] = got.get(allocation.item_id, 0) + allocation.amount
    return got == expected


class OpenBooks:
    """The items' open amounts as the weeks go by: a reviewer who fixes every mistake
    leaves the books exactly as the truth settles them."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.open = {item.id: item.amount for item in scenario.items}

    def visible(self, last: date) -> list[Item]:
        """The items known by ``last`` and not fully settled, at their open amounts."""
        return [
            replace(item, amount=self.open[item.id])
            for item in self.scenario.items
            if item.issued <= last and self.open[item.id]
        ]

    def settle(self, lines: Iterable[Line]) -> None:
        for line in lines:
            line_truth = self.scenario.truth.get(line.id)
            if line_truth is not None:
                for item_id, amount in line_truth.allocations:
                    self.open[item_id] -= amount
