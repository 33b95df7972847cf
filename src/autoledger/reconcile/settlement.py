"""The entry that settles a match, and the words that explain it. Pure: no I/O.

A settlement entry moves the lines' money between the bank's ledger account and the accounts
of the items it settles, and writes each difference off to its purpose's account. With every
amount signed like a bank line (money in > 0) and a signed posting meaning debit when
positive, the entry is

    bank account:      + sum(lines)
    each item account: - allocation
    each write-off:    - write-off

which balances because ``sum(lines) = sum(allocations) + sum(write-offs)`` (ADR 0012).
"""

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from autoledger.kit.money import format_amount
from autoledger.ledger.types import Direction
from autoledger.reconcile.engine import Candidate, Item, Line
from autoledger.reconcile.scoring import FEATURES

#: the small-business chart's accounts for each write-off purpose (a ledger may change them)
DEFAULT_WRITEOFF_ACCOUNTS = {
    "discount": "4500",
    "rounding": "7200",
    "bank_fee": "6800",
    "fx_difference": "7200",
}


class UnbalancedSettlement(ValueError):
    """A match whose lines do not equal its allocations plus write-offs (never booked)."""


@dataclass(frozen=True, slots=True)
class Leg:
    account: uuid.UUID | str  # id, or code within the ledger
    direction: Direction
    amount: str  # decimal string at the asset's scale
    asset: str


def settlement_legs(
    candidate: Candidate,
    *,
    line_amounts: Mapping[str, int],
    bank_account: uuid.UUID | str,
    item_accounts: Mapping[str, uuid.UUID | str],
    writeoff_accounts: Mapping[str, uuid.UUID | str],
    asset: str,
    scale: int,
) -> list[Leg]:
    """The postings of ``candidate``'s settlement, netted per account, in a stable order."""
    total = sum(line_amounts[line_id] for line_id in candidate.lines)
    allocated = sum(a.amount for a in candidate.allocations)
    written_off = sum(w.amount for w in candidate.writeoffs)
    if total != allocated + written_off:
        raise UnbalancedSettlement(
            f"lines {total} != allocations {allocated} + write-offs {written_off}"
        )
    signed: dict[uuid.UUID | str, int] = defaultdict(int)
    signed[bank_account] += total
    for allocation in candidate.allocations:
        signed[item_accounts[allocation.item_id]] -= allocation.amount
    for writeoff in candidate.writeoffs:
        signed[writeoff_accounts[writeoff.purpose]] -= writeoff.amount
    return [
        Leg(
            account,
            Direction.DEBIT if amount > 0 else Direction.CREDIT,
            format_amount(abs(amount), scale),
            asset,
        )
        for account, amount in signed.items()
        if amount
    ]


def explain(
    candidate: Candidate,
    *,
    lines: Mapping[str, Line],
    items: Mapping[str, Item],
    scale: int,
    strongest: Sequence[tuple[str, float]] = (),
) -> list[str]:
    """What a person reads next to a match: why these items, and what is written off."""
    f = dict(zip(FEATURES, candidate.features, strict=True))

    def money(minor: int) -> str:
        return format_amount(abs(minor), scale)

    matched = [items[a.item_id] for a in candidate.allocations if a.item_id in items]
    out: list[str] = []
    if f["reference"]:
        refs = ", ".join(i.reference or i.id for i in matched)
        out.append(f"the bank line names {refs}")
    if candidate.kind == "one_to_many":
        out.append(f"one payment settles {len(matched)} items of one counterparty")
    elif candidate.kind == "many_to_one":
        out.append(f"{len(candidate.lines)} payments together settle one item")
    elif candidate.kind == "partial":
        for allocation in candidate.allocations:
            item = items.get(allocation.item_id)
            if item is not None:
                rest = item.amount - allocation.amount
                out.append(f"part payment: {money(rest)} of {item.reference or item.id} stays open")
    if f["amount_exact"]:
        out.append("the amount is exactly what is open")
    for writeoff in candidate.writeoffs:
        out.append(f"{money(writeoff.amount)} written off as {writeoff.purpose.replace('_', ' ')}")
    if f["alias"]:
        out.append("the bank's name for the payer is a learned alias of the counterparty")
    elif f["name"]:
        line = lines.get(candidate.lines[0])
        payer = (line.counterparty or line.text) if line is not None else ""
        party = matched[0].counterparty if matched else ""
        out.append(f"payer {payer!r} ~ {party!r} (name similarity {f['name']:.2f})")
    if f["history"]:
        out.append("matches with this counterparty were confirmed before")
    if f["due_distance"]:
        out.append(f"paid about {round(f['due_distance'] * 30)} days from the due date")
    if f["before_issue"]:
        out.append("paid before the item was issued")
    if strongest:
        parts = ", ".join(f"{name} {value:+.2f}" for name, value in strongest)
        out.append(f"strongest signals: {parts}")
    return out
