"""Financial statements from balances: pure functions over plain data, no I/O.

Inputs are *nets* — per account, Σ posted debits - Σ posted credits (debit-positive, minor
units of one asset) — either at a date (a balance) or within a period (a movement), one per
column. Outputs are :class:`Report` structures whose amounts are presented on each section's
normal side: assets and expenses debit-positive, liabilities, equity and revenue
credit-positive, so a contra account (accumulated depreciation) shows as a negative line.

Invariants (tested as properties):
- the trial balance's debit and credit columns are equal;
- balance sheet: assets = liabilities + equity + unclosed prior years' earnings +
  current-year earnings, in every column;
- cash flow: the sections add up to the change in the cash accounts, by either method.
"""

import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from autoledger.ledger.types import AccountType

Net = Mapping[uuid.UUID, int]
TRANSLATION_ADJUSTMENT = "Cumulative translation adjustment"
FX_EFFECT_ON_CASH = "Effect of exchange rate changes on cash"
ACTIVITIES = ("operating", "investing", "financing")
ACTIVITY_KEY = "cash_flow_activity"


@dataclass(frozen=True, slots=True)
class AccountInfo:
    id: uuid.UUID
    code: str
    name: str
    type: AccountType
    parent_id: uuid.UUID | None
    activity: str | None = None
    """Cash-flow activity the account's metadata names (``cash_flow_activity``), if any."""


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    start: date | None
    end: date


@dataclass(slots=True)
class Line:
    kind: str  # account | item | total
    label: str
    amounts: list[int]
    account_id: uuid.UUID | None = None
    code: str | None = None
    depth: int = 0


@dataclass(slots=True)
class Section:
    key: str
    title: str
    lines: list[Line]
    total: list[int]


@dataclass(slots=True)
class Report:
    kind: str
    title: str
    columns: list[Column]
    sections: list[Section]
    totals: list[Line] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)


class Chart:
    """The account hierarchy. A parent of another type does not roll its child up (the
    child starts a tree of its own in its own section)."""

    def __init__(self, accounts: Iterable[AccountInfo]) -> None:
        self.accounts = {a.id: a for a in accounts}
        self.parent: dict[uuid.UUID, uuid.UUID | None] = {}
        self.children: dict[uuid.UUID | None, list[uuid.UUID]] = defaultdict(list)
        for a in sorted(self.accounts.values(), key=lambda a: a.code):
            parent = self.accounts.get(a.parent_id) if a.parent_id else None
            effective = parent.id if parent is not None and parent.type == a.type else None
            self.parent[a.id] = effective
            self.children[effective].append(a.id)
        self.level: dict[uuid.UUID, int] = {}
        for account_id in self.accounts:
            self._level(account_id)

    def _level(self, account_id: uuid.UUID) -> int:
        chain = []
        current: uuid.UUID | None = account_id
        while current is not None and current not in self.level:
            chain.append(current)
            current = self.parent[current]
        base = 0 if current is None else self.level[current]
        for i, a in enumerate(reversed(chain), 1):
            self.level[a] = base + i
        return self.level[account_id]

    def roots(self, type_: AccountType) -> list[uuid.UUID]:
        return [a for a in self.children[None] if self.accounts[a].type == type_]

    def of_type(self, *types: AccountType) -> list[uuid.UUID]:
        return [a.id for a in self.accounts.values() if a.type in types]

    def activity(self, account_id: uuid.UUID) -> str:
        """The account's cash-flow activity: its own, else its nearest ancestor's, else
        financing for equity and operating for the rest."""
        current: uuid.UUID | None = account_id
        while current is not None:
            named = self.accounts[current].activity
            if named in ACTIVITIES:
                return named
            current = self.parent[current]
        return "financing" if self.accounts[account_id].type == AccountType.EQUITY else "operating"

    def collapse(
        self, account_id: uuid.UUID, depth: int | None, keep: Collection[uuid.UUID] = ()
    ) -> uuid.UUID:
        """The account a line of ``account_id`` shows under when lines stop at ``depth``:
        its ancestor at that level, never climbing into an ancestor in ``keep``."""
        target = account_id
        while depth is not None and self.level[target] > depth:
            parent = self.parent[target]
            if parent is None or parent in keep:
                break
            target = parent
        return target

    def label(self, account_id: uuid.UUID) -> str:
        a = self.accounts[account_id]
        return f"{a.code} {a.name}"

    def tree(
        self,
        roots: Sequence[uuid.UUID],
        own: Mapping[uuid.UUID, list[int]],
        width: int,
        depth: int | None,
    ) -> tuple[list[Line], list[int]]:
        """Lines in chart order, each the roll-up of its subtree, down to ``depth``; a
        subtree that is zero in every column is left out. Returns the lines and the total
        (the sum of the roots)."""
        rolled: dict[uuid.UUID, list[int]] = {}

        def roll(a: uuid.UUID) -> list[int]:
            values = list(own.get(a, [0] * width))
            for child in self.children[a]:
                values = [x + y for x, y in zip(values, roll(child), strict=True)]
            rolled[a] = values
            return values

        total = [0] * width
        for root in roots:
            total = [x + y for x, y in zip(total, roll(root), strict=True)]
        lines: list[Line] = []

        def emit(a: uuid.UUID) -> None:
            if not any(rolled[a]):
                return
            account = self.accounts[a]
            lines.append(
                Line("account", account.name, rolled[a], a, account.code, self.level[a] - 1)
            )
            if depth is None or self.level[a] < depth:
                for child in self.children[a]:
                    emit(child)

        for root in roots:
            emit(root)
        return lines, total


