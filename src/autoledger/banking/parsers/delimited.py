"""CSV (and other delimited) bank statements from any bank.

A bank's CSV export is described by a :class:`CsvProfile`: how to decode it, where the
header is, which column holds what, and how dates, numbers and signs are written. The
profile is either given (saved per bank account) or guessed by :func:`sniff`, which reads
the whole file once as a stream; :func:`parse_csv` then reads it again (after a look at its
head and tail when there is a balance column) and yields the normalized items of
:mod:`autoledger.banking.statement`. Memory stays bounded by a sample of the first rows
and small caches, never by the file's length.

Rules the parser keeps:

* **Encoding** (sniff): a BOM decides (UTF-8, UTF-16 LE/BE); else a NUL byte in every
  other position means UTF-16 without BOM; else the whole file is tried as strict UTF-8;
  else a CJK multi-byte codec when charset_normalizer names one and it decodes the whole
  file; else cp1252 when it decodes the whole file; else latin-1. Other NUL bytes mean a
  binary file, refused.
* **Sign**: ``signed`` takes the amount as written (money in positive); ``inverted`` negates
  it (card exports list purchases as positive; sniff detects it from the running balance);
  ``debit_credit`` takes debits as money out whether written positive or negative and
  credits as money in; ``marker`` takes the amount's magnitude and the direction from a
  column of CR/DR, Credit/Debit, S/H (Soll/Haben), Af/Bij or +/-.
* **Skipped rows**: records before the header (preamble), empty records, a repeat of the
  header, and footer records: a record whose booking date does not read as a date and
  whose first non-empty cell starts with a total or balance word ("Total", "Summe",
  "Closing balance", "Saldo", "Kontostand", "Solde", "Totaal", ...). Every other record that
  cannot be read is a :class:`Rejected` naming the field, so nothing vanishes silently.
* **Row width** (files with a header): a record with more non-empty cells than the header
  (trailing empty cells aside: some banks end every row with a delimiter) is rejected as a
  whole, field ``row``: an unquoted delimiter, such as a decimal comma in a comma-delimited
  file, shifted its cells, and reading it would invent an amount. A record too short to hold
  a mapped column is rejected naming that column.
* **Balances**: with a running-balance column, the rows' order is found from their dates
  (newest first when the last row is older than the first), or when all rows share a date
  from which order makes the balances add up; the opening balance is the oldest row's
  balance minus its amount, the closing balance the newest row's balance. As
  :class:`StatementStart` comes before the lines, these are read first: the first row with
  a balance from the head, the last from the file's tail (the last 64 KiB, re-synced to a
  line start); a full first pass is made only when the tail cannot be read safely (see
  :func:`_balances`) or when the first and last rows share a date.

Speed (100,000 rows in well under a second, sniff and parse together): sniff infers the
delimiter, header and column kinds from the first rows, but decides the date format and
the separators over the whole file, testing each distinct date cell and each distinct amount
shape once, weighted by its count; parsing caches dates per distinct cell text and reads
plain amounts (sign, digits, the profile's separators) with integer arithmetic. Caches start
over past 10,000 entries, so memory stays flat in the file's size.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, BinaryIO

import charset_normalizer

from autoledger.banking.statement import (
    BankTransaction,
    Item,
    Rejected,
    StatementEnd,
    StatementError,
    StatementStart,
    currency_scale,
    to_minor,
)
from autoledger.kit.money import MAX_AMOUNT

ColumnRef = str | int  # a header name, or a 0-based index when the file has no header


class Sign(StrEnum):
    """How a row's amount becomes signed minor units (money in positive)."""

    SIGNED = "signed"
    INVERTED = "inverted"
    DEBIT_CREDIT = "debit_credit"
    MARKER = "marker"


_SINGLE_COLUMNS = (
    "booking_date",
    "value_date",
    "amount",
    "debit",
    "credit",
    "marker",
    "counterparty_name",
    "counterparty_account",
    "bank_reference",
    "balance",
    "currency",
    "transaction_code",
)
_DELIMITERS = (",", ";", "\t", "|")
_DECIMALS = (".", ",")
_THOUSANDS = (",", ".", " ", "'")


@dataclass(frozen=True, slots=True)
class Columns:
    """Which column holds what; each is a header name or a 0-based index."""

    booking_date: ColumnRef
    value_date: ColumnRef | None = None
    amount: ColumnRef | None = None
    debit: ColumnRef | None = None
    credit: ColumnRef | None = None
    marker: ColumnRef | None = None
    description: tuple[ColumnRef, ...] = ()  # joined with " " in this order
    counterparty_name: ColumnRef | None = None
    counterparty_account: ColumnRef | None = None
    bank_reference: ColumnRef | None = None
    balance: ColumnRef | None = None
    currency: ColumnRef | None = None  # per row; the account's currency when empty
    transaction_code: ColumnRef | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "description", tuple(self.description))

    def refs(self) -> Iterator[tuple[str, ColumnRef]]:
        for name in _SINGLE_COLUMNS:
            ref = getattr(self, name)
            if ref is not None:
                yield name, ref
        for ref in self.description:
            yield "description", ref


