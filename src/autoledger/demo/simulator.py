"""A deterministic simulation of a small company's money: every bank line with its truth.

Only ``random.Random`` streams seeded from ``seed`` drive it: no global random state, no
clock, no iteration over sets, so the same arguments always give the same company. Amounts are
integer minor units; floats only shape how large a generated amount is before it is rounded to
cents.

Each bank line is recorded once, on the account it hits, together with its true GL account and
the items it settles (its matches sum to its amount). Transfers between own accounts are two
lines, one per account, sharing a match id.

Settlements that do not pay their items exactly (an intermediary bank's fee, an early-payment
discount, an FX slippage, a few cents of rounding) carry a ``writeoff`` match for the
difference. Those cases are drawn from a second stream, seeded from the seed but separate
from the main one, so they take nothing from the main stream; and the treasury plans on
balances before write-offs (see ``_Books.balance``). So every line they do not touch keeps its
id, date, text and amount.
"""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from autoledger.demo.counterparties import VendorHabit, build_customers, build_vendors
from autoledger.demo.descriptors import render, short_name
from autoledger.demo.model import (
    BankAccount,
    Company,
    Counterparty,
    LineTruth,
    Match,
    OpenItem,
    Payout,
    Statement,
    StatementLine,
)
from autoledger.kit.money import iso_currency

CURRENCIES = ("USD", "EUR", "GBP")
#: the foreign-currency account of a company in each base currency, and its rate to base
_FOREIGN = {"USD": ("EUR", 1.08), "EUR": ("USD", 0.92), "GBP": ("EUR", 0.85)}
_TAX_AUTHORITY = {
    "USD": "IRS USATAXPYMT",
    "EUR": "FINANZAMT KOERPERSCHAFTST",
    "GBP": "HMRC CORP TAX",
}
_COMPANY_NAMES = ("Lumen Goods", "Cedar & Copper", "Northwind Supply", "Brightwater Studio")
#: chances of the settlement differences: an intermediary bank's fee on a foreign payment;
#: then, for a payment that settles one invoice in full, an early-payment discount, an FX
#: slippage or rounding (cumulative thresholds of one draw); rounding on a bill payment
_FEE_CHANCE = 0.35
_DISCOUNT_CHANCE, _FX_CHANCE, _ROUNDING_CHANCE = 0.08, 0.10, 0.03
_FEE_UNITS = (10, 25)  # whole currency units
_DISCOUNT_DAYS, _DISCOUNT_PERCENT = 10, 2  # "2/10 net 30"
_FX_SLIPPAGE = 0.004
_ROUNDING_UNITS = (1, 5)  # minor units


@dataclass(slots=True)
class _Line:
    id: str
    day: date
    value_day: date
    amount: int
    description: str
    counterparty: str | None
    reference: str | None
    counterparty_iban: str | None
    gl: str
    matches: tuple[Match, ...]
    #: booked before the day's other lines (a start-of-day funding sweep)
    early: bool = False
    #: the day it was expected, when an early-payment discount brought it forward
    scheduled: date | None = None

    def order(self) -> tuple[date, bool, str]:
        return (self.day, not self.early, self.id)

    @property
    def planned(self) -> int:
        """The amount before any write-off: what the items it settles are due at."""
        return sum(m.amount for m in self.matches if m.kind != "writeoff")

    @property
    def planned_day(self) -> date:
        return self.scheduled or self.day

    def planned_order(self) -> tuple[date, bool, str]:
        return (self.planned_day, not self.early, self.id)