def _sign(type_: AccountType) -> int:
    """+1 where debits increase the account (assets, expenses), -1 otherwise."""
    return 1 if type_ in (AccountType.ASSET, AccountType.EXPENSE) else -1


def _per_account(
    nets: Sequence[Net], accounts: Iterable[uuid.UUID], sign: int
) -> dict[uuid.UUID, list[int]]:
    return {a: [sign * net.get(a, 0) for net in nets] for a in accounts}


def _sum(values: Iterable[list[int]], width: int) -> list[int]:
    total = [0] * width
    for v in values:
        total = [x + y for x, y in zip(total, v, strict=True)]
    return total


def _translation_difference(chart: Chart, net: Net) -> int:
    """Σ debit-positive nets of the chart's accounts: zero by double entry in one asset, the
    conversion's difference in a reporting currency."""
    return sum(value for account_id, value in net.items() if account_id in chart.accounts)


def _typed_section(
    chart: Chart, type_: AccountType, key: str, title: str, nets: Sequence[Net], depth: int | None
) -> Section:
    own = _per_account(nets, chart.of_type(type_), _sign(type_))
    lines, total = chart.tree(chart.roots(type_), own, len(nets), depth)
    return Section(key, title, lines, total)


def trial_balance(
    chart: Chart,
    balances: Sequence[Net],
    columns: Sequence[Column],
    depth: int | None,
    *,
    translated: bool = False,
) -> Report:
    """Debit and credit balance per account at each column's end. Accounts below ``depth``
    are folded into their ancestor at that level, so the columns still add up. A
    ``translated`` trial balance (nets converted from several assets) gets a
    :data:`TRANSLATION_ADJUSTMENT` line taking the difference the conversion made."""
    folded: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0] * len(balances))
    for i, net in enumerate(balances):
        for account_id, value in net.items():
            if account_id in chart.accounts:
                folded[chart.collapse(account_id, depth)][i] += value
    ordered = sorted((a for a, v in folded.items() if any(v)), key=lambda a: chart.accounts[a].code)
    lines = []
    for a in ordered:
        amounts: list[int] = []
        for value in folded[a]:
            amounts.extend((value, 0) if value >= 0 else (0, -value))
        account = chart.accounts[a]
        lines.append(Line("account", account.name, amounts, a, account.code, 0))
    if translated:
        adjustment: list[int] = []
        for net in balances:  # debits exceed credits by Σ nets: the line takes it the other way
            value = _translation_difference(chart, net)
            adjustment.extend((0, value) if value >= 0 else (-value, 0))
        if any(adjustment):
            lines.append(Line("item", TRANSLATION_ADJUSTMENT, adjustment))
    total = _sum((line.amounts for line in lines), 2 * len(balances))
    split = [
        Column(f"{c.key}.{side}", f"{c.label} {side}", c.start, c.end)
        for c in columns
        for side in ("debit", "credit")
    ]
    return Report(
        "trial_balance",
        "Trial balance",
        split,
        [Section("accounts", "Accounts", lines, total)],
        totals=[Line("total", "Total", total)],
        checks={"balanced": all(total[i] == total[i + 1] for i in range(0, len(total), 2))},
    )