@dataclass(frozen=True, slots=True)
class CsvProfile:
    """Everything needed to read one bank's CSV export the same way every time.

    ``header_row`` and ``data_row`` count CSV records from 0 (an empty line is a record);
    records before ``data_row`` other than the header are preamble and skipped. As a dict
    (:meth:`to_dict`, stored as JSON per bank account)::

        {"encoding": "cp1252", "delimiter": ";", "quotechar": "\"", "header_row": 3,
         "data_row": 4, "date_format": "%d.%m.%Y", "decimal": ",", "thousands": ".",
         "sign": "signed",
         "columns": {"booking_date": "Buchungstag", "value_date": "Valuta",
                     "amount": "Betrag", "description": ["Verwendungszweck"],
                     "counterparty_name": "Auftraggeber/Empfänger", "balance": "Saldo"}}
    """

    columns: Columns
    date_format: str  # strptime pattern, e.g. "%d.%m.%Y"
    encoding: str = "utf-8"
    delimiter: str = ","
    quotechar: str = '"'
    header_row: int | None = 0  # None: the file has no header, columns are indexes
    data_row: int = 1
    decimal: str = "."
    thousands: str | None = None
    sign: Sign = Sign.SIGNED

    def __post_init__(self) -> None:
        if not isinstance(self.sign, Sign):
            try:
                object.__setattr__(self, "sign", Sign(self.sign))
            except ValueError:
                choices = ", ".join(s.value for s in Sign)
                raise StatementError(f"CSV profile key 'sign' must be one of {choices}.") from None
        _check_profile(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`from_dict` reads it back."""
        columns: dict[str, Any] = {
            name: getattr(self.columns, name)
            for name in _SINGLE_COLUMNS
            if getattr(self.columns, name) is not None
        }
        if self.columns.description:
            columns["description"] = list(self.columns.description)
        return {
            "encoding": self.encoding,
            "delimiter": self.delimiter,
            "quotechar": self.quotechar,
            "header_row": self.header_row,
            "data_row": self.data_row,
            "date_format": self.date_format,
            "decimal": self.decimal,
            "thousands": self.thousands,
            "sign": self.sign.value,
            "columns": columns,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CsvProfile:
        """The profile ``data`` describes; :class:`StatementError` names a bad key."""
        if not isinstance(data, Mapping):
            raise StatementError("A CSV profile must be an object.")
        known = {
            "encoding",
            "delimiter",
            "quotechar",
            "header_row",
            "data_row",
            "date_format",
            "decimal",
            "thousands",
            "sign",
            "columns",
        }
        for key in data:
            if key not in known:
                raise StatementError(f"CSV profile key {key!r} is unknown.")
        for key in ("columns", "date_format"):
            if key not in data:
                raise StatementError(f"CSV profile key {key!r} is missing.")
        raw_columns = data["columns"]
        if not isinstance(raw_columns, Mapping):
            raise StatementError("CSV profile key 'columns' must be an object.")
        column_args: dict[str, Any] = {}
        for name, ref in raw_columns.items():
            if name == "description":
                refs = [ref] if isinstance(ref, str | int) else ref
                if not isinstance(refs, list) or not all(_is_ref(x) for x in refs):
                    raise StatementError(
                        "CSV profile key 'columns.description' must be a list of names or indexes."
                    )
                column_args["description"] = tuple(refs)
            elif name in _SINGLE_COLUMNS:
                if ref is not None and not _is_ref(ref):
                    raise StatementError(
                        f"CSV profile key 'columns.{name}' must be a column name or index."
                    )
                column_args[name] = ref
            else:
                raise StatementError(f"CSV profile key 'columns.{name}' is unknown.")
        if column_args.get("booking_date") is None:
            raise StatementError("CSV profile key 'columns.booking_date' is missing.")
        args: dict[str, Any] = {}
        for key in ("encoding", "delimiter", "quotechar", "date_format", "decimal"):
            if key in data:
                if not isinstance(data[key], str):
                    raise StatementError(f"CSV profile key {key!r} must be a string.")
                args[key] = data[key]
        for key in ("header_row", "data_row"):
            if key in data:
                value = data[key]
                if (value is None and key == "header_row") or (
                    isinstance(value, int) and not isinstance(value, bool) and value >= 0
                ):
                    args[key] = value
                else:
                    raise StatementError(
                        f"CSV profile key {key!r} must be a row index (0, 1, ...)."
                    )
        if "data_row" not in args:
            header = args.get("header_row", 0)
            args["data_row"] = 0 if header is None else header + 1
        if "thousands" in data:
            if data["thousands"] is not None and not isinstance(data["thousands"], str):
                raise StatementError("CSV profile key 'thousands' must be a string or null.")
            args["thousands"] = data["thousands"]
        if "sign" in data:
            try:
                args["sign"] = Sign(data["sign"])
            except ValueError:
                choices = ", ".join(s.value for s in Sign)
                raise StatementError(f"CSV profile key 'sign' must be one of {choices}.") from None
        return cls(columns=Columns(**column_args), **args)


def _is_ref(value: object) -> bool:
    if isinstance(value, bool):
        return False
    return (isinstance(value, str) and bool(value.strip())) or (
        isinstance(value, int) and value >= 0
    )


def _check_profile(profile: CsvProfile) -> None:
    """What must hold for a profile to be usable; the message names the bad key."""
    try:
        codecs.lookup(profile.encoding)
    except LookupError:
        raise StatementError(
            f"CSV profile key 'encoding' names an unknown encoding {profile.encoding!r}."
        ) from None
    if len(profile.delimiter) != 1 or profile.delimiter in "\r\n":
        raise StatementError("CSV profile key 'delimiter' must be one character.")
    if len(profile.quotechar) != 1 or profile.quotechar == profile.delimiter:
        raise StatementError(
            "CSV profile key 'quotechar' must be one character, not the delimiter."
        )
    if profile.decimal not in _DECIMALS:
        raise StatementError("CSV profile key 'decimal' must be '.' or ','.")
    if profile.thousands is not None and (
        profile.thousands not in _THOUSANDS or profile.thousands == profile.decimal
    ):
        raise StatementError(
            "CSV profile key 'thousands' must be one of ',', '.', ' ', \"'\" (not the decimal) or null."
        )
    if "%" not in profile.date_format:
        raise StatementError("CSV profile key 'date_format' must be a strptime pattern.")
    try:
        date.today().strftime(profile.date_format)
    except ValueError:
        raise StatementError(
            f"CSV profile key 'date_format' is not a valid pattern: {profile.date_format!r}."
        ) from None
    if profile.header_row is not None and profile.data_row <= profile.header_row:
        raise StatementError("CSV profile key 'data_row' must come after 'header_row'.")
    columns = profile.columns
    if profile.header_row is None:
        for name, ref in columns.refs():
            if isinstance(ref, str):
                raise StatementError(
                    f"CSV profile key 'columns.{name}' names a column, but the file has no header."
                )
    need = {
        Sign.SIGNED: ("amount",),
        Sign.INVERTED: ("amount",),
        Sign.MARKER: ("amount", "marker"),
        Sign.DEBIT_CREDIT: ("debit", "credit"),
    }[profile.sign]
    for name in need:
        if getattr(columns, name) is None:
            raise StatementError(
                f"CSV profile key 'columns.{name}' is needed when 'sign' is {profile.sign.value!r}."
            )


# --- header words -------------------------------------------------------------------------

# Normalized (see _normalize) header phrases per role. "date" is a generic date column: the
# booking date, or the value date when a booking-date column is named more precisely.
_HEADER_WORDS: dict[str, tuple[str, ...]] = {
    "value_date": (
        "value date", "valuta", "valutadatum", "wertstellung", "wertstellungsdatum",
        "date valeur", "date de valeur", "fecha valor", "rentedatum", "valuedate",
    ),
    "booking_date": (
        "booking date", "posting date", "posted date", "post date", "entry date",
        "buchungstag", "buchungsdatum", "date operation", "date comptable", "fecha operacion",
        "fecha contable", "boekdatum", "boekingsdatum", "konyveles datuma",
    ),
    "date": (
        "date", "datum", "fecha", "data", "transaction date", "trans date", "transactiedatum",
    ),
    "amount": (
        "amount", "betrag", "montant", "bedrag", "importe", "umsatz", "osszeg",
        "transaction amount",
    ),
    "debit": (
        "debit", "debits", "debit amount", "withdrawal", "withdrawals", "paid out", "money out",
        "soll", "belastung", "af", "debe", "cargo", "ausgang",
    ),
    "credit": (
        "credit", "credits", "credit amount", "deposit", "deposits", "paid in", "money in",
        "haben", "gutschrift", "bij", "haber", "abono", "eingang",
    ),
    "marker": (
        "af bij", "debit credit", "credit debit", "dr cr", "cr dr", "soll haben", "s h", "d c",
        "debit credit indicator", "sign",
    ),
    "description": (
        "description", "details", "memo", "narrative", "verwendungszweck", "buchungstext",
        "libelle", "omschrijving", "concepto", "notes", "note", "transaction details",
        "particulars", "purpose", "remittance information", "mededelingen", "descripcion",
        "kozlemeny", "megjegyzes",
    ),
    "counterparty_name": (
        "payee", "name", "counterparty", "counter party", "beguenstigter", "begunstigter",
        "empfanger", "empfaenger", "auftraggeber", "naam", "beneficiary", "payer", "merchant",
        "account name", "naam tegenpartij", "beneficiaire", "beneficiario", "partner nev",
    ),
    "counterparty_account": (
        "iban", "account", "kontonummer", "tegenrekening", "counterparty account",
        "account number", "partner iban szama",
    ),
    "bank_reference": (
        "reference", "ref", "referenz", "reference number", "bank reference", "referencia",
        "kundenreferenz", "transaction id", "tranzakcioazonosito",
    ),
    "balance": (
        "balance", "saldo", "kontostand", "solde", "running balance", "szamlaegyenleg",
    ),
    "currency": (
        "currency", "wahrung", "waehrung", "devise", "munt", "moneda", "devizanem", "ccy",
    ),
    "transaction_code": (
        "type", "code", "transaction type", "mutatiesoort", "buchungsart", "umsatzart", "tipo",
    ),
}  # fmt: skip

_FOOTER = re.compile(
    r"(total|totals|sum|summe|gesamt|saldo|balance|opening balance|closing balance|"
    r"ending balance|beginning balance|anfangssaldo|endsaldo|schlusssaldo|kontostand|solde|"
    r"nouveau solde|ancien solde|totaal|eindsaldo|beginsaldo|saldo final|saldo inicial|"
    r"number of|anzahl|end of)\b"
)

_MARKERS = {
    "cr": 1, "c": 1, "credit": 1, "h": 1, "haben": 1, "+": 1, "bij": 1, "in": 1,
    "dr": -1, "d": -1, "debit": -1, "s": -1, "soll": -1, "-": -1, "af": -1, "out": -1,
}  # fmt: skip


def _normalize(text: str) -> str:
    """Casefolded, accents and punctuation removed: "Empfänger/IBAN" -> "empfanger iban"."""
    folded = unicodedata.normalize("NFKD", text.casefold().replace("ß", "ss"))
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^0-9a-z+\-]+", " ", plain).split())


def _header_role(cell: str) -> str | None:
    """The role a header cell names: an exact phrase first, else the longest contained one."""
    name = _normalize(cell)
    if not name:
        return None
    padded = f" {name} "
    best: tuple[int, str] | None = None
    for role, phrases in _HEADER_WORDS.items():
        for phrase in phrases:
            if phrase == name:
                return role
            if f" {phrase} " in padded and (best is None or len(phrase) > best[0]):
                best = (len(phrase), role)
    return best[1] if best else None


# --- dates ----------------------------------------------------------------------------------

# (strptime pattern, shape it needs); the order is the preference among equivalent formats.
_DATE_FORMATS: tuple[tuple[str, str], ...] = (
    ("%Y-%m-%d", r"\d{4}-\d{1,2}-\d{1,2}"),
    ("%Y/%m/%d", r"\d{4}/\d{1,2}/\d{1,2}"),
    ("%Y.%m.%d", r"\d{4}\.\d{1,2}\.\d{1,2}\.?"),
    ("%Y%m%d", r"\d{8}"),
    ("%d.%m.%Y", r"\d{1,2}\.\d{1,2}\.\d{4}"),
    ("%d/%m/%Y", r"\d{1,2}/\d{1,2}/\d{4}"),
    ("%m/%d/%Y", r"\d{1,2}/\d{1,2}/\d{4}"),
    ("%d-%m-%Y", r"\d{1,2}-\d{1,2}-\d{4}"),
    ("%m-%d-%Y", r"\d{1,2}-\d{1,2}-\d{4}"),
    ("%d.%m.%y", r"\d{1,2}\.\d{1,2}\.\d{2}"),
    ("%d/%m/%y", r"\d{1,2}/\d{1,2}/\d{2}"),
    ("%m/%d/%y", r"\d{1,2}/\d{1,2}/\d{2}"),
    ("%d-%m-%y", r"\d{1,2}-\d{1,2}-\d{2}"),
    ("%m-%d-%y", r"\d{1,2}-\d{1,2}-\d{2}"),
    ("%d %b %Y", r"\d{1,2} [A-Za-z]{3} \d{4}"),
    ("%d-%b-%Y", r"\d{1,2}-[A-Za-z]{3}-\d{4}"),
    ("%d %b %y", r"\d{1,2} [A-Za-z]{3} \d{2}"),
    ("%d-%b-%y", r"\d{1,2}-[A-Za-z]{3}-\d{2}"),
    ("%b %d, %Y", r"[A-Za-z]{3} \d{1,2}, \d{4}"),
    ("%d %B %Y", r"\d{1,2} [A-Za-z]{4,} \d{4}"),
    ("%B %d, %Y", r"[A-Za-z]{4,} \d{1,2}, \d{4}"),
)
_DATE_SHAPES = tuple((fmt, re.compile(shape)) for fmt, shape in _DATE_FORMATS)
_TIME_SUFFIX = re.compile(
    r"[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?: ?[AaPp][Mm])?(?:Z|[+-]\d{2}:?\d{2})?$"
)


def _date_text(cell: str) -> str:
    """The date part of a cell: "2025-01-31 14:05:00" -> "2025-01-31"."""
    return _TIME_SUFFIX.sub("", cell.strip())


def _read_date(cell: str, fmt: str) -> date:
    """The date ``cell`` holds in ``fmt``; :class:`ValueError` when it does not fit."""
    return datetime.strptime(_date_text(cell), fmt).date()  # a calendar date


class _DateFormats:
    """Which formats read the date cells, counted over every cell seen.

    The winners are the formats that read the most cells (every cell, in a clean file). Two
    winners that read some cell as different dates (every day is <= 12) leave the format
    undecided; winners that always agree (never the case among the candidates, kept for
    safety) resolve to the first in preference order.
    """

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.conflicts: set[tuple[str, str]] = set()
        self.cells = 0
        self._shapes: dict[str, tuple[str, ...]] = {}

    def add(self, cell: str, times: int = 1) -> None:
        """Count ``cell`` as if seen ``times`` times (sniff feeds each distinct cell once)."""
        text = _date_text(cell)
        if not text:
            return
        self.cells += times
        shape = re.sub(r"[0-9]", "9", re.sub(r"[A-Za-z]", "a", text))
        formats = self._shapes.get(shape)
        if formats is None:
            formats = tuple(fmt for fmt, rx in _DATE_SHAPES if rx.fullmatch(text))
            self._shapes[shape] = formats
        read: dict[str, date] = {}
        for fmt in formats:
            try:
                read[fmt] = datetime.strptime(text, fmt).date()
            except ValueError:
                continue
            self.counts[fmt] += times
        if len(read) > 1:
            for a, day_a in read.items():
                for b, day_b in read.items():
                    if a < b and day_a != day_b:
                        self.conflicts.add((a, b))

    def winners(self) -> list[str]:
        if not self.counts:
            return []
        best = max(self.counts.values())
        order = [fmt for fmt, _ in _DATE_FORMATS]
        return sorted((f for f, n in self.counts.items() if n == best), key=order.index)

    def decide(self, column: str) -> str:
        winners = self.winners()
        if not winners:
            raise StatementError(f"No date format reads the dates in column {column}.")
        undecided = [
            fmt
            for fmt in winners
            if any((min(fmt, other), max(fmt, other)) in self.conflicts for other in winners)
        ]
        if undecided:
            raise StatementError(
                f"The dates in column {column} fit several formats ({', '.join(undecided)}); "
                "give a CSV profile with the date_format."
            )
        return winners[0]


# --- numbers --------------------------------------------------------------------------------

_CURRENCY_MARK = r"(?:[A-Z]{3}|[€$£¥])"
_SIGNS = re.compile(
    rf"^(?P<lead>[+\-]?)\s*(?:{_CURRENCY_MARK}\s*)?(?P<lead2>[+\-]?)\s*(?P<body>[0-9.,' ]*[0-9][0-9.,' ]*?)"
    rf"\s*(?P<trail>-?)\s*(?:{_CURRENCY_MARK})?\s*(?P<dc>CR|DR|Cr|Dr|cr|dr)?$"
)


def _number_parts(cell: str) -> tuple[bool, str] | None:
    """(negative, digits-and-separators) of an amount cell, or None when it is not one."""
    text = cell.strip().replace("\u00a0", " ").replace("\u202f", " ").replace("\u2212", "-")
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    match = _SIGNS.fullmatch(text)
    if match is None:
        return None
    signs = match["lead"] + match["lead2"] + match["trail"]
    if len(signs) > 1 or (negative and signs):
        return None
    if signs == "-" or (match["dc"] or "").upper() == "DR":
        negative = not negative
    return negative, match["body"].strip()


def _plain_decimal(cell: str, decimal: str, thousands: str | None) -> str:
    """``"-1.234,56"`` -> ``"-1234.56"`` for :func:`to_minor`; :class:`ValueError` otherwise."""
    parts = _number_parts(cell)
    if parts is None:
        raise ValueError(f"{cell.strip()!r} is not an amount")
    negative, body = parts
    d = re.escape(decimal)
    if thousands is None:
        pattern = rf"[0-9]+(?:{d}[0-9]*)?|{d}[0-9]+"
    else:
        t = re.escape(thousands)
        pattern = rf"[0-9]{{1,3}}(?:{t}[0-9]{{3}})+(?:{d}[0-9]*)?|[0-9]+(?:{d}[0-9]*)?|{d}[0-9]+"
    if not re.fullmatch(pattern, body):
        grouping = f"decimal {decimal!r}, thousands {thousands!r}"
        raise ValueError(f"{cell.strip()!r} is not an amount written with {grouping}")
    plain = body.replace(thousands, "") if thousands else body
    return ("-" if negative else "") + plain.replace(decimal, ".")


class _Separators:
    """Evidence, over every amount cell, for the decimal and thousands separators."""

    def __init__(self) -> None:
        self.decimal_votes: Counter[str] = Counter()
        self.thousands_votes: Counter[str] = Counter()
        self.maybe_thousands: Counter[str] = Counter()

    def add(self, cell: str, times: int = 1) -> None:
        """Count ``cell`` as if seen ``times`` times; only its shape matters (see _shape)."""
        parts = _number_parts(cell)
        if parts is None:
            return
        body = parts[1]
        for mark in (" ", "'"):
            if re.search(rf"[0-9]{re.escape(mark)}[0-9]", body):
                self.thousands_votes[mark] += times
        seps = [c for c in body if c in ".,"]
        if not seps:
            return
        last = seps[-1]
        if len(set(seps)) == 2:
            # "1.234,56": the last separator is the decimal, the other groups thousands.
            self.decimal_votes[last] += times
            self.thousands_votes["," if last == "." else "."] += times
        elif len(seps) > 1:
            self.thousands_votes[last] += times
        elif len(body) - body.rindex(last) - 1 != 3:
            self.decimal_votes[last] += times
        else:
            self.maybe_thousands[last] += times  # "1,234": a thousand, or 1.234

    def decide(self) -> tuple[str, str | None]:
        if self.decimal_votes:
            decimal = self.decimal_votes.most_common(1)[0][0]
        elif self.thousands_votes["."] > self.thousands_votes[","]:
            decimal = ","
        else:
            decimal = "."
        for votes in (self.thousands_votes, self.maybe_thousands):
            candidates = [(n, m) for m, n in votes.items() if m != decimal and n]
            if candidates:
                return decimal, max(candidates)[1]
        return decimal, None


# Every ASCII digit as "9": an amount cell's shape, which is all _Separators looks at (its
# tests see digits only as [0-9]), so sniff counts distinct shapes, not every cell.
_SHAPE = str.maketrans("0123456789", "9999999999")
_CACHE_LIMIT = 10_000  # distinct cells a per-file cache holds before it starts over


def _date_reader(fmt: str) -> Callable[[str], date | None]:
    """:func:`_read_date` in ``fmt`` (None for ValueError), cached per distinct cell text.

    A statement repeats each day's date on every line of that day; the cache is cleared
    when it holds :data:`_CACHE_LIMIT` cells, so memory stays flat whatever the file.
    """
    cache: dict[str, date | None] = {}
    strptime = datetime.strptime

    def read(cell: str) -> date | None:
        try:
            return cache[cell]
        except KeyError:
            pass
        try:
            day: date | None = strptime(_date_text(cell), fmt).date()
        except ValueError:
            day = None
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[cell] = day
        return day

    return read


def _minor_reader(decimal: str, thousands: str | None) -> Callable[[str, int], int]:
    """``to_minor(_plain_decimal(cell, decimal, thousands), scale)``, fast for plain cells.

    A stripped cell of only an optional sign, digits (grouped by ``thousands``), and at most
    ``scale`` decimals is converted with integer arithmetic; anything else (currency marks,
    parentheses, CR/DR, extra zero decimals, errors) takes the general path, so results and
    error messages are the same.
    """
    d = re.escape(decimal)
    whole = (
        "[0-9]+"
        if thousands is None
        else rf"[0-9]{{1,3}}(?:{re.escape(thousands)}[0-9]{{3}})+|[0-9]+"
    )
    patterns: dict[int, re.Pattern[str]] = {}

    def minor(cell: str, scale: int) -> int:
        rx = patterns.get(scale)
        if rx is None:
            fraction = rf"(?:{d}([0-9]{{1,{scale}}}))?" if scale else "()"
            rx = patterns[scale] = re.compile(rf"([+-]?)((?:{whole})){fraction}")
        match = rx.fullmatch(cell)
        if match is not None:
            sign, digits, fraction = match.groups()
            if thousands is not None:
                digits = digits.replace(thousands, "")
            value: int = int(digits) * 10**scale
            if fraction:
                value += int(fraction) * 10 ** (scale - len(fraction))
            if value <= MAX_AMOUNT:
                return -value if sign == "-" else value
        return to_minor(_plain_decimal(cell, decimal, thousands), scale)

    return minor


# --- decoding and records -----------------------------------------------------------------

_CJK = {
    "euc_jp", "euc_jis_2004", "euc_jisx0213", "shift_jis", "shift_jis_2004", "shift_jisx0213",
    "cp932", "euc_kr", "cp949", "johab", "gb2312", "gbk", "gb18030", "big5", "big5hkscs",
    "cp950", "iso2022_jp", "iso2022_kr",
}  # fmt: skip
_CHUNK = 1 << 16


def _decodes(stream: BinaryIO, encoding: str) -> bool:
    """Whether the whole stream decodes strictly, read chunk by chunk."""
    stream.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        while chunk := stream.read(_CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        stream.seek(0)
    return True


def detect_encoding(stream: BinaryIO) -> str:
    """The file's text encoding, by the order in the module docstring."""
    stream.seek(0)
    head = stream.read(_CHUNK)
    stream.seek(0)
    if not head:
        raise StatementError("The file is empty.")
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = head[: len(head) - len(head) % 2]
    even, odd = sample[0::2], sample[1::2]
    if even and even.count(0) > 0.3 * len(even) and not odd.count(0):
        return "utf-16-be"
    if odd and odd.count(0) > 0.3 * len(odd) and not even.count(0):
        return "utf-16-le"
    if 0 in head or sum(b < 32 and b not in b"\t\r\n\f" for b in head) > len(head) // 100:
        raise StatementError("The file is binary, not a text CSV file.")
    if _decodes(stream, "utf-8"):
        return "utf-8"
    guess = charset_normalizer.from_bytes(head[: head.rfind(b"\n") + 1] or head).best()
    if (
        guess is not None
        and guess.encoding in _CJK
        and _looks_cjk(head, guess.encoding)
        and _decodes(stream, guess.encoding)
    ):
        return str(guess.encoding)
    return "cp1252" if _decodes(stream, "cp1252") else "latin-1"


_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uff66-\uff9f]")


