"""From a journal to what a ledger must hold: assets, accounts, entries in minor units.

Pure: no database. The importer writes exactly what the plan says, so every check here —
scales, account types, balance per asset, balance assertions — is a check on the books as
they will be.

Conversions. A journal may balance a transaction *by weight*: ``10 VTI {200 USD}`` against
``-2000 USD``. autoledger balances every asset on its own, so each such posting gets a pair
of conversion postings on equity accounts, as ``hledger --infer-equity`` does:
``Equity:Conversion:USD-VTI:VTI  -10 VTI`` and ``Equity:Conversion:USD-VTI:USD  2000 USD``.
Every other account then holds exactly the units the journal gave it; the price and the
cost stay on the entry as metadata (``price_<i>``, ``cost_<i>``: ``"VTI 200.00 USD"``).
A weight with more decimals than its asset (``10.342 VBMPX {109.43 USD}``) is rounded, and
what the rounding leaves over stays on the conversion account of that asset, so the entry
still balances to the minor unit.
"""

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from autoledger.interop.model import (
    Amount,
    Journal,
    JournalTransaction,
    Problem,
    RootNames,
    Severity,
)
from autoledger.kit.money import ASSET_CODE_PATTERN, MAX_SCALE, iso_currency
from autoledger.ledger.types import AccountType

CONVERSION = "Conversion"
#: Metadata key naming the journal account an autoledger account stands for.
JOURNAL_ACCOUNT = "journal_account"
ROLE = "journal_role"

_ASSET_CODE = re.compile(ASSET_CODE_PATTERN)
_CODE_CHARS = re.compile(r"[^A-Za-z0-9.\-_]")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-_]{0,31}")
_MAX_CODE = 32


@dataclass(frozen=True, slots=True)
class PlannedAsset:
    code: str
    scale: int
    name: str


@dataclass(frozen=True, slots=True)
class PlannedAccount:
    name: str  # the journal's full name, "Assets:US:BofA:Checking"
    code: str
    type: AccountType
    parent: str | None
    asset: str | None
    metadata: dict[str, str]
    exists: bool = False


@dataclass(frozen=True, slots=True)
class PlannedPosting:
    account: str
    asset: str
    amount: int  # signed minor units: debit > 0, credit < 0


@dataclass(frozen=True, slots=True)
class PlannedEntry:
    line: int
    date: date
    description: str
    metadata: dict[str, str]
    postings: tuple[PlannedPosting, ...]


@dataclass(slots=True)
class ImportPlan:
    assets: list[PlannedAsset] = field(default_factory=list)
    accounts: list[PlannedAccount] = field(default_factory=list)
    entries: list[PlannedEntry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    scales: dict[str, int] = field(default_factory=dict)
    assertions_checked: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]