def _iban(rng: random.Random, country: str) -> str:
    """A random IBAN with a correct mod-97 check: DE (22 characters) or GB (22)."""
    if country == "DE":
        bban = "".join(str(rng.randrange(10)) for _ in range(18))
    else:
        bban = "FVLB" + "".join(str(rng.randrange(10)) for _ in range(14))
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def _bank_accounts(rng: random.Random, currency: str) -> tuple[BankAccount, ...]:
    foreign = _FOREIGN[currency][0]
    country = "DE" if currency == "EUR" else "GB"
    bic = {"USD": "FVLBUS33", "EUR": "FVLBDEFFXXX", "GBP": "FVLBGB2L"}[currency]
    home = "european" if currency == "EUR" else "signed"
    return (
        BankAccount(
            "operating",
            "Operating account",
            "First Valley Bank",
            currency,
            _iban(rng, country),
            bic,
            "1110",
            home,
        ),
        BankAccount(
            "savings",
            "Savings account",
            "First Valley Bank",
            currency,
            _iban(rng, country),
            bic,
            "1120",
            "debit_credit",
        ),
        BankAccount(
            f"{foreign.lower()}-account",
            f"{foreign} account",
            "Meridian Trust",
            foreign,
            _iban(rng, "DE" if foreign == "EUR" else "GB"),
            "MRDTDEFF" if foreign == "EUR" else "MRDTUS33",
            "1130",
            "european" if foreign == "EUR" else "signed",
        ),
        BankAccount(
            "card",
            "Business credit card",
            "First Valley Bank",
            currency,
            _iban(rng, country),
            bic,
            "2150",
            "debit_credit",
        ),
        BankAccount(
            "processor",
            "Payment processor balance",
            "Stripe Payments",
            currency,
            _iban(rng, country),
            "STRPUS33",
            "1150",
            "signed",
        ),
    )


def _month_starts(start: date, months: int) -> list[date]:
    first = start.replace(day=1)
    out = []
    for i in range(months + 1):
        y, m = divmod(first.month - 1 + i, 12)
        out.append(date(first.year + y, m + 1, 1))
    return out


def _cents(major: float) -> int:
    return max(1, round(major * 100))


def _minor_digits(currency: str) -> int:
    asset = iso_currency(currency)
    if asset is None:
        raise ValueError(f"unknown currency {currency!r}")
    return asset.scale


def _rounding(draw: random.Random) -> int:
    """A rounding difference: 1 to 5 minor units either way."""
    return draw.choice((-1, 1)) * draw.randint(*_ROUNDING_UNITS)


class _Books:
    """The bank lines being recorded, per account; lines after ``end`` never happen."""

    def __init__(self, accounts: tuple[BankAccount, ...], end: date) -> None:
        self.end = end
        self.lines: dict[str, list[_Line]] = {a.id: [] for a in accounts}
        self.prefix = {a.id: a.id[:3].upper() for a in accounts}
        self.seq = 0

    def add(
        self,
        account: str,
        day: date,
        amount: int,
        description: str,
        gl: str,
        matches: tuple[Match, ...],
        *,
        counterparty: str | None = None,
        reference: str | None = None,
        counterparty_iban: str | None = None,
        value_day: date | None = None,
        early: bool = False,
        scheduled: date | None = None,
    ) -> str | None:
        """Record a line; its id, or None when ``day`` is past the simulated period."""
        if day > self.end:
            return None
        if amount == 0 or sum(m.amount for m in matches) != amount:
            raise AssertionError(f"matches of a {amount} line do not sum to it: {matches}")
        self.seq += 1
        line_id = f"{self.prefix[account]}{self.seq:09d}"
        self.lines[account].append(
            _Line(
                line_id,
                day,
                value_day or day,
                amount,
                description,
                counterparty,
                reference,
                counterparty_iban,
                gl,
                matches,
                early,
                scheduled,
            )
        )
        return line_id

    # The treasurer plans on the cash forecast: what items are due at, on the day they were
    # expected, before the write-offs a settlement brings. So fees, discounts, FX and rounding
    # differences never move a sweep, an FX conversion or interest, and cannot add or drop a
    # line (which would renumber every later one).
    def balance(self, account: str, through: date) -> int:
        return sum(line.planned for line in self.lines[account] if line.planned_day <= through)

    def lowest(self, account: str, first: date, last: date) -> int:
        """The lowest running balance from ``first`` through ``last``, less the opening balance."""
        balance = self.balance(account, first - timedelta(days=1))
        lowest = balance
        month = (x for x in self.lines[account] if first <= x.planned_day <= last)
        for line in sorted(month, key=_Line.planned_order):
            balance += line.planned
            lowest = min(lowest, balance)
        return lowest


