"""SWIFT MT940 statements and MT942 interim reports.

The file is split into tag records here (a tag line plus its continuation lines), so each
``:61:`` keeps its 1-based line number and a bad one becomes a :class:`Rejected` line
instead of losing the file; each record is then read with the ``mt940`` library
(:class:`mt940.models.Transactions` with a currency pre-processor, and its ``:86:``
post-processor for the German ``?NN`` sub-fields). A new statement starts at every
``:20:``; ``{1:...}{2:...}{4:`` envelopes, ``-`` trailers, blank lines and text before the
first tag are skipped.

Decisions worth knowing:

- A ``:61:`` that the SWIFT pattern refuses is retried with the library's ASN Bank and
  GLS variants (longer customer references) before it is rejected.
- Signs: ``C`` and ``RD`` are money in, ``D`` and ``RC`` money out (``RC`` reverses a
  credit). The booking date is the entry date (``MMDD``, its year taken from the value
  date, across a year end when they are far apart), else the value date.
- Currency: the first balance's (``:60:``/``:62:``/``:64:``), else a code at the end of
  ``:25:`` (``51210600/9223382012EUR``, removed from the account), else the argument.
- The account is the first ``:25:`` of the statement; other statement fields, when
  repeated, take the last value (as the library does).
- An ``:86:`` only belongs to the ``:61:`` right before it; an ``:86:`` after the closing
  balance (ING's statement summary) is statement information and is not attached to the
  last line.
- ``:86:`` layouts: German structured (``NNN?00...?20...?32``, with SEPA keywords
  ``EREF+ KREF+ MREF+ CRED+ SVWZ+ ABWA+``), Triodos' ``NNN>20`` variant of it, Dutch
  ``/TRTP/.../NAME/.../REMI/`` (ABN AMRO, ING, Rabobank, Triodos, Knab), Knab's
  ``REK: ... /NAAM: ...`` and free text (lines joined with a space).
- Text is UTF-8 when it decodes as such, else Windows-1252, else ISO-8859-1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, BinaryIO

from mt940 import models, processors, tags
from mt940.options import Options

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
from autoledger.kit.money import iso_currency

_OPTIONS = Options.all()
_TAG_LINE = re.compile(r":(?P<tag>(?P<number>[0-9]{2})[A-Z]?|NS):")
_KNOWN_TAGS = frozenset(str(key) for key in tags.TAG_BY_ID)
_STATEMENT_LINE_TAGS = (tags.Statement(), tags.StatementASNB(), tags.StatementGLS())
_DETAILS_TAG = tags.TransactionDetails()
_NO_REFERENCE = frozenset({"", "NONREF", "NOTPROVIDED"})
_ACCOUNT_CURRENCY = re.compile(r"(?P<account>.*[0-9])[ /]?(?P<currency>[A-Z]{3})")
_IBAN = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{10,30}")
_TRIODOS = re.compile(r"[0-9]{3}>[0-9]{2}")
_GERMAN = re.compile(r"[0-9]{3}\?[0-9]{2}")
_DUTCH_KEYS = (
    "TRTP|EREF|NAME|IBAN|BIC|REMI|BENM|ORDP|CSID|MARF|ISDT|ADDR|RTRN|PREF|CNTP|PURP|"
    "SVCL|ULTB|ULTD|CDTRREFTP|CDTRREF|CREF|IREF|OCMT|EXCH|CHGS|ID|MARF"
)
_DUTCH_FIELD = re.compile(rf"/({_DUTCH_KEYS})/")
_KNAB_ACCOUNT = re.compile(r"REK:\s*(?P<account>[A-Z]{2}[0-9]{2}[A-Z0-9]+)")
_KNAB_NAME = re.compile(r"NAAM:\s*(?P<name>[^\n]+)")
_SPACES = re.compile(r"\s+")
# German ?NN sub-fields and SEPA keywords the library names, as autoledger's extra keys.
_GERMAN_EXTRA = {
    "transaction_code": "gvc",
    "posting_text": "posting_text",
    "prima_nota": "prima_nota",
    "applicant_bin": "counterparty_bic",
    "additional_position_reference": "mandate_reference",
    "applicant_creditor_id": "creditor_id",
    "deviate_applicant": "ultimate_party",
    "deviate_recipient": "ultimate_recipient",
    "purpose_code": "purpose_code",
    "return_debit_notes": "return_reason",
    "recipient_name": "recipient_name",
    "additional_purpose": "additional_purpose",
}


@dataclass(slots=True)
class _Record:
    """One tag and its continuation lines, as in the file."""

    tag: str
    line_no: int
    lines: list[str]

    @property
    def value(self) -> str:
        return "\n".join([self.lines[0][len(self.tag) + 2 :], *self.lines[1:]])

    @property
    def number(self) -> str:
        return self.tag[:2]


@dataclass(slots=True)
class _Statement:
    header: list[_Record] = field(default_factory=list)
    entries: list[list[_Record]] = field(default_factory=list)  # a :61: and its :86:/:NS:


def parse_mt940(stream: BinaryIO, *, currency: str) -> Iterator[Item]:
    """Statements of an MT940 or MT942 file, in file order.

    ``currency`` is used where a statement names none (no balance, no code in ``:25:``).
    """
    records = _records(_decode(stream.read()))
    if not records:
        raise StatementError("not an MT940 file: no SWIFT tag such as :20: or :61: found")
    for index, statement in enumerate(_statements(records)):
        yield from _statement_items(statement, index, currency.upper())


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _records(text: str) -> list[_Record]:
    records: list[_Record] = []
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        stripped = line.rstrip()
        match = _TAG_LINE.match(stripped)
        if match and (match.group("tag") in _KNOWN_TAGS or match.group("number") in _KNOWN_TAGS):
            records.append(_Record(match.group("tag"), number, [stripped]))
        elif not stripped.strip() or stripped.startswith(("{", "-")):
            continue  # blank line, envelope block or end-of-message trailer
        elif records:
            records[-1].lines.append(stripped)
    return records


def _statements(records: list[_Record]) -> Iterator[_Statement]:
    statement = _Statement()
    in_entry = False
    for record in records:
        if record.number == "20" and (statement.header or statement.entries):
            yield statement
            statement = _Statement()
        if record.number == "61":
            statement.entries.append([record])
            in_entry = True
        elif in_entry and record.tag in {"86", "NS"}:
            statement.entries[-1].append(record)
        else:
            if record.number != "86":  # an :86: outside a line describes the statement
                statement.header.append(record)
            in_entry = False
    if statement.header or statement.entries:
        yield statement


def _statement_items(statement: _Statement, index: int, fallback: str) -> Iterator[Item]:
    data = _header_data(statement.header, index)
    account = next((r.value.strip() for r in statement.header if r.number == "25"), None)
    currency = _balance_currency(data)
    if account:
        split = _ACCOUNT_CURRENCY.fullmatch(account)
        if split and iso_currency(split.group("currency")) is not None:
            account = split.group("account")
            currency = currency or split.group("currency")
    currency = (currency or fallback).upper()
    try:
        scale = currency_scale(currency)
    except ValueError as error:
        raise StatementError(f"statement {index + 1}: {error}") from error
    opening = _first(
        data, "final_opening_balance", "intermediate_opening_balance", "opening_balance"
    )
    closing = _first(
        data, "final_closing_balance", "intermediate_closing_balance", "closing_balance"
    )
    yield StatementStart(
        index=index,
        account=account or None,
        currency=currency,
        opening_balance=_balance_minor(opening, scale, index),
        opening_date=_plain_date(getattr(opening, "date", None)),
        statement_id=(data.get("transaction_reference") or "").strip() or None,
    )
    for entry in statement.entries:
        yield _entry(entry, index, currency, scale)
    yield StatementEnd(
        index=index,
        closing_balance=_balance_minor(closing, scale, index),
        closing_date=_plain_date(getattr(closing, "date", None)),
    )


def _header_data(header: list[_Record], index: int) -> dict[str, Any]:
    transactions = models.Transactions(options=_OPTIONS)
    for record in header:
        try:
            transactions.parse(f":{record.tag}:{record.value}")
        except (RuntimeError, ValueError, ArithmeticError) as error:
            raise StatementError(
                f"statement {index + 1} has an unreadable :{record.tag}: field on line "
                f"{record.line_no}: {_reason(error)}"
            ) from error
    return transactions.data


def _balance_currency(data: dict[str, Any]) -> str | None:
    for key in (
        "final_opening_balance",
        "intermediate_opening_balance",
        "opening_balance",
        "final_closing_balance",
        "intermediate_closing_balance",
        "closing_balance",
        "available_balance",
        "forward_available_balance",
    ):
        amount = getattr(data.get(key), "amount", None)
        code = getattr(amount, "currency", None)
        if isinstance(code, str) and code.strip():
            return code.strip()
    for key in ("c_floor_limit", "d_floor_limit"):
        code = getattr(data.get(key), "currency", None)
        if isinstance(code, str) and code.strip():
            return code.strip()
    return None


def _first(data: dict[str, Any], *keys: str) -> Any:
    return next((data[key] for key in keys if data.get(key) is not None), None)


def _balance_minor(balance: Any, scale: int, index: int) -> int | None:
    amount = getattr(balance, "amount", None)
    if not isinstance(amount, models.Amount):
        return None
    try:
        return to_minor(_decimal_text(amount.amount), scale)
    except ValueError as error:
        raise StatementError(f"statement {index + 1} has an unreadable balance: {error}") from error


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


def _plain_date(value: Any) -> date | None:
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    return None


def _reason(error: Exception) -> str:
    if isinstance(error, RuntimeError) and error.args:
        return str(error.args[0])
    return str(error) or type(error).__name__


def _statement_line(value: str, currency: str) -> dict[str, Any]:
    """The ``:61:`` fields; the SWIFT pattern first, then the library's bank variants."""
    last: Exception | None = None
    for tag in _STATEMENT_LINE_TAGS:
        transactions = models.Transactions(
            processors={
                "pre_statement": [
                    processors.date_fixup_pre_processor,
                    processors.add_currency_pre_processor(currency),
                ]
            },
            tags={61: tag},
            options=_OPTIONS,
        )
        try:
            transactions.parse(f":61:{value}")
        except (RuntimeError, ValueError, ArithmeticError) as error:
            last = error
            continue
        if len(transactions) == 1:
            return transactions[0].data
    raise ValueError(_reason(last) if last else "no statement line found")


