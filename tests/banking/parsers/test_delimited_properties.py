"""Any statement, written the way some bank might write it, is sniffed and read back exactly."""

import csv
import io
import random
from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from autoledger.banking.parsers.delimited import parse_csv, sniff
from autoledger.banking.statement import BankTransaction, Rejected, StatementEnd, StatementStart

# Header words per language: booking date, value date, description, payee, amount, debit,
# credit, balance, marker.
HEADERS = {
    "en": ("Date", "Value Date", "Description", "Payee", "Amount", "Debit", "Credit", "Balance", "Type"),
    "de": (
        "Buchungstag", "Wertstellung", "Verwendungszweck", "Empfänger", "Betrag", "Soll", "Haben",
        "Kontostand", "Soll/Haben",
    ),
    "fr": (
        "Date opération", "Date valeur", "Libellé", "Bénéficiaire", "Montant", "Débit", "Crédit",
        "Solde", "Débit/Crédit",
    ),
    "nl": ("Datum", "Rentedatum", "Omschrijving", "Naam", "Bedrag", "Af", "Bij", "Saldo", "Af Bij"),
    "es": ("Fecha", "Fecha valor", "Concepto", "Beneficiario", "Importe", "Debe", "Haber", "Saldo", "Tipo"),
}  # fmt: skip
DATE_FORMATS = (
    "%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y",
    "%d.%m.%y", "%d %b %Y", "%b %d, %Y",
)  # fmt: skip
SEPARATORS = ((".", ""), (".", ","), (",", ""), (",", "."), (",", " "), (".", " "), (".", "'"))
MARKS = (("DR", "CR"), ("D", "C"), ("S", "H"), ("Af", "Bij"), ("-", "+"), ("Debit", "Credit"))
PREAMBLE = ("Kontoauszug Girokonto", "Export created 31 Jan 2025", "Relevé de compte n° 7")
# cp1252-encodable, with delimiters, quotes, newlines and accents.
TEXT = st.text(alphabet="abcXYZ 019,;|\t\"'\n-+/éüß€&", max_size=30)


@dataclass(frozen=True)
class Line:
    booking: date
    value: date
    amount: int
    description: str
    payee: str


@st.composite
def statements(draw: st.DrawFn) -> list[Line]:
    count = draw(st.integers(1, 12))
    # Distinct magnitudes so the running balance tells row order and sign apart.
    amounts = draw(
        st.lists(
            st.integers(-500_000_00, 500_000_00).filter(bool),
            min_size=count,
            max_size=count,
            unique_by=abs,
        )
    )
    first = draw(st.dates(date(1990, 1, 13), date(2060, 12, 13))).replace(
        day=draw(st.integers(13, 28))
    )
    # The first line's day is > 12, so day-first and month-first formats tell apart.
    offsets = [
        0,
        *sorted(draw(st.lists(st.integers(0, 90), min_size=count - 1, max_size=count - 1))),
    ]
    lines = []
    for offset, amount in zip(offsets, amounts, strict=True):
        booking = first + timedelta(days=offset)
        value = booking + timedelta(days=draw(st.integers(0, 3)))
        lines.append(Line(booking, value, amount, draw(TEXT), draw(TEXT)))
    return lines


def _number(minor: int, decimal: str, thousands: str, *, signed: bool = True) -> str:
    whole, cents = divmod(abs(minor), 100)
    grouped = f"{whole:,}".replace(",", thousands)
    return f"{'-' if minor < 0 and signed else ''}{grouped}{decimal}{cents:02d}"


@dataclass(frozen=True)
class Layout:
    sign: str  # signed | inverted | debit_credit | debit_negative | marker
    language: str
    delimiter: str
    encoding: str
    date_format: str
    decimal: str
    thousands: str
    marks: tuple[str, str]
    balance: bool
    value_date: bool
    payee: bool
    newest_first: bool
    preamble: list[str]
    crlf: bool
    order: random.Random


