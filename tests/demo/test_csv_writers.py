"""Bank CSV files read back with the stdlib ``csv`` module to the amounts they were written from."""

import csv
import io
from datetime import date, datetime

import pytest

from autoledger.demo.export import exported_statements
from autoledger.demo.model import BankAccount, Statement, StatementLine
from autoledger.demo.simulator import simulate
from autoledger.demo.writers.csv_bank import write_csv


def _statement(layout: str, description: str = "SQ *BLUE BOTTLE 0423") -> Statement:
    account = BankAccount(
        "operating",
        "Operating",
        "First Valley Bank",
        "EUR",
        "DE89370400440532013000",
        "COBADEFFXXX",
        "1110",
        layout,
    )
    lines = (
        StatementLine("L1", date(2025, 3, 2), date(2025, 3, 1), -1234, description),
        StatementLine(
            "L2",
            date(2025, 3, 14),
            date(2025, 3, 14),
            1_000_000_05,
            "ACH CREDIT X",
            counterparty='X, "Y"; Z',
            reference="INV-000001, INV-000002",
        ),
        StatementLine("L3", date(2025, 3, 31), date(2025, 3, 31), -7, "FEE"),
    )
    total = sum(x.amount for x in lines)
    return Statement(account, 3, date(2025, 3, 1), date(2025, 3, 31), 50_00, 50_00 + total, lines)


def _minor(text: str, *, comma: bool = False) -> int:
    if comma:
        text = text.replace(",", ".")
    sign = -1 if text.startswith("-") else 1
    whole, cents = text.lstrip("-").split(".")
    return sign * (int(whole) * 100 + int(cents))


def test_signed_layout_reads_back() -> None:
    statement = _statement("signed")
    rows = list(csv.DictReader(io.StringIO(write_csv(statement).decode("utf-8"))))
    assert [_minor(r["Amount"]) for r in rows] == [x.amount for x in statement.lines]
    assert [date.fromisoformat(r["Date"]) for r in rows] == [
        x.booking_date for x in statement.lines
    ]
    assert rows[1]["Counterparty"] == 'X, "Y"; Z'
    assert _minor(rows[-1]["Balance"]) == statement.closing_balance
    assert _minor(rows[0]["Balance"]) - _minor(rows[0]["Amount"]) == statement.opening_balance


def test_debit_credit_layout_reads_back() -> None:
    statement = _statement("debit_credit")
    rows = list(csv.DictReader(io.StringIO(write_csv(statement).decode("utf-8"))))
    amounts = [_minor(r["Credit"]) if r["Credit"] else -_minor(r["Debit"]) for r in rows]
    assert amounts == [x.amount for x in statement.lines]
    assert all(bool(r["Credit"]) != bool(r["Debit"]) for r in rows)
    assert [datetime.strptime(r["Posting Date"], "%m/%d/%Y").date() for r in rows] == [
        x.booking_date for x in statement.lines
    ]
    assert _minor(rows[-1]["Balance"]) == statement.closing_balance


def test_european_layout_is_cp1252_with_decimal_comma_and_german_dates() -> None:
    statement = _statement("european", description="Überweisung Müller \u2013 Miete ☃")
    data = write_csv(statement)
    text = data.decode("cp1252")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert next(iter(rows[0])) == "Buchungstag"
    assert [_minor(r["Betrag"], comma=True) for r in rows] == [x.amount for x in statement.lines]
    assert [datetime.strptime(r["Buchungstag"], "%d.%m.%Y").date() for r in rows] == [
        x.booking_date for x in statement.lines
    ]
    assert rows[0]["Verwendungszweck"] == "Überweisung Müller \u2013 Miete ?"
    assert rows[0]["Betrag"] == "-12,34"
    assert _minor(rows[-1]["Saldo"], comma=True) == statement.closing_balance
    assert {r["Währung"] for r in rows} == {"EUR"}


def test_unknown_layout_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown CSV layout"):
        write_csv(_statement("fixed_width"))


def test_overlapping_exports_repeat_the_previous_months_last_days() -> None:
    company = simulate(9, 3)
    exported = exported_statements(company)
    overlapping = [e for e in exported if e.duplicates]
    assert {e.statement.account.id for e in overlapping} == set(company.overlap_days)
    previous = {(s.account.id, s.start.strftime("%Y-%m")): s for s in company.statements}
    for item in overlapping:
        before = previous[(item.statement.account.id, item.previous_month or "")]
        assert item.duplicates == before.lines[-len(item.duplicates) :]
        assert item.statement.lines[: len(item.duplicates)] == item.duplicates
        s = item.statement
        assert s.closing_balance == s.opening_balance + sum(x.amount for x in s.lines)
        assert (item.statement.end - item.statement.start).days > 28