def _looks_cjk(head: bytes, encoding: str) -> bool:
    """Whether a CJK guess is believable: charset_normalizer also names GBK or Big5 for
    Latin text in cp1252 ("éü" is a valid pair there). A real CJK file keeps every ASCII
    byte as a character (no delimiter swallowed as a trail byte), has non-ASCII bytes only
    in runs of even length, where Latin words have single accented letters, and decodes
    to ideographs, kana or hangul.
    """
    text = head[: head.rfind(b"\n") + 1] or head
    try:
        decoded = text.decode(encoding)
    except UnicodeDecodeError:
        return False
    runs = _HIGH_RUN.findall(text)
    wide = [c for c in decoded if ord(c) >= 0x80]
    return (
        sum(b < 0x80 for b in text) == len(decoded) - len(wide)
        and all(len(run) % 2 == 0 for run in runs)
        and len(wide) >= 2
        and all(_CJK_CHAR.match(c) for c in wide)
    )


_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")


def _text_lines(stream: BinaryIO, encoding: str) -> Iterator[str]:
    """The stream's decoded lines, line endings kept, read chunk by chunk.

    Only CR, LF and CRLF end a line (not the Unicode breaks ``str.splitlines`` knows, which
    latin-1 text can hold); a CR at a chunk's end waits for the next chunk's LF.
    """
    stream.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    pending, final = "", False
    while not final:
        chunk = stream.read(_CHUNK)
        final = not chunk
        try:
            pending += decoder.decode(chunk, final=final)
        except UnicodeDecodeError as exc:
            raise StatementError(f"The file is not valid {encoding} text: {exc.reason}.") from None
        if "\r" not in pending:  # only LF ends a line: split in C
            *complete, pending = pending.split("\n")
            for line in complete:
                yield line + "\n"
            continue
        start = 0
        for match in _LINE.finditer(pending):
            if match.end() == len(pending) and pending.endswith("\r") and not final:
                break
            yield match.group()
            start = match.end()
        pending = pending[start:]
    if pending:
        yield pending


