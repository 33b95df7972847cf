"""ISO 20022 CAMT.053 bank statements (``camt.053.001.02`` to ``.08``) and CAMT.052 reports.

The file is read as a stream with :func:`lxml.etree.iterparse`, listening only for the end of
each ``Ntry`` and each ``Stmt`` (``Rpt`` in a CAMT.052 report). The statement header (``Id``,
``Acct``, ``Bal``) precedes the entries in the schema, so it is complete when the first entry
ends; it is read then, the closing balance is held back for the end of the statement, and each
processed element is cleared and its preceding siblings deleted: a 100,000-entry file costs
what one entry costs.

Hostile XML is refused before the XML parser sees it: the prolog is scanned and any
``<!DOCTYPE`` (entity expansion, external DTDs and files) raises :class:`StatementError`; the
parser itself never loads a DTD, resolves an entity or touches the network. A file that is
cut short raises when the parser reaches the end, after the lines before the cut were
yielded: the import layer discards a parser's output when it raises.

Mapping rules:

* Only booked entries (``Sts`` ``BOOK``, ``Sts/Cd`` ``BOOK`` from v08) become lines; pending,
  information and future entries are skipped without a trace, because they are not on the
  account. An entry without ``Sts`` (the schema requires one) is taken as booked.
* An entry with several ``TxDtls`` (a batch) becomes one line per ``TxDtls`` when every
  ``TxDtls`` states an amount (``Amt``, or ``AmtDtls/TxAmt/Amt``) in the entry's currency and
  those amounts, signed by their own ``CdtDbtInd`` (else the entry's), sum to the entry's
  amount. Otherwise the entry is one line with the entry's amount and entry-level facts only,
  and ``extra["transaction_details"]`` says how many ``TxDtls`` it held. A split line's
  ``bank_reference`` is its ``TxDtls/Refs/AcctSvcrRef`` (the entry's is shared by every line
  of the batch, so it goes to ``extra["entry_reference"]``), its ``line_no`` and ``raw`` are
  its ``TxDtls``'s: ``raw`` is the entry with the batch's other ``TxDtls`` left out, so it
  still shows the dates, the indicator and the entry's total.
* The counterparty of a credit is the debtor, of a debit the creditor; a reversal
  (``RvslInd``) swaps them, because a returned payment keeps the original parties.
* ``raw`` is the ``Ntry`` element serialized as it was read; ``line_no`` its start line.
* ``extra`` keys: ``reversal``, ``charges``, ``charges_bearer``, ``instructed_amount``,
  ``exchange_rate``, ``source_currency``, ``target_currency``, ``purpose``, ``check_number``,
  ``mandate_id``, ``return_reason``, ``ultimate_debtor``, ``ultimate_creditor``,
  ``transaction_code_issuer``, ``transaction_details``, ``entry_reference``.
* Dates are taken as written: a ``DtTm`` gives its own calendar date, not converted to UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO

from lxml import etree

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

_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:camt\.(05[23])\.001\.(0[2-8])")
_CONTAINERS = {"053": ("BkToCstmrStmt", "Stmt"), "052": ("BkToCstmrAcctRpt", "Rpt")}
_CHUNK = 1 << 16
_PROLOG_LIMIT = 1 << 20  # a prolog longer than this is not a bank's
_WHITESPACE = b" \t\r\n"
_NAME = re.compile(rb"<([^\s/>]+)")
_XMLNS = re.compile(rb"""xmlns(?::([^\s=]+))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_DATE = re.compile(r"\s*([0-9]{4}-[0-9]{2}-[0-9]{2})(?:T[^\s]*)?\s*")
_UNSIGNED = re.compile(r"\s*[0-9]*(?:\.[0-9]*)?\s*")
_NOT_PROVIDED = "NOTPROVIDED"
_BOOKED = "BOOK"
_OPENING_CODES = ("OPBD", "PRCD")  # opening booked; else the previous statement's closing
_CLOSING_CODE = "CLBD"


