"""OFX and QFX statements (OFX 1.x SGML and 2.x XML): bank and credit-card statements.

Real OFX files break the specification in many small ways, and ofxtools' tree builder is
strict, so the body is first normalized into well-formed markup and then handed to
:class:`ofxtools.Parser.TreeBuilder`; fields are read from the resulting element tree.
What the normalizer tolerates:

- text, blank lines or a BOM before the header, and any header at all (SGML ``KEY:VALUE``
  lines, the XML declaration and ``<?OFX ...?>``): the body starts at the first ``<OFX>``;
- bytes that do not match the declared charset: valid UTF-8 is read as UTF-8, anything
  else as the declared charset, then Windows-1252, then ISO-8859-1 (which cannot fail);
- lower-case tags, unclosed elements (SGML), empty elements with or without an end tag,
  end tags of aggregates that were never opened, and aggregates never closed;
- HTML entities in values (``&amp;``, ``&nbsp;``, ``&#233;``), even when escaped twice
  (``&amp;lt;``) as some banks do;
- amounts with a decimal comma, a leading ``+`` or trailing zeros beyond the currency's
  decimals (``-30.000``); an amount with significant sub-minor digits is a
  :class:`Rejected` line, never rounded.

OFX 2 is XML; a ``DOCTYPE`` or ``ENTITY`` declaration is refused outright, so no entity is
ever expanded or resolved. The whole file is read into memory (ofxtools builds a tree);
OFX downloads are small.

``line_no`` of a transaction is the 1-based line of its ``<STMTTRN>`` tag in the file, and
``raw`` is the text from that tag to its end tag (or to where the aggregate ends).
Dates are taken as written (``YYYYMMDD`` of the timestamp), not shifted to UTC: a bank's
posting date is a calendar date in the bank's time zone.
"""

from __future__ import annotations

import bisect
import codecs
import html
import re
import xml.etree.ElementTree as ET  # nosec B405 - types and a TreeBuilder fed by our SGML scanner; no XML parser reads the file
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from ofxtools.Parser import ParseError, TreeBuilder

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

# A start or end tag, a CDATA section, or markup to skip (comments, declarations, PIs).
_TOKEN = re.compile(
    r"<!\[CDATA\[(?P<cdata>.*?)\]\]>"
    r"|<(?P<close>/)?\s*(?P<tag>[A-Za-z][A-Za-z0-9._]*)(?:\s[^<>]*?)?\s*(?P<selfclose>/)?>"
    r"|<[!?][^>]*>",
    re.DOTALL,
)
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_OFX_START = re.compile(r"<\s*OFX(?:\s[^<>]*)?>", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_SGML_CHARSET = re.compile(rb"^\s*CHARSET\s*:\s*([A-Za-z0-9._-]+)", re.MULTILINE)
_ENTITY = re.compile(r"&(#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);")
_OFX_AMOUNT = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)")
_OFX_DATE = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
# Values come from the tree builder whitespace-stripped; entities may still hide spaces.
_SPACES = re.compile(r"\s+")

_STATEMENTS = {"STMTRS": "BANKACCTFROM", "CCSTMTRS": "CCACCTFROM"}
_INVESTMENT = "INVSTMTRS"
# OFX 1 names charsets by code page number or ISO part; map the usual ones to codecs.
_CHARSETS = {"1252": "cp1252", "8859-1": "latin-1", "ISO-8859-1": "latin-1", "NONE": "cp1252"}


@dataclass(frozen=True, slots=True)
class _Span:
    """Where one ``<STMTTRN>`` aggregate sits in the decoded text."""

    start: int
    end: int


def parse_ofx(stream: BinaryIO, *, currency: str) -> Iterator[Item]:
    """Bank and credit-card statements of an OFX or QFX file, in file order.

    ``currency`` is used where a statement has no (or an empty) ``CURDEF``.
    """
    data = stream.read()
    if _DECLARATION.search(data):
        raise StatementError(
            "this OFX file declares a DOCTYPE or ENTITY; such files are refused "
            "because entities could read local files or expand without bound"
        )
    text = _decode(data)
    start = _OFX_START.search(text)
    if start is None:
        raise StatementError("not an OFX file: no <OFX> element found")
    root, spans = _element_tree(text, start.start())
    statements = [element for element in root.iter() if element.tag in _STATEMENTS]
    if not statements:
        raise StatementError(_no_statement_reason(root))
    span_of = {
        id(element): span for element, span in zip(root.iter("STMTTRN"), spans, strict=False)
    }
    line_starts = [0] + [match.end() for match in re.finditer(r"\r\n|\r|\n", text)]
    fallback = currency.upper()
    for index, statement in enumerate(statements):
        account = _text(statement, f"{_STATEMENTS[statement.tag]}/ACCTID")
        statement_currency = (_text(statement, "CURDEF") or fallback).upper()
        yield StatementStart(
            index=index,
            account=account,
            currency=statement_currency,
            opening_balance=None,  # OFX states no opening balance
            opening_date=_date_or_none(_text(statement, "BANKTRANLIST/DTSTART")),
        )
        for transaction in statement.iterfind("BANKTRANLIST/STMTTRN"):
            span = span_of.get(id(transaction), _Span(0, 0))
            line_no = bisect.bisect_right(line_starts, span.start)
            raw = text[span.start : span.end]
            yield _transaction(transaction, index, statement_currency, line_no, raw)
        yield _statement_end(statement, index, statement_currency)