@dataclass(frozen=True, slots=True)
class _Record:
    index: int  # 0-based record number
    line_no: int  # 1-based physical line where the record starts
    cells: list[str]
    raw: str


def _raw_records(
    stream: BinaryIO, encoding: str, delimiter: str, quotechar: str
) -> Iterator[tuple[int, int, list[str], str]]:
    """(index, line_no, cells, raw) of each CSV record: :func:`_records` without objects.

    ``csv.reader`` pulls one line at a time from the decoded stream, so the lines consumed
    since the previous record are exactly this record's (quoted newlines included).
    """
    consumed: list[str] = []
    append = consumed.append

    def lines() -> Iterator[str]:
        for line in _text_lines(stream, encoding):
            append(line)
            yield line

    reader = csv.reader(lines(), delimiter=delimiter, quotechar=quotechar, strict=False)
    line_no, index = 1, 0
    try:
        for cells in reader:
            raw = consumed[0] if len(consumed) == 1 else "".join(consumed)
            consumed.clear()
            yield index, line_no, cells, raw.rstrip("\r\n")
            index += 1
            line_no = reader.line_num + 1
    except csv.Error as exc:
        raise StatementError(
            f"The file is not readable as CSV near line {line_no}: {exc}."
        ) from None


def _records(stream: BinaryIO, encoding: str, delimiter: str, quotechar: str) -> Iterator[_Record]:
    """CSV records with the physical line each starts on and its original text."""
    for index, line_no, cells, raw in _raw_records(stream, encoding, delimiter, quotechar):
        yield _Record(index, line_no, cells, raw)