@dataclass(frozen=True, slots=True)
class _Document:
    namespace: str
    container: str  # "Stmt" or "Rpt"


def parse_camt(stream: BinaryIO, *, currency: str) -> Iterator[Item]:
    """The statements of a CAMT.053 (or CAMT.052) file, in file order.

    ``currency`` is used only for a statement that names none (no ``Acct/Ccy`` and no
    opening balance). Raises :class:`StatementError` for a file that is not a supported CAMT
    document, holds a DOCTYPE, is not well-formed XML or has an unreadable balance.
    """
    head, document = _open_document(stream)
    reader = _Reader(document.namespace, currency)
    container_tag = reader.tag(document.container)
    entry_tag = reader.tag("Ntry")
    events = etree.iterparse(
        _Replay(head, stream),
        events=("end",),
        tag=(container_tag, entry_tag),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    index = 0
    current: etree._Element | None = None  # the statement whose header was emitted
    closing: tuple[int | None, date | None] = (None, None)
    try:
        for _event, element in events:
            if element.tag == entry_tag:
                statement = element.getparent()
                if statement is None or statement.tag != container_tag:
                    continue
                if statement is not current:
                    current = statement
                    start, closing = reader.statement_start(statement, index)
                    yield start
                yield from reader.entry(element, index)
                _release(element)
                continue
            if element is not current:  # a statement without entries
                start, closing = reader.statement_start(element, index)
                yield start
            elif closing[0] is None:  # a closing balance placed after the entries
                closing = reader.closing_balance(element, index)
            yield StatementEnd(index=index, closing_balance=closing[0], closing_date=closing[1])
            _release(element)
            current = None
            index += 1
    except etree.XMLSyntaxError as error:
        raise StatementError(f"not well-formed XML: {error.msg}") from error
    if index == 0:
        raise StatementError(f"the CAMT document holds no {document.container} element")


def _release(element: etree._Element) -> None:
    # Keeps memory flat: the element is done with, and so is everything before it.
    element.clear(keep_tail=False)
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]


