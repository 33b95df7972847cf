"""The ECB's euro foreign exchange reference rates as CSV. Pure: no I/O (ADR 0017).

Two layouts, both with the euro as base and one column per currency:

- the history file ``eurofxref-hist.csv``: ``Date,USD,JPY,…,`` then one row per day,
  newest first, ``2026-10-30,1.1172,175.68,N/A,…,`` (``N/A`` where a currency was not
  quoted, a trailing comma on every row);
- the daily file ``eurofxref.csv``: ``Date, USD, JPY, …, `` then ``30 October 2026, 1.1172,
  …, `` (spaces after the commas, the date spelled out).

Every row is checked; a bad cell is reported with its line and column, never skipped.
"""

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime

from autoledger.fx.rates import Rate, parse_rate
from autoledger.kit.errors import InvalidRequest
from autoledger.kit.money import iso_currency

BASE = "EUR"
_CODE = re.compile(r"[A-Z]{3}")
MISSING = {"", "N/A", "NA", "-"}


class EcbFileError(InvalidRequest):
    code = "fx.invalid_rates_file"
    title = "Unreadable exchange-rate file"


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    column: str
    reason: str


@dataclass(frozen=True, slots=True)
class EcbFile:
    rates: list[Rate]
    problems: list[Problem]  # cells that are not rates: the file is refused
    #: columns of currencies no longer in ISO 4217 (the history keeps the euro's
    #: predecessors, CYP, SIT, …, and those that joined it since, BGN, HRK): left out
    skipped: list[str]


def parse(text: str) -> EcbFile:
    """The rates of an ECB CSV file and the problems of its cells (line, column, reason)."""
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if header is None or not header or header[0].strip().lower() != "date":
        raise EcbFileError("not an ECB reference-rate file: the first column must be 'Date'")
    columns = [c.strip().upper() for c in header[1:]]
    currencies: list[str | None] = []
    skipped: list[str] = []
    for name in columns:
        if not name:
            currencies.append(None)  # the trailing comma
        elif not _CODE.fullmatch(name):
            raise EcbFileError(f"column {name!r} is not a currency code")
        elif iso_currency(name) is None:
            currencies.append(None)
            skipped.append(name)
        else:
            currencies.append(name)
    rates: list[Rate] = []
    problems: list[Problem] = []
    for line_no, row in enumerate(rows, start=2):
        if not row or not "".join(row).strip():
            continue
        try:
            day = _day(row[0])
        except ValueError as exc:
            problems.append(Problem(line_no, "Date", str(exc)))
            continue
        for currency, cell in zip(currencies, row[1:], strict=False):
            value = cell.strip()
            if currency is None or value.upper() in MISSING:
                continue
            try:
                rates.append(Rate(BASE, currency, day, parse_rate(value)))
            except ValueError as exc:
                problems.append(Problem(line_no, currency, str(exc)))
    return EcbFile(rates, problems, skipped)


def _day(text: str) -> date:
    value = text.strip()
    for layout in ("%Y-%m-%d", "%d %B %Y"):
        try:
            return datetime.strptime(value, layout).date()
        except ValueError:
            continue
    raise ValueError(f"{value!r} is not a date (2026-10-30 or 30 October 2026)")