# --- sniffing -------------------------------------------------------------------------------

_SAMPLE_LINES = 200
_HEADER_SEARCH = 30


def _pick_delimiter(stream: BinaryIO, encoding: str) -> tuple[str, list[list[str]], int]:
    """The delimiter that reveals a header, else splits the most sample rows alike.

    A delimiter is ranked by the most header words one row shows (capped at 3), then by
    how many rows share one column count, then by that count. A row where a quote ends up
    inside a cell was split wrongly (a quoted field spans its delimiter), so it does not
    count.
    """
    lines: list[str] = []
    for line in _text_lines(stream, encoding):
        lines.append(line)
        if len(lines) >= _SAMPLE_LINES:
            break
    best: tuple[int, int, int, int] | None = None
    chosen, rows, chosen_width = ",", list[list[str]](), 0
    for rank, delimiter in enumerate(_DELIMITERS):
        try:
            split = list(csv.reader(lines, delimiter=delimiter, strict=False))
        except csv.Error:
            continue
        widths = Counter(len(r) for r in split if len(r) > 1 and not any('"' in c for c in r))
        if not widths:
            continue
        width, count = max(widths.items(), key=lambda wc: (wc[1], wc[0]))
        words = max(sum(_header_role(c) is not None for c in r) for r in split[:_HEADER_SEARCH])
        score = (min(words, 3), count, width, -rank)
        if best is None or score > best:
            best, chosen, rows, chosen_width = score, delimiter, split, width
    if best is None:
        raise StatementError("No delimiter (, ; tab |) splits the file into columns.")
    return chosen, rows, chosen_width


def _is_date(cell: str) -> bool:
    text = _date_text(cell)
    for fmt, rx in _DATE_SHAPES:
        if rx.fullmatch(text):
            try:
                datetime.strptime(text, fmt)
            except ValueError:
                continue
            return True
    return False


def _is_amount(cell: str) -> bool:
    return bool(cell.strip()) and _number_parts(cell) is not None and not _is_date(cell)


def _is_footer(cells: list[str]) -> bool:
    first = ""
    for cell in cells:
        first = cell.strip()
        if first:
            break
    if first and first[0] in "0123456789+-":
        return False  # _normalize keeps it as the first character, and _FOOTER needs a word
    return bool(_FOOTER.match(_normalize(first)))


def _column_kind(values: list[str]) -> str:
    """ "date", "amount", "marker", "currency", "empty" or "text", by a column's cells.

    Most cells (4 in 5) decide, so one bad cell in the sample, which parsing will reject,
    does not hide a column.
    """
    filled = [v.strip() for v in values if v.strip()]
    if not filled:
        return "empty"
    need = 0.8 * len(filled)
    tests = (
        ("date", _is_date),
        ("marker", lambda v: _normalize(v) in _MARKERS or v in "+-"),
        ("amount", _is_amount),
        ("currency", lambda v: re.fullmatch(r"[A-Z]{3}", v) is not None),
    )
    for kind, test in tests:
        if sum(map(test, filled)) >= need:
            return kind
    return "text"


def _roles_from_header(header: list[str], kinds: list[str]) -> dict[str, list[int]]:
    roles: dict[str, list[int]] = {}
    for index, cell in enumerate(header):
        role = _header_role(cell)
        if role is None:
            continue
        kind = kinds[index] if index < len(kinds) else "empty"
        if role in ("date", "booking_date", "value_date") and kind not in ("date", "empty"):
            continue  # "Date" over a column of times or text is not the date
        if role == "transaction_code" and kind == "marker":
            role = "marker"
        roles.setdefault(role, []).append(index)
    dates = [
        i for i in (roles.get("booking_date", []) + roles.get("date", [])) if kinds[i] == "date"
    ]
    if not roles.get("booking_date") or kinds[roles["booking_date"][0]] != "date":
        roles["booking_date"] = sorted(dates)[:1]
    generic = [i for i in roles.get("date", []) if i not in roles["booking_date"]]
    if not roles.get("value_date") and generic:
        roles["value_date"] = generic[:1]
    return roles