class _Replay:
    """The bytes already read for the prolog check, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._rest.read(size)
        if 0 <= size < len(self._head):
            out, self._head = self._head[:size], self._head[size:]
            return out
        out, self._head = self._head, b""
        return out


def _open_document(stream: BinaryIO) -> tuple[bytes, _Document]:
    """Reads up to the root start tag: refuses a DOCTYPE and any root but a CAMT Document."""
    head = b""
    while True:
        chunk = stream.read(_CHUNK)
        head += chunk
        root = _find_root(head, at_end=not chunk)
        if root is not None:
            break
        if not chunk:
            if not head.strip(_WHITESPACE):
                raise StatementError("the file is empty")
            raise StatementError("not well-formed XML: the file ends before its root element")
        if len(head) > _PROLOG_LIMIT:
            raise StatementError("not a CAMT statement: no root element in the first 1 MiB")
    start_tag = head[root[0] : root[1]]
    name_match = _NAME.match(start_tag)
    name = name_match.group(1) if name_match else b""
    prefix, _, local = name.rpartition(b":")
    declared = {
        m.group(1) or b"": m.group(2) or m.group(3) or b"" for m in _XMLNS.finditer(start_tag)
    }
    namespace = declared.get(prefix, b"").decode("latin-1")
    local_name = local.decode("latin-1")
    version = _NAMESPACE.fullmatch(namespace)
    if local_name != "Document" or version is None:
        raise StatementError(
            f"not a CAMT.053 statement: root is {{{namespace}}}{local_name}, expected a "
            "Document in urn:iso:std:iso:20022:tech:xsd:camt.053.001.02 to .08 (or camt.052)"
        )
    return head, _Document(namespace, _CONTAINERS[version.group(1)][1])


def _find_root(head: bytes, *, at_end: bool) -> tuple[int, int] | None:
    """Where the root start tag is in ``head``, or None when more bytes are needed.

    Only the XML declaration, processing instructions, comments and whitespace may come
    first; a DOCTYPE is refused here, before any parser could expand what it declares.
    """
    if head.startswith((b"\xfe\xff", b"\xff\xfe", b"\x00<", b"<\x00", b"\x00\x00")):
        raise StatementError(
            "the file is UTF-16 or UTF-32; CAMT files use UTF-8 or another ASCII-compatible encoding"
        )
    position = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    size = len(head)
    while True:
        while position < size and head[position] in _WHITESPACE:
            position += 1
        if position >= size or (size - position < 4 and not at_end):
            return None
        if head.startswith(b"<?", position):
            end = head.find(b"?>", position + 2)
            if end < 0:
                return None
            position = end + 2
        elif head.startswith(b"<!--", position):
            end = head.find(b"-->", position + 4)
            if end < 0:
                return None
            position = end + 3
        elif head.startswith(b"<!", position):
            raise StatementError(
                "refusing an XML document with a DOCTYPE declaration: CAMT files have none, "
                "and a DTD can expand entities or read external files"
            )
        elif head.startswith(b"<", position):
            tag_end = _tag_end(head, position)
            return None if tag_end is None else (position, tag_end)
        else:
            raise StatementError("not well-formed XML: text before the root element")


def _tag_end(head: bytes, start: int) -> int | None:
    quote = 0
    for index in range(start + 1, len(head)):
        byte = head[index]
        if quote:
            if byte == quote:
                quote = 0
        elif byte in b"\"'":
            quote = byte
        elif byte == 0x3E:  # ">"
            return index + 1
    return None


class _Reader:
    """Maps statement and entry elements of one namespace to statement items."""

    def __init__(self, namespace: str, currency: str) -> None:
        self._default_currency = currency
        self._prefix = f"{{{namespace}}}"
        self._paths: dict[str, str] = {}
        self._names: dict[str, str | None] = {}
        self._stated_currency: str | None = None  # the statement's, when the file names it

    def tag(self, name: str) -> str:
        return self._prefix + name

    def _path(self, path: str) -> str:
        clark = self._paths.get(path)
        if clark is None:
            clark = "/".join(self.tag(part) for part in path.split("/"))
            self._paths[path] = clark
        return clark

    def _find(self, element: etree._Element | None, path: str) -> etree._Element | None:
        if element is None:
            return None
        found: etree._Element | None = element.find(self._path(path))
        return found

    def _text(self, element: etree._Element | None, path: str) -> str | None:
        """The stripped text at ``path``; None when absent or blank."""
        if element is None:
            return None
        text: str | None = element.findtext(self._path(path))
        if text is None:
            return None
        text = text.strip()
        return text or None

    def _first_text(self, element: etree._Element | None, *paths: str) -> str | None:
        for path in paths:
            text = self._text(element, path)
            if text is not None:
                return text
        return None

    # -- statement header ------------------------------------------------------------

    def statement_start(
        self, statement: etree._Element, index: int
    ) -> tuple[StatementStart, tuple[int | None, date | None]]:
        """The statement's header, and its closing balance held back for its end."""
        account = self._first_text(statement, "Acct/Id/IBAN", "Acct/Id/Othr/Id")
        account_currency = self._text(statement, "Acct/Ccy")
        opening: tuple[int | None, date | None, str | None] = (None, None, None)
        closing: tuple[int | None, date | None] = (None, None)
        for code in (*_OPENING_CODES, _CLOSING_CODE):
            balance = self._balance(statement, code, index)
            if balance is None:
                continue
            if code == _CLOSING_CODE:
                closing = (balance[0], balance[1])
            elif opening[0] is None:
                opening = balance
        stated = account_currency or opening[2]
        self._stated_currency = stated.upper() if stated else None
        start = StatementStart(
            index=index,
            account=account,
            currency=self._stated_currency or self._default_currency.upper(),
            opening_balance=opening[0],
            opening_date=opening[1],
            statement_id=self._text(statement, "Id"),
        )
        return start, closing

    def closing_balance(
        self, statement: etree._Element, index: int
    ) -> tuple[int | None, date | None]:
        balance = self._balance(statement, _CLOSING_CODE, index)
        return (None, None) if balance is None else (balance[0], balance[1])

    def _balance(
        self, statement: etree._Element, code: str, index: int
    ) -> tuple[int, date | None, str] | None:
        for balance in statement.iterfind(self._path("Bal")):
            if self._text(balance, "Tp/CdOrPrtry/Cd") != code:
                continue
            where = f"statement {index + 1}, {code} balance at line {balance.sourceline}"
            amount = self._find(balance, "Amt")
            if amount is None:
                raise StatementError(f"{where} has no amount")
            balance_currency = (amount.get("Ccy") or "").strip().upper()
            try:
                minor = _unsigned_minor(amount.text or "", currency_scale(balance_currency))
            except ValueError as error:
                raise StatementError(f"{where} is unreadable: {error}") from error
            indicator = self._text(balance, "CdtDbtInd")
            if indicator not in ("CRDT", "DBIT"):
                raise StatementError(f"{where} has no credit/debit indicator")
            day = _date(self._first_text(balance, "Dt/Dt", "Dt/DtTm"))
            return (-minor if indicator == "DBIT" else minor), day, balance_currency
        return None

    # -- entries ---------------------------------------------------------------------

    def entry(self, element: etree._Element, index: int) -> list[BankTransaction | Rejected]:
        """The lines of one ``Ntry``: none when not booked, several for a split batch."""
        # One walk of the entry; a single TxDtls is then read through a view of it.
        entry = _Index(element, self._prefix, self._names)
        if entry.has("Sts") and entry.text("Sts/Cd", "Sts") != _BOOKED:
            return []
        line_no = element.sourceline or 0
        raw = _serialize(element)

        def rejected(field: str, reason: str) -> list[BankTransaction | Rejected]:
            return [Rejected(line_no=line_no, field=field, reason=reason, raw=raw)]

        amount_element = entry.element("Amt")
        if amount_element is None or not (amount_element.text or "").strip():
            return rejected("Amt", "the entry has no amount")
        currency = (amount_element.get("Ccy") or "").strip().upper()
        if not currency:
            return rejected("Ccy", "the entry's amount names no currency")
        try:
            scale = currency_scale(currency)
        except ValueError as error:
            return rejected("Ccy", str(error))
        if self._stated_currency is not None and currency != self._stated_currency:
            return rejected("Ccy", f"entry in {currency} on a statement in {self._stated_currency}")
        try:
            magnitude = _unsigned_minor(amount_element.text or "", scale)
        except ValueError as error:
            return rejected("Amt", str(error))
        indicator = entry.text("CdtDbtInd")
        if indicator not in ("CRDT", "DBIT"):
            return rejected("CdtDbtInd", f"{indicator!r} is neither CRDT nor DBIT")
        amount = -magnitude if indicator == "DBIT" else magnitude
        booking_text = entry.text("BookgDt/Dt", "BookgDt/DtTm")
        if booking_text is None:
            return rejected("BookgDt", "the entry has no booking date")
        booking_date = _date(booking_text)
        if booking_date is None:
            return rejected("BookgDt", f"{booking_text!r} is not a date")
        value_text = entry.text("ValDt/Dt", "ValDt/DtTm")
        value_date = _date(value_text)
        if value_text is not None and value_date is None:
            return rejected("ValDt", f"{value_text!r} is not a date")

        facts = _EntryFacts(
            index=index,
            booking_date=booking_date,
            value_date=value_date,
            currency=currency,
            reversal=entry.text("RvslInd") in ("true", "1"),
            reference=entry.text("AcctSvcrRef", "NtryRef"),
        )
        details = entry.elements("NtryDtls/TxDtls")
        if len(details) >= 2:
            indexed = [_Index(detail, self._prefix, self._names) for detail in details]
            split = _split_amounts(indexed, amount, indicator, currency, scale)
            if split is not None:
                return self._split_lines(element, entry, details, indexed, split, facts)
            line = _line(entry, _EMPTY, facts, amount=amount, line_no=line_no, raw=raw, split=False)
            line.extra["transaction_details"] = str(len(details))
            return [line]
        detail = entry.under("NtryDtls/TxDtls/") if details else _EMPTY
        return [_line(entry, detail, facts, amount=amount, line_no=line_no, raw=raw, split=False)]

    def _split_lines(
        self,
        element: etree._Element,
        entry: _Index,
        details: list[etree._Element],
        indexed: list[_Index],
        amounts: list[int],
        facts: _EntryFacts,
    ) -> list[BankTransaction | Rejected]:
        # One shell (the entry without its TxDtls) serialized once per TxDtls, not a copy
        # of the whole batch per line.
        shell = deepcopy(element)
        containers = shell.findall(self._prefix + "NtryDtls")
        position = None
        for container in containers:
            for detail in container.findall(self._prefix + "TxDtls"):
                if position is None:
                    position = container.index(detail)
                container.remove(detail)
        first = containers[0]
        lines: list[BankTransaction | Rejected] = []
        for detail, detail_index, amount in zip(details, indexed, amounts, strict=True):
            copy = deepcopy(detail)
            first.insert(position or 0, copy)
            raw = _serialize(shell)
            first.remove(copy)
            line_no = detail.sourceline or 0
            line = _line(
                entry, detail_index, facts, amount=amount, line_no=line_no, raw=raw, split=True
            )
            line.extra["transaction_details"] = str(len(details))
            if facts.reference is not None:
                line.extra["entry_reference"] = facts.reference
            lines.append(line)
        return lines