@st.composite
def layouts(draw: st.DrawFn) -> Layout:
    sign = draw(st.sampled_from(["signed", "inverted", "debit_credit", "debit_negative", "marker"]))
    decimal, thousands = draw(st.sampled_from(SEPARATORS))
    return Layout(
        sign=sign,
        language=draw(st.sampled_from(sorted(HEADERS))),
        delimiter=draw(st.sampled_from([",", ";", "\t", "|"])),
        encoding=draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"])),
        date_format=draw(st.sampled_from(DATE_FORMATS)),
        decimal=decimal,
        thousands=thousands,
        marks=draw(st.sampled_from(MARKS)),
        balance=sign == "inverted" or draw(st.booleans()),
        value_date=draw(st.booleans()),
        payee=draw(st.booleans()),
        newest_first=draw(st.booleans()),
        preamble=draw(st.lists(st.sampled_from(PREAMBLE), max_size=2)),
        crlf=draw(st.booleans()),
        order=draw(st.randoms(use_true_random=False)),
    )


def render(lines: list[Line], opening: int, layout: Layout) -> bytes:
    words = HEADERS[layout.language]
    decimal, thousands, fmt, sign = (
        layout.decimal,
        layout.thousands,
        layout.date_format,
        layout.sign,
    )
    columns: list[tuple[str, str]] = [("booking", words[0]), ("description", words[2])]
    if layout.value_date:
        columns.append(("value", words[1]))
    if layout.payee:
        columns.append(("payee", words[3]))
    if sign in ("debit_credit", "debit_negative"):
        columns += [("debit", words[5]), ("credit", words[6])]
    else:
        columns.append(("amount", words[4]))
    if sign == "marker":
        columns.append(("marker", words[8]))
    if layout.balance:
        columns.append(("balance", words[7]))
    layout.order.shuffle(columns)
    balance = opening
    rows = []
    for line in lines:
        balance += line.amount
        cells = {
            "booking": line.booking.strftime(fmt),
            "value": line.value.strftime(fmt),
            "description": line.description,
            "payee": line.payee,
            "balance": _number(balance, decimal, thousands),
        }
        out, into = layout.marks
        if sign == "signed":
            cells["amount"] = _number(line.amount, decimal, thousands)
        elif sign == "inverted":
            cells["amount"] = _number(-line.amount, decimal, thousands)
        elif sign == "marker":
            cells["amount"] = _number(line.amount, decimal, thousands, signed=False)
            cells["marker"] = out if line.amount < 0 else into
        else:
            text = _number(line.amount, decimal, thousands, signed=sign == "debit_negative")
            cells["debit"] = text if line.amount < 0 else ""
            cells["credit"] = text if line.amount > 0 else ""
        rows.append([cells[name] for name, _ in columns])
    if layout.newest_first:
        rows.reverse()
    out_text = io.StringIO()
    newline = "\r\n" if layout.crlf else "\n"
    for preamble_line in layout.preamble:
        out_text.write(preamble_line + newline)
    writer = csv.writer(out_text, delimiter=layout.delimiter, lineterminator=newline)
    writer.writerow([title for _, title in columns])
    writer.writerows(rows)
    return out_text.getvalue().encode(layout.encoding)


@settings(max_examples=60, deadline=None)
@given(lines=statements(), opening=st.integers(-(10**9), 10**9), layout=layouts())
def test_any_layout_reads_back_the_same_lines(
    lines: list[Line], opening: int, layout: Layout
) -> None:
    # One row cannot show that its balance moves against its amount.
    assume(layout.sign != "inverted" or len(lines) > 1)
    data = render(lines, opening, layout)
    note(f"{layout}\n{data!r}")

    profile = sniff(io.BytesIO(data))
    items = list(parse_csv(io.BytesIO(data), currency="EUR", profile=profile))

    assert not [x for x in items if isinstance(x, Rejected)]
    got = [x for x in items if isinstance(x, BankTransaction)]
    if layout.newest_first:
        got.reverse()
    assert [(x.booking_date, x.amount) for x in got] == [(x.booking, x.amount) for x in lines]
    assert [x.description for x in got] == [" ".join(x.description.split()) for x in lines]
    if layout.value_date:
        assert [x.value_date for x in got] == [x.value for x in lines]
    if layout.payee:
        assert [x.counterparty_name for x in got] == [
            " ".join(x.payee.split()) or None for x in lines
        ]
    start, end = items[0], items[-1]
    assert isinstance(start, StatementStart)
    assert isinstance(end, StatementEnd)
    if layout.balance:
        assert start.opening_balance == opening
        assert end.closing_balance == opening + sum(x.amount for x in lines)