def _decode(data: bytes) -> str:
    """The file as text: UTF-8 (BOM or valid bytes) first, then the declared charset."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    declared = _XML_ENCODING.search(data) or _SGML_CHARSET.search(data[:2048])
    candidates = []
    if declared:
        name = declared.group(1).decode("ascii").upper()
        candidates.append(_CHARSETS.get(name, name))
    # ISO-8859-1 headers routinely front Windows-1252 bytes (the euro sign is 0x80).
    candidates += ["cp1252", "latin-1"]
    for candidate in candidates:
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def _element_tree(text: str, offset: int) -> tuple[ET.Element, list[_Span]]:
    """Normalize the body from ``offset`` to well-formed markup and build the tree.

    Returns the root and the span of every ``<STMTTRN>`` in document order (the tree's
    ``iter("STMTTRN")`` order, since normalization keeps element order).
    """
    tokens = list(_TOKEN.finditer(text, offset))
    out: list[str] = []
    stack: list[str] = []
    spans: list[_Span] = []
    open_spans: dict[int, int] = {}  # stack depth of an open STMTTRN -> index in spans
    position = 0
    while position < len(tokens):
        token = tokens[position]
        tag = token.group("tag")
        position += 1
        if tag is None:
            continue  # comment, declaration, processing instruction, stray CDATA
        tag = tag.upper()
        if token.group("close"):
            if tag not in stack:
                continue  # end tag of something never opened
            while stack:
                closed = stack.pop()
                out.append(f"</{closed}>")
                span_index = open_spans.pop(len(stack), None)
                if span_index is not None:
                    end = token.end() if closed == tag else token.start()
                    spans[span_index] = _Span(spans[span_index].start, end)
                if closed == tag:
                    break
            continue
        if token.group("selfclose"):
            continue  # <NAME/>: an empty element says nothing
        value, position = _value(text, token, tokens, position)
        if value:
            out.append(f"<{tag}>{value}</{tag}>")
            if position < len(tokens) and _is_end_tag(tokens[position], tag):
                position += 1
            continue
        if not _closed_later(tag, tokens, position, stack[-1] if stack else None):
            continue  # SGML element left empty and unclosed
        if tag == "STMTTRN":
            open_spans[len(stack)] = len(spans)
            end = tokens[position].start() if position < len(tokens) else len(text)
            spans.append(_Span(token.start(), end))
        stack.append(tag)
        out.append(f"<{tag}>")
    while stack:
        out.append(f"</{stack.pop()}>")
    for span_index in open_spans.values():  # never closed: the span runs to the end
        spans[span_index] = _Span(spans[span_index].start, len(text))
    builder = TreeBuilder()
    try:
        builder.feed("".join(out))
        root: ET.Element = builder.close()
    except (ParseError, AssertionError, IndexError) as error:
        raise StatementError(f"not a readable OFX file: {error}") from error
    return root, spans


def _value(
    text: str, token: re.Match[str], tokens: list[re.Match[str]], position: int
) -> tuple[str, int]:
    """The escaped text after a start tag (with any CDATA folded in) and the next token."""
    parts = []
    cursor = token.end()
    while position < len(tokens) and tokens[position].group("cdata") is not None:
        cdata = tokens[position]
        parts.append(text[cursor : cdata.start()])
        parts.append(html.escape(cdata.group("cdata"), quote=False))
        cursor = cdata.end()
        position += 1
    nxt = tokens[position].start() if position < len(tokens) else len(text)
    parts.append(text[cursor:nxt])
    return "".join(parts).strip(), position


def _is_end_tag(token: re.Match[str], tag: str) -> bool:
    name = token.group("tag")
    return bool(token.group("close")) and name is not None and name.upper() == tag


def _closed_later(tag: str, tokens: list[re.Match[str]], position: int, parent: str | None) -> bool:
    """Whether an empty start tag opens an aggregate: its end tag comes before its parent's."""
    for index in range(position, len(tokens)):
        token = tokens[index]
        name = token.group("tag")
        if name is None or not token.group("close"):
            continue
        name = name.upper()
        if name == tag:
            return True
        if name == parent:
            return False
    return False


def _no_statement_reason(root: ET.Element) -> str:
    if root.find(f".//{_INVESTMENT}") is not None:
        return (
            "this OFX holds an investment statement; only bank and credit-card "
            "statements are imported"
        )
    if root.find(".//ACCTINFORS") is not None:
        return "this OFX holds an account list, not a statement"
    if root.find(".//SONRS") is not None:
        return "this OFX holds only a sign-on response, no bank or credit-card statement"
    return "this OFX holds no bank or credit-card statement"