def simulate(
    seed: int,
    months: int,
    *,
    currency: str = "USD",
    scale: int = 1,
    start: date = date(2025, 1, 1),
    settlement_differences: bool = True,
    names: Callable[[], str] | None = None,
) -> Company:
    """The company ``seed`` over ``months`` calendar months from ``start``'s month.

    Without ``settlement_differences`` every settlement pays its items exactly (no fees,
    discounts, FX or rounding write-offs); everything else is the same company. ``names``
    gives every vendor and customer its legal name instead of the Simulator's own universe
    of names (a prior built on such a company shares no counterparty with a benchmark's).
    """
    if currency not in CURRENCIES:
        raise ValueError(f"currency must be one of {', '.join(CURRENCIES)}")
    if months < 1 or scale < 1:
        raise ValueError("months and scale must be at least 1")
    rng = random.Random(seed)  # noqa: S311  # nosec B311: simulation, not secrets
    differences = (
        random.Random(f"{seed}-settlement-differences")  # noqa: S311  # nosec B311
        if settlement_differences
        else None
    )
    return _Simulation(rng, differences, seed, months, currency, scale, start, names).run()


class _Simulation:
    def __init__(
        self,
        rng: random.Random,
        differences: random.Random | None,
        seed: int,
        months: int,
        currency: str,
        scale: int,
        start: date,
        names: Callable[[], str] | None = None,
    ) -> None:
        self.rng = rng
        #: the settlement-difference stream; never ``rng``, so it leaves the main one untouched
        self.differences = differences
        self.seed = seed
        self.months = months
        self.currency = currency
        self.scale = scale
        self.month_starts = _month_starts(start, months)
        self.end = self.month_starts[-1] - timedelta(days=1)
        self.accounts = _bank_accounts(rng, currency)
        self.foreign_currency, self.rate = _FOREIGN[currency]
        self.fx_id = self.accounts[2].id
        self.books = _Books(self.accounts, self.end)
        self.vendors = build_vendors(rng, scale, currency, names)
        self.customers = build_customers(rng, scale, currency, self.foreign_currency, names)
        self.items: list[OpenItem] = []
        self.item_fate: dict[str, str] = {}
        self.paid: dict[str, int] = {}
        self.payouts: list[Payout] = []
        self.ids: dict[str, int] = {}
        self.batch: dict[str, list[tuple[str, int]]] = {}
        #: processor lines not yet paid out: (line id, day, amount)
        self.pending_payout: list[tuple[str, date, int]] = []
        self.opening: dict[str, int] = {}
        self.bill_paid: dict[str, int] = {}
        self.owed_to_owners = 0

    def next_id(self, kind: str) -> str:
        self.ids[kind] = self.ids.get(kind, 0) + 1
        return f"{kind}-{self.ids[kind]:06d}"

    # --- the calendar -------------------------------------------------------------------

    def run(self) -> Company:
        self.opening_balances()
        for index, first in enumerate(self.month_starts[:-1]):
            last = self.month_starts[index + 1] - timedelta(days=1)
            factor = (1.02**index) * (1 + 0.2 * math.cos(2 * math.pi * (first.month - 11) / 12))
            self.bills(index, first, last, factor)
            self.card_purchases(index, first, last, factor)
            self.invoices(index, first, last, factor)
            self.processor(first, last, factor)
            self.payroll(first, last, factor)
            self.treasury(first, last)
        return self.company()

    def opening_balances(self) -> None:
        # Opening balances are statement openings, not lines: see company().
        self.opening = {
            "operating": 80_000_00 * self.scale,
            "savings": 150_000_00 * self.scale,
            self.fx_id: 20_000_00 * self.scale,
            "card": 0,
            "processor": 0,
        }

    def day_in(self, first: date, last: date, day: int) -> date:
        return first.replace(day=min(day, last.day))

    # --- vendors ------------------------------------------------------------------------

    def bills(self, index: int, first: date, last: date, factor: float) -> None:
        rng = self.rng
        for number, (vendor, habit) in enumerate(self.vendors):
            if habit.channel != "bill":
                continue
            if habit.cadence == "quarterly" and index % 3 != number % 3:
                continue
            if habit.cadence == "annual" and index % 12 != number % 12:
                continue
            drift = (
                (1 + 0.004 * index) * rng.uniform(0.85, 1.15)
                if vendor.category in ("utilities", "cogs", "contractors")
                else 1 + 0.004 * index
            )
            amount = _cents(habit.amount * drift * (factor if vendor.category == "cogs" else 1))
            issued = self.day_in(first, last, 1 + number % 27)
            due = issued + timedelta(days=rng.choice((10, 15, 30)))
            bill_id = self.next_id("BILL")
            reference = f"{short_name(vendor.name)[:4].strip()}-{rng.randrange(10000, 99999)}"
            self.add_item(bill_id, "bill", vendor, amount, issued, due, reference, "paid")
            paid_on = due + timedelta(days=rng.randint(-5, 6))
            settles: tuple[Match, ...] = (Match("bill", bill_id, -amount),)
            rounding = self.bill_rounding(paid_on)
            if rounding is not None:
                settles += (rounding,)
            self.books.add(
                "operating",
                paid_on,
                sum(m.amount for m in settles),
                render(rng.choice(vendor.descriptors), rng),
                "2100",
                settles,
                counterparty=short_name(vendor.name)[:35],
                reference=reference if rng.random() < 0.8 else None,
            )

    def card_purchases(self, index: int, first: date, last: date, factor: float) -> None:
        rng = self.rng
        for number, (vendor, habit) in enumerate(self.vendors):
            if habit.channel != "card":
                continue
            days = self.purchase_days(habit, index, number, first, last, factor)
            for day in days:
                spread = 0.25 if vendor.category in ("saas", "advertising") else 0.6
                drift = 1 + 0.005 * index if habit.cadence != "random" else 1.0
                amount = _cents(habit.amount * drift * rng.uniform(1 - spread, 1 + spread))
                purchase = self.next_id("PUR")
                posted = day + timedelta(days=rng.choice((0, 1, 1, 2)))
                self.books.add(
                    "card",
                    min(posted, last),
                    -amount,
                    render(rng.choice(vendor.descriptors), rng),
                    vendor.gl_account,
                    (Match("purchase", purchase, -amount),),
                    value_day=day,
                )
                if rng.random() < 0.03 and day.day < 20:
                    refund = _cents(amount / 100 * rng.choice((1.0, 0.5)))
                    self.books.add(
                        "card",
                        day + timedelta(days=rng.randint(3, 8)),
                        refund,
                        f"REFUND {render(rng.choice(vendor.descriptors), rng)}",
                        vendor.gl_account,
                        (Match("refund", purchase, refund),),
                    )

    def purchase_days(
        self, habit: VendorHabit, index: int, number: int, first: date, last: date, factor: float
    ) -> list[date]:
        if habit.cadence == "monthly":
            return [self.day_in(first, last, 1 + number % 28)]
        if habit.cadence == "annual":
            return [self.day_in(first, last, 1 + number % 28)] if index % 12 == number % 12 else []
        expected = habit.per_month * factor
        count = int(expected) + (1 if self.rng.random() < expected - int(expected) else 0)
        return sorted(self.day_in(first, last, self.rng.randint(1, 31)) for _ in range(count))

    # --- customers ----------------------------------------------------------------------

    def add_item(
        self,
        item_id: str,
        kind: str,
        party: Counterparty,
        amount: int,
        issued: date,
        due: date,
        reference: str,
        fate: str,
    ) -> None:
        self.items.append(
            OpenItem(
                item_id,
                kind,
                party.id,
                amount,
                party.currency,
                issued,
                due,
                reference,
                party.gl_account,
                "open",
                0,
                fate,
            )
        )

    def invoices(self, index: int, first: date, last: date, factor: float) -> None:
        rng = self.rng
        for number, (customer, habit) in enumerate(self.customers):
            if customer.category == "services" and rng.random() < 0.25:
                continue
            amount = _cents(habit.monthly_amount * factor * rng.uniform(0.85, 1.15) / 10) * 10
            issued = self.day_in(first, last, 1 + number % 28)
            due = issued + timedelta(days=habit.terms)
            invoice_id = self.next_id("INV")
            account = self.fx_id if habit.foreign else "operating"
            roll = rng.random()
            fate = "never_paid" if roll < habit.never else "paid"
            if fate == "paid" and rng.random() < habit.partial:
                fate = "instalments" if rng.random() < 0.7 else "partial"
            self.add_item(invoice_id, "invoice", customer, amount, issued, due, invoice_id, fate)
            if fate == "never_paid":
                continue
            pay_day = due + timedelta(days=habit.delay + rng.randint(-3, 6))
            if habit.batches and fate == "paid":
                # Batch payers settle every other month's invoices in one payment.
                pending = self.batch.setdefault(customer.id, [])
                pending.append((invoice_id, amount))
                if index % 2 == 1 or index == self.months - 1:
                    self.customer_payment(account, customer, pay_day, tuple(pending))
                    pending.clear()
                continue
            if fate == "paid":
                self.customer_payment(
                    account, customer, pay_day, ((invoice_id, amount),), issued=issued
                )
                continue
            parts = [amount // 2, amount // 4]
            parts.append(amount - sum(parts))
            if fate == "partial":
                parts = parts[:1]  # the rest never arrives
            for n, part in enumerate(parts):
                self.customer_payment(
                    account,
                    customer,
                    pay_day + timedelta(days=20 * n),
                    ((invoice_id, part),),
                    in_full=False,
                )

    def customer_payment(
        self,
        account: str,
        customer: Counterparty,
        day: date,
        settles: tuple[tuple[str, int], ...],
        *,
        issued: date | None = None,
        in_full: bool = True,
    ) -> None:
        """A payment of ``settles`` (invoice id, amount); ``issued`` is the invoice's issue date
        when the payment settles one invoice in full, the only kind that may be discounted,
        slip in conversion or be rounded. The items count as settled in full either way: a
        difference is written off, not left open. A part payment (``in_full=False``) never
        has one: what a fee took from it would be indistinguishable from a smaller part.
        """
        rng = self.rng
        total = sum(amount for _, amount in settles)
        scheduled = day
        day, difference = (
            self.payment_difference(account, total, day, issued) if in_full else (day, None)
        )
        matches = tuple(Match("invoice", i, a) for i, a in settles)
        if difference is not None:
            matches += (difference,)
        reference = ", ".join(i for i, _ in settles) if rng.random() < 0.75 else None
        line = self.books.add(
            account,
            day,
            sum(m.amount for m in matches),
            render(rng.choice(customer.descriptors), rng),
            "1200",
            matches,
            counterparty=short_name(customer.name)[:35],
            reference=reference,
            scheduled=scheduled if scheduled != day else None,
        )
        if line is not None:
            for invoice_id, amount in settles:
                self.paid[invoice_id] = self.paid.get(invoice_id, 0) + amount

    def payment_difference(
        self, account: str, total: int, day: date, issued: date | None
    ) -> tuple[date, Match | None]:
        """The day a customer's payment of ``total`` arrives and its write-off, if any.

        Only payments inside the period get one, so a difference never adds a line (an
        early-paid discount would otherwise pull a payment from after the period into it).
        """
        draw = self.differences
        if draw is None or day > self.end:
            return day, None
        roll = draw.random()
        if account == self.fx_id:
            fee = draw.randint(*_FEE_UNITS) * 10 ** _minor_digits(self.foreign_currency)
            if roll < _FEE_CHANCE and fee < total:
                return day, Match("writeoff", "bank_fee", -fee)
            if issued is None or draw.random() >= _ROUNDING_CHANCE:
                return day, None
            return day, Match("writeoff", "rounding", _rounding(draw))
        if issued is None:
            return day, None
        if roll < _DISCOUNT_CHANCE:
            early = min(day, issued + timedelta(days=draw.randint(1, _DISCOUNT_DAYS)))
            discount = (total * _DISCOUNT_PERCENT + 50) // 100  # half up, to the minor unit
            return early, Match("writeoff", "discount", -discount)
        if roll < _DISCOUNT_CHANCE + _FX_CHANCE:
            slippage = round(total * draw.uniform(-_FX_SLIPPAGE, _FX_SLIPPAGE))
            return day, Match("writeoff", "fx_difference", slippage or draw.choice((-1, 1)))
        if roll < _DISCOUNT_CHANCE + _FX_CHANCE + _ROUNDING_CHANCE:
            return day, Match("writeoff", "rounding", _rounding(draw))
        return day, None

    def bill_rounding(self, day: date) -> Match | None:
        """A bill paid a few minor units off, with the difference written off; or None."""
        draw = self.differences
        if draw is None or day > self.end or draw.random() >= _ROUNDING_CHANCE:
            return None
        return Match("writeoff", "rounding", _rounding(draw))

    # --- the payment processor ----------------------------------------------------------

    def processor(self, first: date, last: date, factor: float) -> None:
        rng, books = self.rng, self.books
        prices = (1900, 2900, 4900, 7900, 12900, 24900)
        pending = self.pending_payout
        day = first
        while day <= last:
            expected = 4 * self.scale * factor * (0.6 if day.weekday() >= 5 else 1.0)
            count = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
            gross = 0
            for _ in range(count):
                price = rng.choice(prices)
                charge = self.next_id("ch")
                line = books.add(
                    "processor",
                    day,
                    price,
                    f"Charge {charge} order {rng.randrange(10**6)}",
                    "4100",
                    (Match("charge", charge, price),),
                )
                if line is None:  # charges fall within the month being simulated
                    raise AssertionError(f"charge {charge} outside the period")
                pending.append((line, day, price))
                gross += price
                roll = rng.random()
                if roll < 0.02:
                    later = day + timedelta(days=rng.randint(1, 6))
                    refund = self.processor_line(
                        later,
                        -price,
                        f"Refund for {charge}",
                        "4500",
                        Match("refund", charge, -price),
                    )
                    if refund:
                        pending.append((refund, later, -price))
                elif roll < 0.025:
                    later = day + timedelta(days=rng.randint(10, 25))
                    lost = self.processor_line(
                        later,
                        -price,
                        f"Dispute {charge} chargeback",
                        "4500",
                        Match("chargeback", charge, -price),
                    )
                    if lost:
                        pending.append((lost, later, -price))
                        fee = self.processor_line(
                            later,
                            -1500,
                            f"Dispute fee {charge}",
                            "6810",
                            Match("fee", f"df-{charge}", -1500),
                        )
                        if fee:
                            pending.append((fee, later, -1500))
            if count:
                fee_amount = -(gross * 29 // 1000 + 30 * count)
                fee_id = self.next_id("fee")
                fee = self.processor_line(
                    day,
                    fee_amount,
                    f"Stripe fees {day.isoformat()}",
                    "6810",
                    Match("fee", fee_id, fee_amount),
                )
                if fee:
                    pending.append((fee, day, fee_amount))
            if day.weekday() in (1, 3):
                self.payout(day)
            day += timedelta(days=1)

    def processor_line(
        self, day: date, amount: int, text: str, gl: str, match: Match
    ) -> str | None:
        return self.books.add("processor", day, amount, text, gl, (match,))

    def payout(self, day: date) -> None:
        # Everything recorded up to yesterday is paid out; later lines wait for the next one.
        ready = [p for p in self.pending_payout if p[1] < day]
        amount = sum(p[2] for p in ready)
        if amount <= 0:
            return
        self.pending_payout[:] = [p for p in self.pending_payout if p[1] >= day]
        payout_id = self.next_id("po")
        arrives = day + timedelta(days=2)
        self.books.add(
            "processor",
            day,
            -amount,
            f"Payout {payout_id}",
            "1110",
            (Match("payout", payout_id, -amount),),
        )
        self.books.add(
            "operating",
            arrives,
            amount,
            f"STRIPE TRANSFER ST-{payout_id[3:]}",
            "1150",
            (Match("payout", payout_id, amount),),
            counterparty="STRIPE",
            reference=payout_id,
        )
        self.payouts.append(
            Payout(payout_id, amount, self.currency, day, arrives, tuple(p[0] for p in ready))
        )

    # --- payroll, taxes, treasury -------------------------------------------------------

    def payroll(self, first: date, last: date, factor: float) -> None:
        rng = self.rng
        base = 18_000 * self.scale * (factor**0.3)
        for day in (self.day_in(first, last, 15), last):
            run_id = f"PR-{day.isoformat()}"
            net = -_cents(base * rng.uniform(0.97, 1.03))
            tax = -_cents(-net / 100 * 0.31)
            self.books.add(
                "operating",
                day,
                net,
                render("GUSTO NET PAY #", rng),
                "6200",
                (Match("payroll", run_id, net),),
                counterparty="GUSTO",
            )
            self.books.add(
                "operating",
                day,
                tax,
                render("GUSTO TAX #", rng),
                "6210",
                (Match("payroll_tax", run_id, tax),),
                counterparty="GUSTO",
            )
        if first.month in (1, 4, 6, 9):
            amount = -_cents(9_000 * self.scale * rng.uniform(0.9, 1.1))
            payment = f"TAX-{first.year}-{first.month:02d}"
            self.books.add(
                "operating",
                self.day_in(first, last, 15),
                amount,
                render(f"{_TAX_AUTHORITY[self.currency]} #", rng),
                "2500",
                (Match("tax_payment", payment, amount),),
            )

    def treasury(self, first: date, last: date) -> None:
        rng, books, scale = self.rng, self.books, self.scale
        own = {a.id: a for a in self.accounts}
        # Card autopay on the 7th of the month after.
        card_balance = books.balance("card", last)
        if card_balance < 0:
            self.transfer("operating", "card", last + timedelta(days=7), -card_balance)
        # Foreign receipts converted on the 25th, at a drifting rate.
        self.rate *= rng.uniform(0.99, 1.01)
        day = self.day_in(first, last, 25)
        foreign_balance = books.balance(self.fx_id, day)
        sold = (foreign_balance - 10_000_00 * scale) // 100 * 80
        if sold > 0:
            conversion = self.next_id("FX")
            bought = round(sold * self.rate)
            books.add(
                self.fx_id,
                day,
                -sold,
                f"FX SELL {self.foreign_currency} {conversion}",
                "1110",
                (Match("fx_conversion", conversion, -sold),),
                counterparty_iban=own["operating"].iban,
            )
            books.add(
                "operating",
                day,
                bought,
                f"FX BUY {self.currency} {conversion}",
                "1130",
                (Match("fx_conversion", conversion, bought),),
                counterparty_iban=own[self.fx_id].iban,
            )
        # Fees at month end, then cash management, then interest on what savings holds.
        for account, fee in (("operating", -2500), (self.fx_id, -1200)):
            books.add(
                account,
                last,
                fee,
                "MONTHLY SERVICE FEE",
                "6800",
                (Match("bank_fee", f"FEE-{account}-{last.isoformat()}", fee),),
            )
        self.manage_cash(first, last)
        savings = self.opening["savings"] + books.balance("savings", last)
        interest = savings * 35 // 12_000
        if interest > 0:
            books.add(
                "savings",
                last,
                interest,
                "INTEREST PAYMENT",
                "4800",
                (Match("interest", f"INT-savings-{last.isoformat()}", interest),),
            )

    def manage_cash(self, first: date, last: date) -> None:
        """Keep the operating account between a floor and a ceiling, as a treasurer would.

        Runs once a month's lines are all known. A shortfall is funded at the start of the
        month's first day, from savings down to its own reserve and then by a loan from the
        owners; a surplus at month end first repays the owners, then goes to savings.
        """
        books, scale = self.books, self.scale
        floor, target, ceiling = 15_000_00 * scale, 40_000_00 * scale, 100_000_00 * scale
        opening = self.opening["operating"]
        lowest = opening + books.lowest("operating", first, last)
        if lowest < floor:
            need = -((lowest - target) // 1_000_00) * 1_000_00  # up to target, whole thousands
            reserve = 20_000_00 * scale
            before = first - timedelta(days=1)
            spare = self.opening["savings"] + books.balance("savings", before) - reserve
            from_savings = min(need, max(spare // 1_000_00 * 1_000_00, 0))
            if from_savings:
                self.transfer("savings", "operating", first, from_savings, early=True)
            if need > from_savings:
                self.owner_loan(first, need - from_savings, early=True)
        closing = opening + books.balance("operating", last)
        if closing > ceiling:
            surplus = (closing - target) // 1_000_00 * 1_000_00
            repaid = min(surplus, self.owed_to_owners)
            if repaid:
                self.owner_loan(last, -repaid)
            if surplus > repaid:
                self.transfer("operating", "savings", last, surplus - repaid)

    def owner_loan(self, day: date, amount: int, *, early: bool = False) -> None:
        """Money lent by the owners (positive) or paid back to them (negative)."""
        loan = self.next_id("LOAN")
        text = "LOAN FROM OWNERS" if amount > 0 else "LOAN REPAYMENT TO OWNERS"
        self.books.add(
            "operating",
            day,
            amount,
            f"{text} {loan}",
            "2730",
            (Match("owner_loan", loan, amount),),
            reference=loan,
            early=early,
        )
        self.owed_to_owners += amount

    def transfer(
        self, source: str, target: str, day: date, amount: int, *, early: bool = False
    ) -> None:
        own = {a.id: a for a in self.accounts}
        transfer_id = self.next_id("TRF")
        text = f"TRANSFER {own[source].name.upper()} TO {own[target].name.upper()} {transfer_id}"
        self.books.add(
            source,
            day,
            -amount,
            text,
            own[target].gl_account,
            (Match("transfer", transfer_id, -amount),),
            reference=transfer_id,
            counterparty_iban=own[target].iban,
            early=early,
        )
        self.books.add(
            target,
            day,
            amount,
            text,
            own[source].gl_account,
            (Match("transfer", transfer_id, amount),),
            reference=transfer_id,
            counterparty_iban=own[source].iban,
            early=early,
        )

    # --- the result ---------------------------------------------------------------------

    def company(self) -> Company:
        statements: list[Statement] = []
        truths: list[LineTruth] = []
        for account in self.accounts:
            lines = sorted(self.books.lines[account.id], key=_Line.order)
            balance = self.opening[account.id]
            position = 0
            for number, first in enumerate(self.month_starts[:-1], start=1):
                last = self.month_starts[number] - timedelta(days=1)
                month: list[StatementLine] = []
                while position < len(lines) and lines[position].day <= last:
                    raw = lines[position]
                    month.append(
                        StatementLine(
                            raw.id,
                            raw.day,
                            raw.value_day,
                            raw.amount,
                            raw.description,
                            raw.counterparty,
                            raw.reference,
                            raw.counterparty_iban,
                        )
                    )
                    truths.append(LineTruth(raw.id, account.id, raw.gl, raw.matches))
                    position += 1
                closing = balance + sum(line.amount for line in month)
                statements.append(
                    Statement(account, number, first, last, balance, closing, tuple(month))
                )
                balance = closing
        items = []
        for item in self.items:
            paid = self.paid.get(item.id, 0)
            if item.kind == "bill":
                paid = self.paid_bill(item)
            status = "paid" if paid == item.amount else "partially_paid" if paid else "open"
            fate = item.fate if item.fate != "instalments" else "paid"
            items.append(_replace_status(item, status, paid, fate))
        rng = self.rng
        return Company(
            seed=self.seed,
            name=f"{rng.choice(_COMPANY_NAMES)} {'Inc.' if self.currency == 'USD' else 'Ltd'}",
            currency=self.currency,
            start=self.month_starts[0],
            months=self.months,
            scale=self.scale,
            accounts=self.accounts,
            counterparties=tuple(c for c, _ in self.vendors) + tuple(c for c, _ in self.customers),
            statements=tuple(statements),
            open_items=tuple(items),
            truths=tuple(truths),
            payouts=tuple(self.payouts),
            overlap_days={"card": 3, self.fx_id: 4},
        )

    def paid_bill(self, item: OpenItem) -> int:
        if not self.bill_paid:
            for line in self.books.lines["operating"]:
                for match in line.matches:
                    if match.kind == "bill":
                        self.bill_paid[match.id] = -match.amount
        return self.bill_paid.get(item.id, 0)


def _replace_status(item: OpenItem, status: str, paid: int, fate: str) -> OpenItem:
    return OpenItem(
        item.id,
        item.kind,
        item.counterparty_id,
        item.amount,
        item.currency,
        item.issue_date,
        item.due_date,
        item.reference,
        item.gl_account,
        status,
        paid,
        fate,
    )