def balance_sheet(
    chart: Chart,
    balances: Sequence[Net],
    fiscal_year: Sequence[Net],
    columns: Sequence[Column],
    depth: int | None,
    *,
    translated: bool = False,
) -> Report:
    """Balances at each column's end; ``fiscal_year`` are the movements from the start of
    that end's fiscal year. Revenue and expense accounts are not closed into equity by the
    ledger: the year's movements on them are the current year's earnings, the rest of
    their balances the prior years' (zero once closing entries have moved them to
    retained earnings).

    ``translated``: the nets were converted from several assets, the balance-sheet accounts
    at one rate and the year's earnings at another, so they no longer sum to zero; equity
    gets a :data:`TRANSLATION_ADJUSTMENT` line of that sum, which makes the sheet balance
    (computed here, never booked)."""
    assets = _typed_section(chart, AccountType.ASSET, "assets", "Assets", balances, depth)
    liabilities = _typed_section(
        chart, AccountType.LIABILITY, "liabilities", "Liabilities", balances, depth
    )
    equity = _typed_section(chart, AccountType.EQUITY, "equity", "Equity", balances, depth)
    pl = chart.of_type(AccountType.REVENUE, AccountType.EXPENSE)
    # Earnings are credit-positive: -(Σ debit-positive nets of revenue and expense).
    to_date = [-sum(net.get(a, 0) for a in pl) for net in balances]
    current = [-sum(net.get(a, 0) for a in pl) for net in fiscal_year]
    prior = [t - c for t, c in zip(to_date, current, strict=True)]
    if any(prior):
        equity.lines.append(Line("item", "Prior years' earnings (not closed)", prior))
    equity.lines.append(Line("item", "Current-year earnings", current))
    equity.total = [e + t for e, t in zip(equity.total, to_date, strict=True)]
    if translated:
        # A - L - E - earnings = Σ debit-positive nets of every account (zero in one asset).
        adjustment = [_translation_difference(chart, net) for net in balances]
        equity.lines.append(Line("item", TRANSLATION_ADJUSTMENT, adjustment))
        equity.total = [e + t for e, t in zip(equity.total, adjustment, strict=True)]
    liabilities_and_equity = [x + y for x, y in zip(liabilities.total, equity.total, strict=True)]
    return Report(
        "balance_sheet",
        "Balance sheet",
        list(columns),
        [assets, liabilities, equity],
        totals=[
            Line("total", "Total assets", assets.total),
            Line("total", "Total liabilities and equity", liabilities_and_equity),
        ],
        checks={"balanced": assets.total == liabilities_and_equity},
    )


def income_statement(
    chart: Chart, movements: Sequence[Net], columns: Sequence[Column], depth: int | None
) -> Report:
    revenue = _typed_section(chart, AccountType.REVENUE, "revenue", "Revenue", movements, depth)
    expenses = _typed_section(chart, AccountType.EXPENSE, "expenses", "Expenses", movements, depth)
    net_income = [r - e for r, e in zip(revenue.total, expenses.total, strict=True)]
    return Report(
        "income_statement",
        "Income statement",
        list(columns),
        [revenue, expenses],
        totals=[Line("total", "Net income", net_income)],
    )


def _activity_sections(
    chart: Chart,
    effects: Mapping[tuple[str, uuid.UUID], list[int]],
    width: int,
    first: Mapping[str, list[Line]],
) -> list[Section]:
    sections = []
    for activity in ACTIVITIES:
        lines = list(first.get(activity, []))
        keys = sorted(
            (a for (act, a), v in effects.items() if act == activity and any(v)),
            key=lambda a: chart.accounts[a].code,
        )
        for a in keys:
            account = chart.accounts[a]
            lines.append(Line("account", account.name, effects[(activity, a)], a, account.code))
        sections.append(
            Section(
                activity,
                f"{activity.capitalize()} activities",
                lines,
                _sum((line.amounts for line in lines), width),
            )
        )
    return sections