class _Planner:
    def __init__(self, journal: Journal, custom: Mapping[str, int]) -> None:
        self.journal = journal
        self.custom = custom
        self.plan = ImportPlan(problems=list(journal.problems))
        # Per transaction (by position): the planned leg of each of its journal postings,
        # and its entry (None when it books nothing or failed).
        self.legs: list[list[PlannedPosting | None]] = []
        self.entry_at: list[PlannedEntry | None] = []

    def error(self, line: int, message: str) -> None:
        self.plan.problems.append(Problem(line, Severity.ERROR, message))

    # assets
    def assets(self) -> None:
        decimals: dict[str, int] = defaultdict(int)
        first_line: dict[str, int] = {}

        def seen(amount: Amount | None, line: int, *, units: bool) -> None:
            if amount is None:
                return
            first_line.setdefault(amount.commodity, line)
            if units:
                decimals[amount.commodity] = max(
                    decimals[amount.commodity], _decimals(amount.number)
                )

        for t in self.journal.transactions:
            for p in t.postings:
                seen(p.amount, p.line, units=True)
                seen(p.weight, p.line, units=False)
                seen(p.assertion, p.line, units=True)
        for b in self.journal.balances:
            seen(b.amount, b.line, units=True)
        for commodity, line in sorted(first_line.items()):
            scale = self.custom.get(commodity)
            iso = iso_currency(commodity)
            if scale is None and iso is not None:
                scale = iso.scale
            if scale is not None:
                self.plan.scales[commodity] = scale
                continue
            if not _ASSET_CODE.fullmatch(commodity):
                self.error(
                    line,
                    f"commodity {commodity!r} cannot be an asset code "
                    f"(upper-case letters, digits, '_', 2-16 characters)",
                )
                continue
            declared = self.journal.commodities.get(commodity)
            scale = declared.scale if declared and declared.scale is not None else None
            scale = max(scale or 0, decimals[commodity])
            if scale > MAX_SCALE:
                self.error(line, f"commodity {commodity} needs {scale} decimals; at most 12")
                continue
            self.plan.scales[commodity] = scale
            self.plan.assets.append(
                PlannedAsset(commodity, scale, (declared.name if declared else "") or commodity)
            )

    def minor(self, amount: Amount, line: int) -> int | None:
        scale = self.plan.scales.get(amount.commodity)
        if scale is None:
            return None  # already reported
        scaled = amount.number.scaleb(scale)
        if scaled != scaled.to_integral_value():
            self.error(
                line,
                f"{amount.number} {amount.commodity} has more decimals than "
                f"{amount.commodity} keeps ({scale})",
            )
            return None
        return int(scaled)

    # entries
    def entries(self) -> None:
        for t in self.journal.transactions:
            aligned: list[PlannedPosting | None] = []
            self.legs.append(aligned)
            entry = self.entry(t, aligned)
            if entry is not None and len(entry.postings) < 2:
                entry = None  # only zero amounts (an assertion-only transaction)
            self.entry_at.append(entry)
            if entry is not None:
                self.plan.entries.append(entry)

    def entry(
        self, t: JournalTransaction, aligned: list[PlannedPosting | None]
    ) -> PlannedEntry | None:
        postings: list[PlannedPosting] = []
        metadata = dict(t.metadata)
        metadata["journal_line"] = str(t.line)
        if t.code:
            metadata["code"] = t.code
        if t.flag == "!":
            metadata["flag"] = "!"
        regular: dict[str, int] = defaultdict(int)
        conversions: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        failed = False
        for i, p in enumerate(t.postings):
            aligned.append(None)
            if p.amount is None or p.weight is None:
                continue
            units = self.minor(p.amount, p.line)
            if units is None:
                failed = True
                continue
            if units:
                leg = PlannedPosting(p.account, p.amount.commodity, units)
                aligned[-1] = leg
                postings.append(leg)
                regular[p.amount.commodity] += units
            unit, weight = p.amount.commodity, p.weight.commodity
            if p.price is not None and p.price.commodity != unit:
                metadata[f"price_{i}"] = f"{unit} {p.price.number} {p.price.commodity}"
            if p.cost is not None and p.cost.commodity != unit:
                metadata[f"cost_{i}"] = f"{unit} {p.cost.number} {p.cost.commodity}"
            if weight != unit:
                pair = "-".join(sorted((unit, weight)))
                conversions[(pair, unit)] -= p.amount.number
                conversions[(pair, weight)] += p.weight.number
        if failed:
            return None
        for asset in sorted({a for _, a in conversions} | set(regular)):
            scale = self.plan.scales.get(asset)
            if scale is None:
                return None
            legs = {pair: n for (pair, a), n in conversions.items() if a == asset}
            rounded = {
                pair: int(n.scaleb(scale).quantize(Decimal(1), ROUND_HALF_EVEN))
                for pair, n in legs.items()
            }
            exact = Decimal(regular[asset]).scaleb(-scale) + sum(legs.values(), Decimal(0))
            residual = -(regular[asset] + sum(rounded.values()))
            if residual and not legs:
                self.error(t.line, f"the transaction does not balance: {asset} is off by {exact}")
                return None
            if not t.balanced_by_source and abs(exact.scaleb(scale)) > Decimal("0.5"):
                self.error(t.line, f"the transaction does not balance: {asset} is off by {exact}")
                return None
            if legs:
                # The rounding remainder stays on the largest conversion of this asset.
                largest = max(rounded, key=lambda pair: (abs(rounded[pair]), pair))
                rounded[largest] += residual
            for pair, amount in sorted(rounded.items()):
                if amount:
                    account = conversion_account(self.journal.roots, pair, asset)
                    postings.append(PlannedPosting(account, asset, amount))
        return PlannedEntry(t.line, t.date, t.description, metadata, tuple(postings))

    # balance assertions
    def assertions(self) -> None:
        """Replay the planned legs in date order (file order within a day). A Beancount
        ``balance`` holds at the start of its day, subaccounts included; a posting's ``=``
        holds right after that posting, for that account alone (``=*``: with subaccounts)."""
        running: dict[tuple[str, str], int] = defaultdict(int)
        checks = iter(sorted(self.journal.balances, key=lambda b: (b.date, b.line)))
        check = next(checks, None)
        order = sorted(
            range(len(self.journal.transactions)), key=lambda i: self.journal.transactions[i].date
        )
        for position in [*order, None]:
            t = self.journal.transactions[position] if position is not None else None
            day = t.date if t is not None else date.max
            while check is not None and check.date <= day:
                self.check(running, check.line, check.account, check.amount, check.tolerance)
                check = next(checks, None)
            if t is None or position is None:
                break
            entry = self.entry_at[position]
            aligned = self.legs[position]
            own = {id(leg) for leg in aligned if leg is not None}
            for p, leg in zip(t.postings, aligned, strict=True):
                if leg is not None and entry is not None:
                    running[(leg.account, leg.asset)] += leg.amount
                if p.assertion is not None:
                    self.check(
                        running,
                        p.line,
                        p.account,
                        p.assertion,
                        Decimal(0),
                        inclusive=p.assertion_inclusive,
                        sole=p.assertion_sole,
                    )
            for leg in entry.postings if entry is not None else ():
                if id(leg) not in own:  # the conversion legs
                    running[(leg.account, leg.asset)] += leg.amount

    def check(
        self,
        running: Mapping[tuple[str, str], int],
        line: int,
        account: str,
        expected: Amount,
        tolerance: Decimal,
        *,
        inclusive: bool = True,
        sole: bool = False,
    ) -> None:
        scale = self.plan.scales.get(expected.commodity)
        if scale is None:
            return
        self.plan.assertions_checked += 1

        def covered(name: str) -> bool:
            return name == account or (inclusive and name.startswith(account + ":"))

        actual = sum(v for (a, s), v in running.items() if s == expected.commodity and covered(a))
        have = Decimal(actual).scaleb(-scale)
        if abs(have - expected.number) > tolerance:
            self.error(
                line,
                f"balance assertion failed: {account} holds {have} {expected.commodity}, "
                f"the journal says {expected.number} {expected.commodity}",
            )
        if sole:
            others = sorted(
                s for (a, s), v in running.items() if v and s != expected.commodity and covered(a)
            )
            if others:
                self.error(
                    line, f"balance assertion failed: {account} also holds {', '.join(others)}"
                )

    # accounts
    def accounts(self, existing: Mapping[str, str], taken: set[str]) -> None:
        used: dict[str, int] = {}
        for name, declared in self.journal.accounts.items():
            used.setdefault(name, declared.line)
        for t in self.journal.transactions:
            for p in t.postings:
                used.setdefault(p.account, p.line)
        for b in self.journal.balances:
            used.setdefault(b.account, b.line)
        for e in self.plan.entries:
            for leg in e.postings:
                used.setdefault(leg.account, e.line)
        names: dict[str, int] = {}
        for name, line in used.items():
            parts = name.split(":")
            for depth in range(1, len(parts) + 1):
                names.setdefault(":".join(parts[:depth]), line)
        taken = set(taken)
        for name in sorted(names, key=lambda n: (n.count(":"), n)):
            type_ = account_type(self.journal.roots, name)
            if type_ is None:
                self.error(
                    names[name],
                    f"account {name}: the top level must be one of "
                    f"{', '.join(_root_names(self.journal.roots))}",
                )
                continue
            parent = name.rpartition(":")[0] or None
            known = self.journal.accounts.get(name)
            metadata = {JOURNAL_ACCOUNT: name}
            asset: str | None = None
            if known is not None:
                metadata |= known.metadata
                if known.opened:
                    metadata["opened"] = known.opened.isoformat()
                if known.closed:
                    metadata["closed"] = known.closed.isoformat()
                if len(known.currencies) == 1 and known.currencies[0] in self.plan.scales:
                    asset = known.currencies[0]
            if name.startswith(f"{self.journal.roots.equity}:{CONVERSION}:"):
                metadata[ROLE] = "conversion"
            if name in existing:
                self.plan.accounts.append(
                    PlannedAccount(name, existing[name], type_, parent, asset, metadata, True)
                )
                continue
            code = account_code(name, taken)
            taken.add(code)
            self.plan.accounts.append(PlannedAccount(name, code, type_, parent, asset, metadata))