def _text(element: ET.Element, path: str) -> str | None:
    """A value with entities resolved (twice-escaped ones too) and spaces collapsed."""
    found = element.find(path)
    if found is None or found.text is None:
        return None
    value = found.text
    for _ in range(3):  # bounded: "&amp;amp;lt;" is as deep as real files go
        if not _ENTITY.search(value):
            break
        value = html.unescape(value)
    value = _SPACES.sub(" ", value).strip()
    return value or None


def _date(value: str) -> date:
    match = _OFX_DATE.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not an OFX date")
    year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError as error:
        raise ValueError(f"{value!r} is not a valid date: {error}") from error


def _date_or_none(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return _date(value)
    except ValueError:
        return None


def _amount(value: str, currency: str) -> int:
    """Minor units of an OFX amount; a decimal comma is accepted, rounding never happens."""
    compact = value.replace(" ", "")
    if not _OFX_AMOUNT.fullmatch(compact):
        raise ValueError(f"{value!r} is not an amount")
    return to_minor(compact.replace(",", "."), currency_scale(currency))


def _description(name: str | None, memo: str | None) -> str:
    """NAME and MEMO once each: banks often repeat one inside the other."""
    if not name or not memo:
        return name or memo or ""
    if memo.upper().startswith(name.upper()) or name.upper() in memo.upper():
        return memo
    if memo.upper() in name.upper():
        return name
    return f"{name} / {memo}"


def _transaction(
    element: ET.Element, index: int, statement_currency: str, line_no: int, raw: str
) -> BankTransaction | Rejected:
    extra: dict[str, str] = {}
    currency = statement_currency
    # CURRENCY: the amount is in CURSYM; ORIGCURRENCY: it was converted into CURDEF.
    if (cursym := _text(element, "CURRENCY/CURSYM")) is not None:
        currency = cursym.upper()
        _put(extra, "currency_rate", _text(element, "CURRENCY/CURRATE"))
    if (original := _text(element, "ORIGCURRENCY/CURSYM")) is not None:
        extra["original_currency"] = original.upper()
        _put(extra, "original_currency_rate", _text(element, "ORIGCURRENCY/CURRATE"))
    trnamt = _text(element, "TRNAMT")
    if trnamt is None:
        return Rejected(line_no, "TRNAMT", "the transaction has no amount", raw)
    try:
        amount = _amount(trnamt, currency)
    except ValueError as error:
        return Rejected(line_no, "TRNAMT", str(error), raw)
    posted = _text(element, "DTPOSTED")
    if posted is None:
        return Rejected(line_no, "DTPOSTED", "the transaction has no posting date", raw)
    try:
        booking_date = _date(posted)
    except ValueError as error:
        return Rejected(line_no, "DTPOSTED", str(error), raw)
    user = _text(element, "DTUSER")
    try:
        value_date = _date(user) if user else None
    except ValueError as error:
        return Rejected(line_no, "DTUSER", str(error), raw)
    name = _text(element, "NAME") or _text(element, "PAYEE/NAME")
    for tag, key in (("CHECKNUM", "check_number"), ("SIC", "sic"), ("REFNUM", "reference")):
        _put(extra, key, _text(element, tag))
    _put(extra, "payee_id", _text(element, "PAYEEID"))
    account_to = element.find("BANKACCTTO")
    if account_to is None:
        account_to = element.find("CCACCTTO")
    counterparty_account = None
    if account_to is not None:
        counterparty_account = _text(account_to, "ACCTID")
        _put(extra, "counterparty_bank_id", _text(account_to, "BANKID"))
    return BankTransaction(
        line_no=line_no,
        statement_index=index,
        booking_date=booking_date,
        amount=amount,
        currency=currency,
        description=_description(name, _text(element, "MEMO")),
        raw=raw,
        value_date=value_date,
        counterparty_name=name,
        counterparty_account=counterparty_account,
        bank_reference=_text(element, "FITID"),
        transaction_code=(_text(element, "TRNTYPE") or "").upper() or None,
        extra=extra,
    )


def _put(extra: dict[str, str], key: str, value: str | None) -> None:
    if value is not None:
        extra[key] = value


def _statement_end(statement: ET.Element, index: int, currency: str) -> StatementEnd:
    balance = _text(statement, "LEDGERBAL/BALAMT")
    closing = None
    if balance is not None:
        try:
            closing = _amount(balance, currency)
        except ValueError as error:
            raise StatementError(
                f"statement {index + 1} has an unreadable ledger balance: {error}"
            ) from error
    return StatementEnd(
        index=index,
        closing_balance=closing,
        closing_date=_date_or_none(_text(statement, "LEDGERBAL/DTASOF")),
    )