class _Index:
    """Every element under an entry by its path of local names (``NtryDtls/TxDtls/Amt``).

    One walk of the subtree, then a dictionary look-up per field: several times faster
    than an ElementPath search per field, which is what keeps a large file quick. A view
    (:meth:`under`) reads one ``TxDtls`` through the same dictionary. Elements of another
    namespace (``SplmtryData`` envelopes) and subtrees no field comes from are left out.
    """

    __slots__ = ("_base", "_elements", "_names")

    def __init__(
        self,
        root: etree._Element | None,
        prefix: str = "",
        names: dict[str, str | None] | None = None,
    ) -> None:
        self._base = ""
        self._elements: dict[str, list[etree._Element]] = {}
        # tag -> local name, None for a foreign or unread one; shared by a file's entries
        self._names = {} if names is None else names
        if root is not None:
            self._walk(root, prefix)

    def _walk(self, root: etree._Element, prefix: str) -> None:
        # Breadth first over a growing list (no recursion): the elements at one path are
        # all at one depth, so each path's list keeps document order.
        elements = self._elements
        names = self._names
        skip = len(prefix)
        pending: list[tuple[etree._Element, str]] = [(root, "")]
        for parent, path in pending:
            for child in parent:
                tag = child.tag
                local = names.get(tag, _UNKNOWN)
                if local == _UNKNOWN:
                    local = tag[skip:] if tag.startswith(prefix) else None
                    if local in _UNREAD:
                        local = None
                    if len(names) < _NAMES_LIMIT:  # a hostile file may invent endless names
                        names[tag] = local
                if local is None:
                    continue
                key = path + local
                found = elements.get(key)
                if found is None:
                    elements[key] = [child]
                else:
                    found.append(child)
                if len(child):
                    pending.append((child, key + "/"))

    def under(self, base: str) -> _Index:
        view = _Index(None)
        view._base = base
        view._elements = self._elements
        return view

    def has(self, path: str) -> bool:
        return self._base + path in self._elements

    def element(self, path: str) -> etree._Element | None:
        found = self._elements.get(self._base + path)
        return found[0] if found else None

    def elements(self, path: str) -> list[etree._Element]:
        return self._elements.get(self._base + path, [])

    def text(self, *paths: str) -> str | None:
        """The first non-blank text found at ``paths``, stripped."""
        get = self._elements.get
        base = self._base
        for path in paths:
            found = get(base + path if base else path)
            if found:
                for element in found:
                    text: str | None = element.text
                    if text and (text := text.strip()):
                        return text
        return None

    def texts(self, path: str) -> list[str]:
        return [text.strip() for e in self.elements(path) if (text := e.text) and text.strip()]