def _entry(
    entry: list[_Record], index: int, currency: str, scale: int
) -> BankTransaction | Rejected:
    line = entry[0]
    raw = "\n".join(text for record in entry for text in record.lines)
    try:
        data = _statement_line(line.value, currency)
        amount = to_minor(_decimal_text(data["amount"].amount), scale)
        value_date = _plain_date(data.get("date"))
    except (ValueError, ArithmeticError, KeyError) as error:
        return Rejected(line.line_no, ":61:", _reason(error), raw)
    if value_date is None:
        return Rejected(line.line_no, ":61:", "the statement line has no value date", raw)
    extra: dict[str, str] = {}
    customer_reference = _reference(data.get("customer_reference"))
    _put(extra, "customer_reference", customer_reference)
    supplementary = _clean(data.get("extra_details"))
    _put(extra, "supplementary_details", supplementary)
    _put(extra, "funds_code", _clean(data.get("funds_code")))
    _put(extra, "debit_credit_mark", _clean(data.get("status")))
    details = _details(entry[1:])
    if supplementary and _IBAN.fullmatch(supplementary) and not details.get("counterparty_account"):
        details["counterparty_account"] = supplementary
    extra.update(details.pop("extra", {}))
    return BankTransaction(
        line_no=line.line_no,
        statement_index=index,
        booking_date=_plain_date(data.get("entry_date")) or value_date,
        amount=amount,
        currency=currency,
        description=details.get("description") or "",
        raw=raw,
        value_date=value_date,
        counterparty_name=details.get("counterparty_name"),
        counterparty_account=details.get("counterparty_account"),
        bank_reference=_reference(data.get("bank_reference")),
        end_to_end_id=details.get("end_to_end_id"),
        transaction_code=_clean(data.get("id")),
        extra=extra,
    )


