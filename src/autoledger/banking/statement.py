"""The normalized shape every statement parser produces, whatever the file format.

A parser reads a file as a stream and yields, in file order, :class:`StatementStart`,
then that statement's :class:`BankTransaction` and :class:`Rejected` lines, then
:class:`StatementEnd`; a file may hold several statements (CAMT.053, MT940). Nothing is
kept in memory beyond the record being read, so a 100,000-line file costs what one line
costs. Amounts are signed integers of minor units (money in is positive, money out
negative); the currency's scale comes from ISO 4217 via :mod:`autoledger.kit.money`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import BinaryIO, Protocol

from autoledger.kit.errors import InvalidRequest
from autoledger.kit.money import MAX_AMOUNT, iso_currency


class Format(StrEnum):
    CSV = "csv"
    OFX = "ofx"
    CAMT053 = "camt053"
    MT940 = "mt940"


class StatementError(InvalidRequest):
    """The file as a whole cannot be read (not one bad line: that is :class:`Rejected`)."""

    code = "banking.unreadable_statement"
    title = "Unreadable statement file"


@dataclass(frozen=True, slots=True)
class StatementStart:
    """A statement begins: the account it is for and its opening balance, where given."""

    index: int  # 0-based ordinal of the statement in the file
    account: str | None = None  # IBAN or account number as written in the file
    currency: str | None = None
    opening_balance: int | None = None  # minor units, signed
    opening_date: date | None = None
    statement_id: str | None = None


@dataclass(frozen=True, slots=True)
class StatementEnd:
    """A statement ends: its closing balance, where given (checked against the lines)."""

    index: int
    closing_balance: int | None = None
    closing_date: date | None = None


@dataclass(frozen=True, slots=True)
class BankTransaction:
    """One booked bank line, normalized.

    ``line_no`` is where the record starts in the file (1-based text line for CSV, OFX
    SGML and MT940; the entry's line in the XML for OFX 2 and CAMT), so a report can point
    at it. ``raw`` is the record as the file had it, kept for audit.
    """

    line_no: int
    statement_index: int
    booking_date: date
    amount: int  # signed minor units: + money in, - money out
    currency: str
    description: str
    raw: str
    value_date: date | None = None
    counterparty_name: str | None = None
    counterparty_account: str | None = None  # sensitive: encrypted at rest
    bank_reference: str | None = None
    end_to_end_id: str | None = None
    transaction_code: str | None = None
    running_balance: int | None = None
    # Format-specific facts worth keeping, as strings: charges, the instructed amount and
    # currency with the exchange rate, a purpose code, a check number, ...
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that could not be read, and exactly why."""

    line_no: int
    field: str
    reason: str
    raw: str = ""


Item = StatementStart | BankTransaction | Rejected | StatementEnd


class Parser(Protocol):
    """Reads one format from a binary stream positioned at the start of the file."""

    def __call__(self, stream: BinaryIO, *, currency: str) -> Iterator[Item]:
        """``currency`` is the bank account's, for formats that do not name one (CSV)."""
        ...


def currency_scale(code: str) -> int:
    """Minor-unit exponent of an ISO 4217 currency; :class:`ValueError` when unknown."""
    asset = iso_currency(code.upper())
    if asset is None:
        raise ValueError(f"unknown currency {code!r}")
    return asset.scale


_NUMBER = re.compile(r"([+-]?)([0-9]*)(?:\.([0-9]*))?")


def to_minor(text: str, scale: int) -> int:
    """Minor units of a plain decimal (``"-1234.5"``, ``"+.50"``, ``"12."``) at ``scale``.

    Separators other than one ``.`` must be normalized away by the caller first. More
    decimals than the currency has are refused unless they are zeros (``"1.500"`` in EUR is
    exact; ``"1.505"`` is not, and rounding would invent money), as is a magnitude beyond
    what the ledger can hold. Raises :class:`ValueError` with the reason.
    """
    stripped = text.strip()
    match = _NUMBER.fullmatch(stripped)
    if match is None or not (match.group(2) or match.group(3)):
        raise ValueError(f"{text!r} is not a number")
    sign, whole, fraction = match.group(1), match.group(2) or "0", match.group(3) or ""
    extra = fraction[scale:]
    if extra.strip("0"):
        raise ValueError(f"{text!r} has more decimals than the currency's {scale}")
    minor = int(whole + fraction[:scale].ljust(scale, "0"))
    if abs(minor) > MAX_AMOUNT:
        raise ValueError(f"{text!r} is larger than the ledger can hold")
    return -minor if sign == "-" else minor