_EMPTY = _Index(None)
_UNKNOWN = ""  # not a local name any element has
_NAMES_LIMIT = 512
# Subtrees no field is read from: not walked, which keeps rich bank files quick.
_UNREAD = frozenset(
    (
        "RltdAgts",
        "PstlAdr",
        "CtctDtls",
        "RltdDts",
        "RltdPric",
        "RltdQties",
        "FinInstrmId",
        "Tax",
        "SplmtryData",
        "CorpActn",
        "SfkpgAcct",
        "CshDpst",
        "CardTx",
        "RltdRmtInf",
        "Intrst",
        "TechInptChanl",
    )
)


@dataclass(frozen=True, slots=True)
class _EntryFacts:
    """What every line of one entry shares."""

    index: int
    booking_date: date
    value_date: date | None
    currency: str
    reversal: bool
    reference: str | None


def _split_amounts(
    details: list[_Index], total: int, entry_indicator: str, currency: str, scale: int
) -> list[int] | None:
    """Each ``TxDtls``'s signed amount, when they are all stated and sum to ``total``."""
    amounts: list[int] = []
    for detail in details:
        element = detail.element("Amt")
        if element is None:  # v02 states it only here
            element = detail.element("AmtDtls/TxAmt/Amt")
        if element is None or (element.get("Ccy") or "").strip().upper() != currency:
            return None
        try:
            magnitude = _unsigned_minor(element.text or "", scale)
        except ValueError:
            return None
        indicator = detail.text("CdtDbtInd") or entry_indicator
        amounts.append(-magnitude if indicator == "DBIT" else magnitude)
    return amounts if sum(amounts) == total else None