def _details(records: list[_Record]) -> dict[str, Any]:
    """What the ``:86:`` lines say, in autoledger's names; ``extra`` holds the rest."""
    non_swift = [r for r in records if r.tag == "NS"]
    lines = [text for r in records if r.tag == "86" for text in r.value.split("\n")]
    result: dict[str, Any] = {"extra": {}}
    if non_swift:
        result["extra"]["non_swift"] = "\n".join(r.value for r in non_swift)
    if not lines:
        return result
    joined = "".join(lines)
    if _TRIODOS.match(joined):
        joined = joined.replace(">", "?")
    if _GERMAN.match(joined):
        return _german(joined, result)
    if joined.startswith("/") and _DUTCH_FIELD.search(joined):
        return _dutch(joined, result)
    text = _SPACES.sub(" ", " ".join(lines)).strip()
    result["description"] = text
    if (account := _KNAB_ACCOUNT.search(text)) is not None:
        result["counterparty_account"] = account.group("account")
    if (name := _KNAB_NAME.search("\n".join(lines))) is not None:
        result["counterparty_name"] = name.group("name").strip()
    return result


def _german(text: str, result: dict[str, Any]) -> dict[str, Any]:
    transactions = models.Transactions(options=_OPTIONS)
    parsed: dict[str, Any] = processors.transaction_details_post_processor(
        transactions, _DETAILS_TAG, {"transaction_details": text}, {"transaction_details": text}
    )
    extra: dict[str, str] = result["extra"]
    for key, name in _GERMAN_EXTRA.items():
        _put(extra, name, _clean(parsed.get(key)))
    _put(extra, "sepa_customer_reference", _reference(parsed.get("customer_reference")))
    result["counterparty_name"] = _collapse(parsed.get("applicant_name"))
    result["counterparty_account"] = _clean(parsed.get("applicant_iban")) or _clean(
        parsed.get("gvc_applicant_iban")
    )
    result["end_to_end_id"] = _reference(parsed.get("end_to_end_reference"))
    result["description"] = _collapse(parsed.get("purpose")) or _collapse(
        parsed.get("posting_text")
    )
    return result