def _roles_from_content(kinds: list[str]) -> dict[str, list[int]]:
    """Columns of a headerless file, by what their cells look like."""
    roles: dict[str, list[int]] = {}
    dates = [i for i, k in enumerate(kinds) if k == "date"]
    amounts = [i for i, k in enumerate(kinds) if k == "amount"]
    roles["booking_date"] = dates[:1]
    roles["value_date"] = dates[1:2]
    if amounts:
        roles["amount"] = amounts[:1]
        roles["balance"] = amounts[1:2] if len(amounts) > 1 else []
    roles["marker"] = [i for i, k in enumerate(kinds) if k == "marker"][:1]
    roles["currency"] = [i for i, k in enumerate(kinds) if k == "currency"][:1]
    roles["description"] = [i for i, k in enumerate(kinds) if k == "text"]
    return roles


def sniff(stream: BinaryIO, *, date_format: str | None = None) -> CsvProfile:
    """Guess the profile of a bank CSV file, reading it whole but holding only a sample.

    ``date_format`` settles the date format when the user knows it (the file's dates may
    all have days <= 12). Raises :class:`StatementError` when the file is not a readable
    statement or a guess cannot be made safely. Leaves the stream at its start.
    """
    encoding = detect_encoding(stream)
    delimiter, sample, width = _pick_delimiter(stream, encoding)

    header_row: int | None = None
    for index, row in enumerate(sample[:_HEADER_SEARCH]):
        known = sum(_header_role(cell) is not None for cell in row)
        if known >= 3 or (known >= 2 and abs(len(row) - width) <= 1):
            header_row = index
            break
    if header_row is not None:
        data_row = header_row + 1
    else:
        data_row = next(
            (i for i, r in enumerate(sample) if len(r) == width and any(_is_date(c) for c in r)),
            -1,
        )
        if data_row < 0:
            raise StatementError("The file has no header and no column of dates.")
    # Column kinds come from the sample's full-width rows, not stray notes or footers.
    body = [r for r in sample[data_row:] if len(r) == width and not _is_footer(r)]
    if not body:
        raise StatementError(
            "The file has no transaction rows to learn its layout from; give a CSV profile."
        )
    ncols = max([width, *(len(r) for r in body)])
    kinds = [_column_kind([r[i] if i < len(r) else "" for r in body]) for i in range(ncols)]
    if header_row is not None:
        header = sample[header_row]
        roles = _roles_from_header(header, kinds)
    else:
        header = []
        roles = _roles_from_content(kinds)
    if not roles.get("booking_date"):
        raise StatementError("The file has no column of booking dates.")

    columns = _columns(roles, header, kinds)
    stream.seek(0)
    date_formats, separators = _DateFormats(), _Separators()
    value_formats = _DateFormats()
    index_of = {name: _resolve_index(ref, header) for name, ref in columns.refs()}
    amount_columns = [
        index_of[name] for name in ("amount", "debit", "credit", "balance") if name in index_of
    ]
    # The whole file votes, but each distinct date cell and amount shape is tested once,
    # weighted by how often it occurs (flushed every _CACHE_LIMIT distinct values).
    booking_at, value_at = index_of["booking_date"], index_of.get("value_date")
    seen: tuple[dict[str, int], dict[str, int], dict[str, int]] = ({}, {}, {})
    booking_seen, value_seen, shape_seen = seen

    def flush() -> None:
        for cell, times in booking_seen.items():
            date_formats.add(cell, times)
        for cell, times in value_seen.items():
            value_formats.add(cell, times)
        for shape, times in shape_seen.items():
            separators.add(shape, times)
        for counts in seen:
            counts.clear()

    for index, _, cells, _ in _raw_records(stream, encoding, delimiter, '"'):
        if index < data_row or _is_footer(cells):
            continue
        width_here = len(cells)
        if booking_at is not None and booking_at < width_here:
            cell = cells[booking_at]
            booking_seen[cell] = booking_seen.get(cell, 0) + 1
        if value_at is not None and value_at < width_here:
            cell = cells[value_at]
            value_seen[cell] = value_seen.get(cell, 0) + 1
        for i in amount_columns:
            if i is not None and i < width_here:
                shape = cells[i].translate(_SHAPE)
                shape_seen[shape] = shape_seen.get(shape, 0) + 1
        if len(booking_seen) + len(value_seen) + len(shape_seen) > _CACHE_LIMIT:
            flush()
    flush()
    stream.seek(0)
    if date_format is None:
        # Value dates are written like booking dates, so they count (and may settle a
        # booking-date ambiguity); a value-date column the format cannot read is dropped.
        both = _DateFormats()
        both.counts = date_formats.counts + value_formats.counts
        both.conflicts = date_formats.conflicts | value_formats.conflicts
        date_format = both.decide(repr(_column_label(columns.booking_date)))
    if value_formats.cells and value_formats.counts[date_format] < value_formats.cells:
        columns = replace(columns, value_date=None)
    decimal, thousands = separators.decide()
    profile = CsvProfile(
        columns=columns,
        date_format=date_format,
        encoding=encoding,
        delimiter=delimiter,
        header_row=header_row,
        data_row=data_row,
        decimal=decimal,
        thousands=thousands,
        sign=_sign(columns),
    )
    if profile.sign is Sign.SIGNED and columns.balance is not None:
        profile = _check_inverted(profile, sample[data_row:], header)
    return profile


def _column_label(ref: ColumnRef) -> str:
    return ref if isinstance(ref, str) else f"#{ref + 1}"


def _columns(roles: dict[str, list[int]], header: list[str], kinds: list[str]) -> Columns:
    """Columns by header name when the names are unique, else by index."""
    names = Counter(c.strip() for c in header)

    def ref(index: int) -> ColumnRef:
        name = header[index].strip() if index < len(header) else ""
        return name if name and names[name] == 1 else index

    def one(role: str) -> ColumnRef | None:
        found = roles.get(role) or []
        return ref(found[0]) if found else None

    amount, debit, credit = one("amount"), one("debit"), one("credit")
    marker = one("marker")
    used = {i for found in roles.values() for i in found}
    if marker is None:
        # A column of only CR/DR, S/H, +/- marks is the direction, whatever its header says.
        marks = [i for i, k in enumerate(kinds) if k == "marker" and i not in used]
        marker = ref(marks[0]) if marks else None
    if amount is None and (debit is None or credit is None):
        spare = [i for i, k in enumerate(kinds) if k == "amount" and i not in used]
        if debit is None and credit is None and spare:
            amount = ref(spare[0])
        else:
            raise StatementError("The file has no amount column (or debit and credit columns).")
    if amount is None:
        marker = None
    description = [ref(i) for i in roles.get("description", [])]
    counterparty = one("counterparty_name")
    if not description and counterparty is not None:
        description = [counterparty]  # "Payee" is the only text the bank gives
    return Columns(
        booking_date=ref(roles["booking_date"][0]),
        value_date=one("value_date"),
        amount=amount,
        debit=None if amount is not None else debit,
        credit=None if amount is not None else credit,
        marker=marker,
        description=tuple(description),
        counterparty_name=counterparty,
        counterparty_account=one("counterparty_account"),
        bank_reference=one("bank_reference"),
        balance=one("balance"),
        currency=one("currency"),
        transaction_code=one("transaction_code"),
    )


def _sign(columns: Columns) -> Sign:
    if columns.amount is None:
        return Sign.DEBIT_CREDIT
    return Sign.MARKER if columns.marker is not None else Sign.SIGNED