def _line(
    entry: _Index,
    detail: _Index,
    facts: _EntryFacts,
    *,
    amount: int,
    line_no: int,
    raw: str,
    split: bool,
) -> BankTransaction:
    extra: dict[str, str] = {}
    if facts.reversal:
        extra["reversal"] = "true"
    # Money in comes from the debtor, money out goes to the creditor; a reversal keeps
    # the parties of the payment it returns.
    side = "Dbtr" if (amount > 0) != facts.reversal else "Cdtr"
    name = detail.text(f"RltdPties/{side}/Nm", f"RltdPties/{side}/Pty/Nm")
    account = detail.text(f"RltdPties/{side}Acct/Id/IBAN", f"RltdPties/{side}Acct/Id/Othr/Id")
    for role, key in (("UltmtDbtr", "ultimate_debtor"), ("UltmtCdtr", "ultimate_creditor")):
        if detail.has(f"RltdPties/{role}"):
            ultimate = detail.text(f"RltdPties/{role}/Nm", f"RltdPties/{role}/Pty/Nm")
            if ultimate is not None:
                extra[key] = ultimate

    # A split line's own code first; else the entry's, with the details' as fallback.
    code = None
    for source in (detail, entry) if split else (entry, detail):
        code = _transaction_code(source)
        if code is not None:
            issuer = source.text("BkTxCd/Prtry/Issr")
            if issuer is not None and source.element("BkTxCd/Domn") is None:
                extra["transaction_code_issuer"] = issuer
            break

    # Entry-level charges and amounts concern the whole batch, not one split line.
    _charges(detail, extra)
    if "charges" not in extra and not split:
        _charges(entry, extra)
    _exchange(detail, extra)
    if "instructed_amount" not in extra and "exchange_rate" not in extra and not split:
        _exchange(entry, extra)
    for key, path in (
        ("purpose", "Purp/Cd"),
        ("check_number", "Refs/ChqNb"),
        ("mandate_id", "Refs/MndtId"),
        ("return_reason", "RtrInf/Rsn/Cd"),
    ):
        value = detail.text(path)
        if value is not None:
            extra[key] = value

    end_to_end = detail.text("Refs/EndToEndId")
    if split:
        reference = detail.text("Refs/AcctSvcrRef")
    else:
        reference = facts.reference or detail.text("Refs/AcctSvcrRef")
    return BankTransaction(
        line_no=line_no,
        statement_index=facts.index,
        booking_date=facts.booking_date,
        amount=amount,
        currency=facts.currency,
        description=_description(entry, detail),
        raw=raw,
        value_date=facts.value_date,
        counterparty_name=name,
        counterparty_account=account,
        bank_reference=reference,
        end_to_end_id=None if end_to_end == _NOT_PROVIDED else end_to_end,
        transaction_code=code,
        extra=extra,
    )