def _dutch(text: str, result: dict[str, Any]) -> dict[str, Any]:
    parts = _DUTCH_FIELD.split(text)
    fields: dict[str, str] = {}
    for key, value in zip(parts[1::2], parts[2::2], strict=True):
        fields.setdefault(key, value.strip().rstrip("/").strip())
    extra: dict[str, str] = result["extra"]
    if counterparty := fields.get("CNTP"):
        # Rabobank: /CNTP/<account>/<BIC>/<name>/<city>/
        account, _, rest = counterparty.partition("/")
        bic, _, rest = rest.partition("/")
        name, _, _city = rest.partition("/")
        fields.setdefault("IBAN", account)
        fields.setdefault("BIC", bic)
        fields.setdefault("NAME", name)
    remittance = fields.get("REMI", "")
    remittance = re.sub(r"^(?:USTD|STRD)//?(?:CUR/)?|^(?:USTD|STRD)/", "", remittance)
    for key, name in (
        ("TRTP", "transaction_type"),
        ("BIC", "counterparty_bic"),
        ("CSID", "creditor_id"),
        ("MARF", "mandate_reference"),
        ("ISDT", "instruction_date"),
        ("RTRN", "return_reason"),
        ("PURP", "purpose_code"),
    ):
        _put(extra, name, _clean(fields.get(key)))
    result["counterparty_name"] = _collapse(fields.get("NAME"))
    result["counterparty_account"] = _clean(fields.get("IBAN"))
    result["end_to_end_id"] = _reference(fields.get("EREF"))
    result["description"] = (
        _collapse(remittance.rstrip("/"))
        or _collapse(fields.get("NAME"))
        or _collapse(fields.get("TRTP"))
        or _collapse(text)
    )
    return result


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _collapse(value: Any) -> str | None:
    cleaned = _clean(value)
    return _SPACES.sub(" ", cleaned) if cleaned else None


def _reference(value: Any) -> str | None:
    cleaned = _clean(value)
    if cleaned is None or cleaned.upper() in _NO_REFERENCE:
        return None
    return cleaned


def _put(extra: dict[str, str], key: str, value: str | None) -> None:
    if value is not None:
        extra[key] = value