def _cash_totals(
    sections: Sequence[Section],
    opening: Sequence[int],
    closing: Sequence[int],
    translated: bool,
) -> tuple[list[Line], dict[str, bool]]:
    """The totals, and ``reconciles``: the flows (and, translated, the effect of exchange
    rates: cash at closing rates less the flows at average rates) make the change in cash."""
    width = len(opening)
    net = _sum((s.total for s in sections), width)
    change = [c - o for c, o in zip(closing, opening, strict=True)]
    lines = [Line("total", "Net change in cash", net)]
    explained = net
    if translated:
        effect = [c - n for c, n in zip(change, net, strict=True)]
        lines.append(Line("item", FX_EFFECT_ON_CASH, effect))
        explained = [n + e for n, e in zip(net, effect, strict=True)]
    lines += [
        Line("item", "Cash at beginning of period", list(opening)),
        Line("item", "Cash at end of period", list(closing)),
    ]
    return lines, {"reconciles": explained == change}


def _has_cash_below(chart: Chart, cash: Collection[uuid.UUID]) -> set[uuid.UUID]:
    marked: set[uuid.UUID] = set()
    for a in cash:
        current: uuid.UUID | None = a
        while current is not None and current not in marked:
            marked.add(current)
            current = chart.parent.get(current)
    return marked


def cash_flow_indirect(
    chart: Chart,
    cash: Collection[uuid.UUID],
    movements: Sequence[Net],
    opening: Sequence[int],
    columns: Sequence[Column],
    depth: int | None,
    *,
    closing: Sequence[int] | None = None,
) -> Report:
    """Net income, then every other balance-sheet account's movement with its sign turned
    (an increase of an asset used cash; of a liability or equity brought it in). By double
    entry the sections add up to the movement of the cash accounts.

    ``closing`` (translated reports) is the cash at each column's end at its own rate; the
    difference from opening + flows is the effect of exchange rates on cash, a line of its
    own."""
    width = len(movements)
    pl = chart.of_type(AccountType.REVENUE, AccountType.EXPENSE)
    net_income = [-sum(m.get(a, 0) for a in pl) for m in movements]
    keep = _has_cash_below(chart, cash)
    effects: dict[tuple[str, uuid.UUID], list[int]] = defaultdict(lambda: [0] * width)
    balance_sheet_types = (AccountType.ASSET, AccountType.LIABILITY, AccountType.EQUITY)
    for a in chart.of_type(*balance_sheet_types):
        if a in cash:
            continue
        values = [-m.get(a, 0) for m in movements]
        if any(values):
            key = (chart.activity(a), chart.collapse(a, depth, keep))
            effects[key] = [x + y for x, y in zip(effects[key], values, strict=True)]
    sections = _activity_sections(
        chart, effects, width, {"operating": [Line("item", "Net income", net_income)]}
    )
    translated = closing is not None
    if closing is None:
        cash_change = [sum(m.get(a, 0) for a in cash) for m in movements]
        closing = [o + c for o, c in zip(opening, cash_change, strict=True)]
    totals, checks = _cash_totals(sections, opening, closing, translated)
    return Report(
        "cash_flow", "Cash flow statement (indirect)", list(columns), sections, totals, checks
    )


def cash_flow_direct(
    chart: Chart,
    cash: Collection[uuid.UUID],
    counterparts: Sequence[Net],
    cash_movements: Sequence[int],
    opening: Sequence[int],
    columns: Sequence[Column],
    depth: int | None,
    *,
    closing: Sequence[int] | None = None,
) -> Report:
    """Cash received and paid, by counterpart account: ``counterparts`` are the nets of the
    non-cash postings of the entries that moved cash. An entry balances, so its non-cash
    legs carry exactly its cash movement, turned (a credit to revenue is cash in);
    transfers between cash accounts have no such legs and net to zero. ``closing`` as for
    :func:`cash_flow_indirect`."""
    width = len(counterparts)
    keep = _has_cash_below(chart, cash)
    effects: dict[tuple[str, uuid.UUID], list[int]] = defaultdict(lambda: [0] * width)
    for i, net in enumerate(counterparts):
        for a, value in net.items():
            if a in cash or a not in chart.accounts or not value:
                continue
            effects[(chart.activity(a), chart.collapse(a, depth, keep))][i] -= value
    sections = _activity_sections(chart, effects, width, {})
    translated = closing is not None
    if closing is None:
        closing = [o + c for o, c in zip(opening, cash_movements, strict=True)]
    totals, checks = _cash_totals(sections, opening, closing, translated)
    return Report(
        "cash_flow", "Cash flow statement (direct)", list(columns), sections, totals, checks
    )