def _check_inverted(profile: CsvProfile, rows: list[list[str]], header: list[str]) -> CsvProfile:
    """``inverted`` when the running balance moves against the amounts (card exports)."""
    amount_at = _resolve_index(profile.columns.amount, header)
    balance_at = _resolve_index(profile.columns.balance, header)
    pairs: list[tuple[Decimal, Decimal]] = []
    for row in rows:
        try:
            amount = Decimal(
                _plain_decimal(_cell(row, amount_at), profile.decimal, profile.thousands)
            )
            balance = Decimal(
                _plain_decimal(_cell(row, balance_at), profile.decimal, profile.thousands)
            )
        except (ValueError, InvalidOperation):
            continue
        pairs.append((amount, balance))
    # Votes per (order, sign): oldest first, the balance moves by this row's amount; newest
    # first, by the previous row's. The sign whose best order explains more rows wins.
    votes = Counter[tuple[bool, bool]]()
    for (a0, b0), (a1, b1) in itertools.pairwise(pairs):
        votes[True, False] += b1 - b0 == a1
        votes[False, False] += b0 - b1 == a0
        votes[True, True] += b1 - b0 == -a1
        votes[False, True] += b0 - b1 == -a0
    same = max(votes[True, False], votes[False, False])
    inverted = max(votes[True, True], votes[False, True])
    return replace(profile, sign=Sign.INVERTED) if inverted > same else profile


# --- parsing --------------------------------------------------------------------------------


def _cell(cells: list[str], index: int | None) -> str:
    if index is None or index >= len(cells):
        return ""
    return cells[index].strip()


def _resolve_index(ref: ColumnRef | None, header: list[str]) -> int | None:
    if ref is None:
        return None
    if isinstance(ref, int):
        return ref
    stripped = [h.strip() for h in header]
    if ref.strip() in stripped:
        return stripped.index(ref.strip())
    folded = [h.casefold() for h in stripped]
    if ref.strip().casefold() in folded:
        return folded.index(ref.strip().casefold())
    raise StatementError(f"The file has no column {ref!r}, which the CSV profile names.")


@dataclass(frozen=True, slots=True)
class _Layout:
    """A profile's columns as indexes into one file's records."""

    profile: CsvProfile
    header: list[str]
    at: dict[str, int | None] = field(default_factory=dict)
    description: tuple[int, ...] = ()

    @classmethod
    def of(cls, profile: CsvProfile, header: list[str]) -> _Layout:
        at = {
            name: _resolve_index(getattr(profile.columns, name), header) for name in _SINGLE_COLUMNS
        }
        description = tuple(
            i
            for ref in profile.columns.description
            if (i := _resolve_index(ref, header)) is not None
        )
        return cls(profile, header, at, description)


def _read_header(stream: BinaryIO, profile: CsvProfile) -> list[str]:
    if profile.header_row is None:
        return []
    for record in _records(stream, profile.encoding, profile.delimiter, profile.quotechar):
        if record.index == profile.header_row:
            return record.cells
    raise StatementError(f"The file ends before its header row (record {profile.header_row}).")


def parse_csv(
    stream: BinaryIO, *, currency: str, profile: CsvProfile | None = None
) -> Iterator[Item]:
    """Read a bank CSV file: sniffed when no ``profile`` is given.

    The whole-file checks (encoding, header, columns) run before this returns, so a
    :class:`StatementError` comes from the call; a bad row becomes a :class:`Rejected`.
    """
    try:
        currency = currency.upper()
        scale = currency_scale(currency)
    except ValueError:
        raise StatementError(
            f"The account currency {currency!r} is not an ISO 4217 code."
        ) from None
    if profile is None:
        profile = sniff(stream)
    stream.seek(0)
    layout = _Layout.of(profile, _read_header(stream, profile))
    stream.seek(0)
    return _items(stream, layout, currency, scale)


def _items(stream: BinaryIO, layout: _Layout, currency: str, scale: int) -> Iterator[Item]:
    opening: StatementStart = StatementStart(index=0, currency=currency)
    closing: StatementEnd = StatementEnd(index=0)
    if layout.at["balance"] is not None:
        opening, closing = _balances(stream, layout, currency, scale)
        stream.seek(0)
    yield opening
    yield from _rows(stream, layout, currency, scale)
    yield closing


# Encodings where byte 0x0A is always a line feed, so a tail read from any byte offset
# re-syncs to a line start at its first b"\n".
_SEEKABLE = {"utf-8", "utf_8", "utf8", "utf-8-sig", "cp1252", "windows-1252", "latin-1",
             "latin_1", "iso-8859-1", "iso8859-1", "ascii", "us-ascii"}  # fmt: skip
_TAIL = 1 << 16


def _balances(
    stream: BinaryIO, layout: _Layout, currency: str, scale: int
) -> tuple[StatementStart, StatementEnd]:
    """The oldest and newest rows give the opening and closing balances.

    StatementStart comes before the lines, so this runs first. It reads the head until the
    first row with a balance and the last 64 KiB (re-synced to a line start) for the last
    one, instead of the whole file. It falls back to a full pass over every row when the
    tail cannot be read safely (an encoding where b"\\n" may be part of a character, a quote
    in the tail, which may be a quoted newline, or no row with a balance there), and when
    the first and last rows share a date, so that the order must come from how the
    balances add up over all rows.
    """
    first = _first_balanced(_rows(stream, layout, currency, scale))
    if first is None:
        return StatementStart(index=0, currency=currency), StatementEnd(index=0)
    last = _tail_balanced(stream, layout, currency, scale)
    if last is None or last.booking_date == first.booking_date:
        stream.seek(0)
        return _balances_full(stream, layout, currency, scale)
    return _start_end(first, last, last.booking_date < first.booking_date, currency)


def _first_balanced(rows: Iterator[BankTransaction | Rejected]) -> BankTransaction | None:
    for item in rows:
        if isinstance(item, BankTransaction) and item.running_balance is not None:
            return item
    return None


def _tail_balanced(
    stream: BinaryIO, layout: _Layout, currency: str, scale: int
) -> BankTransaction | None:
    """The last row with a balance, from the file's tail; None when it cannot be told."""
    profile = layout.profile
    if codecs.lookup(profile.encoding).name not in {codecs.lookup(e).name for e in _SEEKABLE}:
        return None
    size = stream.seek(0, 2)
    if size <= _TAIL:
        return None  # a small file: the full pass is cheap
    stream.seek(size - _TAIL)
    tail = stream.read(_TAIL)
    start = tail.find(b"\n") + 1
    if not start or profile.quotechar.encode(profile.encoding) in tail:
        return None
    try:
        text = tail[start:].decode(profile.encoding)
    except UnicodeDecodeError:
        return None
    read = _row_reader(layout, currency, scale)
    header_key = [h.strip() for h in layout.header]
    lines = _LINE.findall(text)
    if rest := text[sum(map(len, lines)) :]:
        lines.append(rest)  # the last line, without a line ending
    if len(lines) < 2:
        return None
    try:
        rows = list(csv.reader(lines, delimiter=profile.delimiter, quotechar=profile.quotechar))
    except csv.Error:
        return None
    if len(rows) != len(lines):
        return None
    for cells, raw in zip(reversed(rows), reversed(lines), strict=True):
        if not "".join(cells).strip():
            continue
        if header_key and [c.strip() for c in cells] == header_key:
            continue
        item = read(0, cells, raw.rstrip("\r\n"))
        if isinstance(item, BankTransaction) and item.running_balance is not None:
            return item
    return None


def _balances_full(
    stream: BinaryIO, layout: _Layout, currency: str, scale: int
) -> tuple[StatementStart, StatementEnd]:
    """A full first pass: every row's balance votes for the order when dates cannot."""
    first: BankTransaction | None = None
    last: BankTransaction | None = None
    oldest_first = newest_first = 0
    for item in _rows(stream, layout, currency, scale):
        if not isinstance(item, BankTransaction) or item.running_balance is None:
            continue
        if last is not None and last.running_balance is not None:
            oldest_first += item.running_balance - last.running_balance == item.amount
            newest_first += last.running_balance - item.running_balance == last.amount
        first = first or item
        last = item
    if first is None or last is None:
        return StatementStart(index=0, currency=currency), StatementEnd(index=0)
    if first.booking_date != last.booking_date:
        newest_on_top = last.booking_date < first.booking_date
    else:
        newest_on_top = newest_first > oldest_first
    return _start_end(first, last, newest_on_top, currency)