def plan_import(
    journal: Journal,
    custom_assets: Mapping[str, int],
    existing_accounts: Mapping[str, str] | None = None,
    taken_codes: Iterable[str] = (),
) -> ImportPlan:
    """What importing ``journal`` writes. ``custom_assets`` are the tenant's assets (code →
    scale); ``existing_accounts`` maps journal names to codes already in the target ledger."""
    planner = _Planner(journal, custom_assets)
    planner.assets()
    planner.entries()
    planner.assertions()
    planner.accounts(existing_accounts or {}, set(taken_codes))
    planner.plan.problems.extend(
        Problem(
            p.line,
            Severity.IGNORED,
            "market prices are not stored (the ledger has no price table yet); "
            "prices and costs on postings are kept on their entries",
            "price",
        )
        for p in journal.prices
    )
    planner.plan.problems.sort(key=lambda p: (p.line, p.severity.value))
    return planner.plan


def conversion_account(roots: RootNames, pair: str, asset: str) -> str:
    return f"{roots.equity}:{CONVERSION}:{pair}:{asset}"


def account_type(roots: RootNames, name: str) -> AccountType | None:
    top = name.split(":", 1)[0]
    table = {
        roots.assets: AccountType.ASSET,
        roots.liabilities: AccountType.LIABILITY,
        roots.equity: AccountType.EQUITY,
        roots.income: AccountType.REVENUE,
        roots.expenses: AccountType.EXPENSE,
    }
    if top in table:
        return table[top]
    # hledger reads its English top-level names in any case, and "revenue(s)" as income.
    lowered = {k.lower(): v for k, v in table.items()} | {
        "revenue": AccountType.REVENUE,
        "revenues": AccountType.REVENUE,
    }
    return lowered.get(top.lower())


def account_code(name: str, taken: set[str]) -> str:
    """A ledger code for a journal account: the name with ``.`` for ``:`` when it fits the
    32 characters of a code, else its start and a digest of the whole name (stable)."""
    code = _CODE_CHARS.sub("_", name.replace(":", "."))
    if _CODE.fullmatch(code) and code not in taken:
        return code
    digest = hashlib.sha256(name.encode()).hexdigest()
    stem = code.lstrip("._-")[: _MAX_CODE - 9] or "A"
    for width in range(8, 65):
        candidate = f"{stem[: _MAX_CODE - 1 - width]}-{digest[:width]}"
        if candidate not in taken:
            return candidate
    raise ValueError(f"no free code for {name}")  # a sha256 prefix clash 56 times over


def _root_names(roots: RootNames) -> list[str]:
    return [roots.assets, roots.liabilities, roots.equity, roots.income, roots.expenses]


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent if value else 0
    return max(0, -exponent) if isinstance(exponent, int) else 0