def _transaction_code(source: _Index) -> str | None:
    """``Domn-Fmly-SubFmly`` (``PMNT-RCDT-ESCT``) when structured, else the proprietary code."""
    domain = source.text("BkTxCd/Domn/Cd")
    if domain is not None:
        family = source.text("BkTxCd/Domn/Fmly/Cd")
        subfamily = source.text("BkTxCd/Domn/Fmly/SubFmlyCd")
        return "-".join(part for part in (domain, family, subfamily) if part)
    return source.text("BkTxCd/Prtry/Cd")


def _description(entry: _Index, detail: _Index) -> str:
    """Remittance lines as written (joined by a space), else the additional information."""
    # Ustrd keeps its own spacing (banks wrap lines inside it); references are trimmed.
    parts = [
        text
        for element in detail.elements("RmtInf/Ustrd")
        if (text := element.text) and text.strip()
    ]
    parts.extend(detail.texts("RmtInf/Strd/CdtrRefInf/Ref"))
    if parts:
        return " ".join(parts)
    return detail.text("AddtlTxInf") or entry.text("AddtlNtryInf") or ""


def _charges(source: _Index, extra: dict[str, str]) -> None:
    if not source.has("Chrgs"):
        return
    # v03+: Chrgs/Rcrd per charge; v02: the charge's fields sit in Chrgs itself.
    amounts = source.elements("Chrgs/Rcrd/Amt") or source.elements("Chrgs/Amt")
    if not amounts:
        amounts = source.elements("Chrgs/TtlChrgsAndTaxAmt")
    texts = [text for text in map(_amount_text, amounts) if text is not None]
    if texts:
        extra["charges"] = "; ".join(texts)
    bearers = source.texts("Chrgs/Rcrd/Br") or source.texts("Chrgs/Br")
    if bearers:
        extra["charges_bearer"] = "; ".join(dict.fromkeys(bearers))


def _exchange(source: _Index, extra: dict[str, str]) -> None:
    if not source.has("AmtDtls"):
        return
    instructed = _amount_text(source.element("AmtDtls/InstdAmt/Amt"))
    if instructed is not None:
        extra["instructed_amount"] = instructed
    for path in ("AmtDtls/InstdAmt/CcyXchg", "AmtDtls/TxAmt/CcyXchg", "AmtDtls/CntrValAmt/CcyXchg"):
        if source.element(path) is None:
            continue
        for key, field in (
            ("source_currency", "SrcCcy"),
            ("target_currency", "TrgtCcy"),
            ("exchange_rate", "XchgRate"),
        ):
            value = source.text(f"{path}/{field}")
            if value is not None:
                extra[key] = value
        return


def _serialize(element: etree._Element) -> str:
    text: str = etree.tostring(element, encoding="unicode", with_tail=False)
    return text


def _unsigned_minor(text: str, scale: int) -> int:
    # CAMT amounts carry no sign: direction is the CdtDbtInd next to them.
    if _UNSIGNED.fullmatch(text) is None:
        raise ValueError(f"{text.strip()!r} is not an unsigned decimal amount")
    return to_minor(text, scale)


def _amount_text(element: etree._Element | None) -> str | None:
    if element is None or not (element.text or "").strip():
        return None
    currency = (element.get("Ccy") or "").strip()
    return f"{element.text.strip()} {currency}".strip()


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    match = _DATE.fullmatch(text)
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None