def _start_end(
    first: BankTransaction, last: BankTransaction, newest_on_top: bool, currency: str
) -> tuple[StatementStart, StatementEnd]:
    oldest, newest = (last, first) if newest_on_top else (first, last)
    if oldest.running_balance is None:  # cannot happen: the profile was checked
        raise StatementError("the CSV profile does not map a column it needs")
    return (
        StatementStart(
            index=0,
            currency=currency,
            opening_balance=oldest.running_balance - oldest.amount,
            opening_date=oldest.booking_date,
        ),
        StatementEnd(
            index=0, closing_balance=newest.running_balance, closing_date=newest.booking_date
        ),
    )


def _rows(
    stream: BinaryIO, layout: _Layout, currency: str, scale: int
) -> Iterator[BankTransaction | Rejected]:
    profile = layout.profile
    header_key = [h.strip() for h in layout.header]
    width = len(header_key)
    first_key = header_key[0] if header_key else ""
    data_row = profile.data_row
    read = _row_reader(layout, currency, scale)
    for index, line_no, cells, raw in _raw_records(
        stream, profile.encoding, profile.delimiter, profile.quotechar
    ):
        if index < data_row or not "".join(cells).strip():
            continue
        if (
            width
            and len(cells) == width
            and cells[0].strip() == first_key
            and [c.strip() for c in cells] == header_key
        ):
            continue  # the header repeated, as concatenated exports do
        item = read(line_no, cells, raw)
        if item is not None:
            yield item


def _row_reader(
    layout: _Layout, currency: str, scale: int
) -> Callable[[int, list[str], str], BankTransaction | Rejected | None]:
    """A function reading one record as a bank line, a rejection naming the bad field, or
    None for a footer. Column indexes, caches and the profile are looked up once here.

    Width rules (with a header): a record with more non-empty cells than the header, trailing
    empty cells aside, is rejected as a whole (an unquoted delimiter, e.g. a decimal comma,
    shifted its cells); one too short for a mapped column is rejected naming that column.
    """
    profile, at = layout.profile, layout.at
    fmt, sign = profile.date_format, profile.sign
    read_date = _date_reader(fmt)
    minor = _minor_reader(profile.decimal, profile.thousands)
    account_scale = scale
    width = len(layout.header)
    mapped = [(name, i) for name, i in at.items() if i is not None]
    mapped += [("description", i) for i in layout.description]
    need = max((i + 1 for _, i in mapped), default=0)
    missing = sorted(mapped, key=lambda ni: ni[1])
    labels = {
        i: _column_label(layout.header[i].strip()) if i < width else f"#{i + 1}" for _, i in mapped
    }
    booking_at = at["booking_date"]
    if booking_at is None:  # cannot happen: the profile was checked
        raise StatementError("the CSV profile does not map a column it needs")
    value_at, currency_at = at["value_date"], at["currency"]
    amount_at, debit_at, credit_at = at["amount"], at["debit"], at["credit"]
    marker_at, balance_at = at["marker"], at["balance"]
    name_at, account_at = at["counterparty_name"], at["counterparty_account"]
    reference_at, code_at = at["bank_reference"], at["transaction_code"]
    description_at = layout.description

    def read(line_no: int, cells: list[str], raw: str) -> BankTransaction | Rejected | None:
        n = len(cells)
        booking_cell = cells[booking_at].strip() if booking_at < n else ""
        booking_date = read_date(booking_cell)
        if booking_date is None and _is_footer(cells):
            return None
        if width and n > width:
            filled = n
            while filled > width and not cells[filled - 1].strip():
                filled -= 1
            if filled > width:
                return Rejected(
                    line_no,
                    "row",
                    f"has {filled} cells; the header has {width} (an unquoted delimiter?)",
                    raw,
                )
        if booking_date is None and booking_cell:
            return Rejected(
                line_no, "booking_date", f"{booking_cell!r} is not a date in {fmt}", raw
            )
        if n < need:
            name, i = next(ni for ni in missing if ni[1] >= n)
            return Rejected(
                line_no,
                name,
                f"is missing: the row has {n} cells; column {labels[i]!r} is #{i + 1}",
                raw,
            )
        if booking_date is None:
            return Rejected(line_no, "booking_date", "is empty", raw)
        value_date: date | None = None
        if value_at is not None and (value_cell := cells[value_at].strip()):
            value_date = read_date(value_cell)
            if value_date is None:
                return Rejected(
                    line_no, "value_date", f"{value_cell!r} is not a date in {fmt}", raw
                )
        row_currency, row_scale = currency, account_scale
        if currency_at is not None and (code := cells[currency_at].strip()):
            try:
                row_scale = currency_scale(code)
            except ValueError:
                return Rejected(line_no, "currency", f"{code!r} is not an ISO 4217 currency", raw)
            row_currency = code.upper()

        field_name = "amount"
        try:
            if sign is Sign.DEBIT_CREDIT:
                if debit_at is None:  # cannot happen: the profile was checked
                    raise StatementError("the CSV profile does not map a column it needs")
                if credit_at is None:  # cannot happen: the profile was checked
                    raise StatementError("the CSV profile does not map a column it needs")
                field_name = "debit"
                cell = cells[debit_at].strip()
                debit = minor(cell, row_scale) if cell else None
                field_name = "credit"
                cell = cells[credit_at].strip()
                credit = minor(cell, row_scale) if cell else None
                if debit is None and credit is None:
                    return Rejected(line_no, "amount", "both debit and credit are empty", raw)
                amount = abs(credit or 0) - abs(debit or 0)
            else:
                if amount_at is None:  # cannot happen: the profile was checked
                    raise StatementError("the CSV profile does not map a column it needs")
                cell = cells[amount_at].strip()
                if not cell:
                    return Rejected(line_no, "amount", "is empty", raw)
                value = minor(cell, row_scale)
                if sign is Sign.INVERTED:
                    amount = -value
                elif sign is Sign.MARKER:
                    if marker_at is None:  # cannot happen: the profile was checked
                        raise StatementError("the CSV profile does not map a column it needs")
                    mark = cells[marker_at].strip()
                    direction = _MARKERS.get(_normalize(mark)) or _MARKERS.get(mark)
                    if direction is None:
                        return Rejected(
                            line_no, "marker", f"{mark!r} is not a debit/credit marker", raw
                        )
                    amount = direction * abs(value)
                else:
                    amount = value
            field_name = "balance"
            balance: int | None = None
            if balance_at is not None and (cell := cells[balance_at].strip()):
                balance = minor(cell, row_scale)
        except ValueError as exc:
            return Rejected(line_no, field_name, str(exc), raw)

        if len(description_at) == 1:
            description = " ".join(cells[description_at[0]].split())
        else:
            description = " ".join(" ".join([cells[i] for i in description_at]).split())
        return BankTransaction(
            line_no=line_no,
            statement_index=0,
            booking_date=booking_date,
            amount=amount,
            currency=row_currency,
            description=description,
            raw=raw,
            value_date=value_date,
            counterparty_name=(" ".join(cells[name_at].split()) or None)
            if name_at is not None
            else None,
            counterparty_account=(cells[account_at].strip() or None)
            if account_at is not None
            else None,
            bank_reference=(cells[reference_at].strip() or None)
            if reference_at is not None
            else None,
            transaction_code=(cells[code_at].strip() or None) if code_at is not None else None,
            running_balance=balance,
        )

    return read
