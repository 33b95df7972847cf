"""SWIFT MT940 customer statement text for a demo statement.

The text is the message body (block 4) as banks hand it out in statement downloads,
without the ``{1:}{2:}`` envelope, ending with the ``-`` trailer line. Lines end in CRLF
and hold only the SWIFT ``X`` character set (``A-Z a-z 0-9 / - ? : ( ) . , ' +`` and
space), so the bytes are plain ASCII. Other characters are mapped deterministically:
letters lose their accents (``ü`` → ``u``, ``ß`` → ``ss``), ``&`` becomes ``+``, ``_``
becomes ``-`` and anything else becomes ``.``.

Field limits are kept: ``:20:`` and both ``:61:`` references at most 16 characters,
``:86:`` at most 6 lines of 65. A reference that does not fit is cut; a bank reference
(the line id) that does not fit is refused, because a cut one could name two lines.
"""

import textwrap
import unicodedata
from datetime import date

from autoledger.demo.model import Statement, StatementLine
from autoledger.demo.writers.camt import currency_scale, transaction_kind
from autoledger.kit.money import format_amount

_SWIFT_X = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/-?:().,'+ ")
_SPECIAL = {
    "ß": "ss",
    "Æ": "AE",
    "æ": "ae",
    "Ø": "O",
    "ø": "o",
    "Œ": "OE",
    "œ": "oe",
    "Ł": "L",
    "ł": "l",
    "Đ": "D",
    "đ": "d",
    "Þ": "TH",
    "þ": "th",
    "&": "+",
    "_": "-",
}
_REFERENCE_LENGTH = 16
_DETAIL_LINES = 6
_DETAIL_WIDTH = 65
_MAX_STATEMENT_NUMBER = 99999

# MT940 transaction type identification codes (N + SWIFT code) per format-neutral kind.
_TYPE_CODES = {
    "fee": "NCHG",
    "interest": "NINT",
    "cheque": "NCHK",
    "direct_debit": "NDDT",
    "transfer": "NTRF",
}


def write_mt940(statement: Statement) -> bytes:
    """The statement as MT940 text in ASCII with CRLF line ends; same input, same bytes."""
    if not 0 < statement.number <= _MAX_STATEMENT_NUMBER:
        raise ValueError(f"statement number {statement.number} does not fit :28C: (5 digits)")
    account = statement.account
    scale = currency_scale(account.currency)
    currency = account.currency
    lines = [
        f":20:{statement.end:%Y%m%d}-{statement.number:05d}",
        f":25:{account.iban}",
        f":28C:{statement.number:05d}/001",
        f":60F:{_balance(statement.opening_balance, statement.start, currency, scale)}",
    ]
    for line in statement.lines:
        lines.append(f":61:{_statement_line(line, scale)}")
        details = _details(line)
        if details:
            lines.append(f":86:{details[0]}")
            lines.extend(details[1:])
    closing = _balance(statement.closing_balance, statement.end, currency, scale)
    lines += [f":62F:{closing}", f":64:{closing}", "-"]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def swift_text(text: str) -> str:
    """``text`` in the SWIFT ``X`` character set (see the module docstring for the mapping)."""
    out = []
    for char in text:
        if char in _SWIFT_X:
            out.append(char)
        elif char in _SPECIAL:
            out.append(_SPECIAL[char])
        else:
            # NFKD splits "ü" into "u" + combining diaeresis; the mark is dropped below.
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if c in _SWIFT_X)
            out.append(base or ".")
    return "".join(out)


def _balance(amount: int, day: date, currency: str, scale: int) -> str:
    mark = "D" if amount < 0 else "C"
    return f"{mark}{day:%y%m%d}{currency}{_amount(abs(amount), scale)}"


def _amount(minor: int, scale: int) -> str:
    # SWIFT amounts always carry the decimal comma, even with no decimals ("1000,").
    text = format_amount(minor, scale).replace(".", ",")
    return text if "," in text else f"{text},"


def _statement_line(line: StatementLine, scale: int) -> str:
    bank_reference = swift_text(line.id)
    if len(bank_reference) > _REFERENCE_LENGTH:
        raise ValueError(f"line id {line.id!r} is longer than the 16-character bank reference")
    mark = "C" if line.amount > 0 else "D"
    code = _TYPE_CODES.get(transaction_kind(line), "NMSC")
    return (
        f"{line.value_date:%y%m%d}{line.booking_date:%m%d}{mark}"
        f"{_amount(abs(line.amount), scale)}{code}{_customer_reference(line)}//{bank_reference}"
    )


def _customer_reference(line: StatementLine) -> str:
    # The field may not contain "//" nor start or end with "/": it would split wrongly.
    reference = swift_text(line.reference or "").replace("/", " ").strip()
    return reference[:_REFERENCE_LENGTH].strip() or "NONREF"


def _details(line: StatementLine) -> list[str]:
    parts = [line.description, line.counterparty, line.counterparty_iban]
    if line.reference:
        parts.append(f"REF {line.reference}")
    text = swift_text(" / ".join(p for p in parts if p))
    lines = textwrap.wrap(text, _DETAIL_WIDTH)[:_DETAIL_LINES]
    # A continuation line starting with ":" or "-" would read as a new tag or the trailer.
    return [f".{line[1:]}" if line[0] in ":-" else line for line in lines]
