"""Bank CSV exports in the three layouts real banks use (``BankAccount.csv_layout``).

* ``signed``: one signed amount column, ISO dates, UTF-8, comma-separated.
* ``debit_credit``: separate unsigned debit and credit columns, US dates (MM/DD/YYYY).
* ``european``: ``;``-separated, decimal comma, DD.MM.YYYY, German headers, cp1252.

Every layout carries a running balance column, so the opening balance is the first row's
balance minus its amount and the closing balance is the last row's balance.
"""

import csv
import io
from collections.abc import Callable
from datetime import date

from autoledger.demo.model import Statement

LAYOUTS = ("signed", "debit_credit", "european")

SIGNED_HEADER = (
    "Date",
    "Value Date",
    "Description",
    "Counterparty",
    "Reference",
    "Amount",
    "Balance",
)
DEBIT_CREDIT_HEADER = (
    "Posting Date",
    "Transaction Date",
    "Description",
    "Debit",
    "Credit",
    "Balance",
)
EUROPEAN_HEADER = (
    "Buchungstag",
    "Valuta",
    "Auftraggeber/Empfänger",
    "Verwendungszweck",
    "Referenz",
    "Betrag",
    "Saldo",
    "Währung",
)


def decimal_text(minor: int, *, comma: bool = False) -> str:
    """``-12345`` -> ``"-123.45"`` (or ``"-123,45"``); currencies of scale 2 only."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole}{',' if comma else '.'}{cents:02d}"


def _us(day: date) -> str:
    return f"{day.month:02d}/{day.day:02d}/{day.year}"


def _german(day: date) -> str:
    return f"{day.day:02d}.{day.month:02d}.{day.year}"


def write_csv(statement: Statement) -> bytes:
    """The statement in its account's CSV layout."""
    layout = statement.account.csv_layout
    writer = _WRITERS.get(layout)
    if writer is None:
        raise ValueError(f"unknown CSV layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    return writer(statement)


def _signed(statement: Statement) -> bytes:
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(SIGNED_HEADER)
    balance = statement.opening_balance
    for line in statement.lines:
        balance += line.amount
        rows.writerow(
            (
                line.booking_date.isoformat(),
                line.value_date.isoformat(),
                line.description,
                line.counterparty or "",
                line.reference or "",
                decimal_text(line.amount),
                decimal_text(balance),
            )
        )
    return out.getvalue().encode("utf-8")


def _debit_credit(statement: Statement) -> bytes:
    out = io.StringIO()
    rows = csv.writer(out)
    rows.writerow(DEBIT_CREDIT_HEADER)
    balance = statement.opening_balance
    for line in statement.lines:
        balance += line.amount
        amount = decimal_text(abs(line.amount))
        rows.writerow(
            (
                _us(line.booking_date),
                _us(line.value_date),
                line.description,
                amount if line.amount < 0 else "",
                amount if line.amount > 0 else "",
                decimal_text(balance),
            )
        )
    return out.getvalue().encode("utf-8")


def _european(statement: Statement) -> bytes:
    out = io.StringIO()
    rows = csv.writer(out, delimiter=";")
    rows.writerow(EUROPEAN_HEADER)
    balance = statement.opening_balance
    currency = statement.account.currency
    for line in statement.lines:
        balance += line.amount
        rows.writerow(
            (
                _german(line.booking_date),
                _german(line.value_date),
                line.counterparty or "",
                line.description,
                line.reference or "",
                decimal_text(line.amount, comma=True),
                decimal_text(balance, comma=True),
                currency,
            )
        )
    # Characters cp1252 lacks become "?", as a German bank's export would show them.
    return out.getvalue().encode("cp1252", errors="replace")


_WRITERS: dict[str, Callable[[Statement], bytes]] = {
    "signed": _signed,
    "debit_credit": _debit_credit,
    "european": _european,
}
