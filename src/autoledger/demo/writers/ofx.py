"""OFX 2.2 (XML) bank and credit-card statement downloads for a demo statement.

OFX 2.x rather than 1.0.2 SGML: it is UTF-8 by definition (descriptors with umlauts or
kana survive), well-formed XML, and every current importer (ofxtools, ofxparse, GnuCash,
Actual, Quicken's web connect) reads it.

Account mapping, all within the spec's field lengths:

- A card account (``card`` in ``account.id`` or ``account.name``, any case) is written as
  ``CREDITCARDMSGSRSV1/CCSTMTTRNRS/CCSTMTRS`` with ``CCACCTFROM``; every other account as
  ``BANKMSGSRSV1/STMTTRNRS/STMTRS`` with ``BANKACCTFROM``, ``ACCTTYPE`` ``SAVINGS`` when
  ``saving`` appears in the id or name, else ``CHECKING``.
- ``BANKID`` (at most 9 characters) is the BIC's first 8 characters, which name the bank.
- ``ACCTID`` (at most 22) is the IBAN, or its last 22 characters when it is longer.
- Balances and amounts keep the statement's sign: ``LEDGERBAL`` is the closing balance,
  ``AVAILBAL`` the same (the simulator has no holds).

Times are fixed points of the statement's dates in UTC (``[0:GMT]``): a transaction is
posted at noon of its booking date, so no time zone moves it to another day, and the
server time is the last second of the statement's last day. There is no wall clock.
"""

from datetime import date, time

from lxml import etree

from autoledger.demo.model import BankAccount, Statement, StatementLine
from autoledger.demo.writers.camt import currency_scale, transaction_kind
from autoledger.kit.money import format_amount

_HEADER = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
    b'<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\n'
)
_NAME_LENGTH = 32
_MEMO_LENGTH = 255
_ACCTID_LENGTH = 22
_BANKID_LENGTH = 8
_TRNUID_LENGTH = 36

# OFX TRNTYPE per format-neutral kind; "other" falls back to CREDIT or DEBIT by sign.
_TRNTYPES = {
    "fee": "FEE",
    "interest": "INT",
    "cash": "ATM",
    "cheque": "CHECK",
    "direct_debit": "DIRECTDEBIT",
    "card": "POS",
    "transfer": "XFER",
}


def is_card_account(account: BankAccount) -> bool:
    """Whether ``account`` is a credit card (decided from its id and name)."""
    return "card" in account.id.lower() or "card" in account.name.lower()


def write_ofx(statement: Statement) -> bytes:
    """The statement as an OFX 2.2 UTF-8 document; same input, same bytes."""
    account = statement.account
    scale = currency_scale(account.currency)
    server_time = _ofx_datetime(statement.end, time(23, 59, 59))

    ofx = etree.Element("OFX")
    signon = _sub(_sub(ofx, "SIGNONMSGSRSV1"), "SONRS")
    _append_status(signon)
    _sub(signon, "DTSERVER", server_time)
    _sub(signon, "LANGUAGE", "ENG")
    _sub(_sub(signon, "FI"), "ORG", account.bank_name[:32])

    card = is_card_account(account)
    messages = _sub(ofx, "CREDITCARDMSGSRSV1" if card else "BANKMSGSRSV1")
    transaction = _sub(messages, "CCSTMTTRNRS" if card else "STMTTRNRS")
    _sub(transaction, "TRNUID", f"{account.id}-{statement.number}"[:_TRNUID_LENGTH])
    _append_status(transaction)
    stmtrs = _sub(transaction, "CCSTMTRS" if card else "STMTRS")
    _sub(stmtrs, "CURDEF", account.currency)
    if card:
        _sub(_sub(stmtrs, "CCACCTFROM"), "ACCTID", _account_id(account))
    else:
        acct = _sub(stmtrs, "BANKACCTFROM")
        _sub(acct, "BANKID", account.bic[:_BANKID_LENGTH])
        _sub(acct, "ACCTID", _account_id(account))
        _sub(acct, "ACCTTYPE", _account_type(account))

    tranlist = _sub(stmtrs, "BANKTRANLIST")
    _sub(tranlist, "DTSTART", _ofx_datetime(statement.start, time(0, 0, 0)))
    _sub(tranlist, "DTEND", server_time)
    for line in statement.lines:
        _append_transaction(tranlist, line, scale)
    for tag in ("LEDGERBAL", "AVAILBAL"):
        balance = _sub(stmtrs, tag)
        _sub(balance, "BALAMT", format_amount(statement.closing_balance, scale))
        _sub(balance, "DTASOF", server_time)
    return _HEADER + bytes(etree.tostring(ofx, encoding="UTF-8", pretty_print=True))


def _append_transaction(tranlist: etree._Element, line: StatementLine, scale: int) -> None:
    stmttrn = _sub(tranlist, "STMTTRN")
    _sub(stmttrn, "TRNTYPE", _transaction_type(line))
    _sub(stmttrn, "DTPOSTED", _ofx_datetime(line.booking_date, time(12, 0, 0)))
    _sub(stmttrn, "DTUSER", _ofx_datetime(line.value_date, time(12, 0, 0)))
    _sub(stmttrn, "TRNAMT", format_amount(line.amount, scale))
    _sub(stmttrn, "FITID", line.id)
    # NAME is capped at 32 characters by the spec; MEMO keeps the full descriptor.
    name = " ".join((line.counterparty or line.description).split())[:_NAME_LENGTH].rstrip()
    memo = " ".join(line.description.split())[:_MEMO_LENGTH].rstrip()
    if name:
        _sub(stmttrn, "NAME", name)
    if memo:
        _sub(stmttrn, "MEMO", memo)


def _transaction_type(line: StatementLine) -> str:
    kind = transaction_kind(line)
    if kind in _TRNTYPES:
        return _TRNTYPES[kind]
    return "CREDIT" if line.amount > 0 else "DEBIT"


def _account_type(account: BankAccount) -> str:
    text = f"{account.id} {account.name}".lower()
    return "SAVINGS" if "saving" in text else "CHECKING"


def _account_id(account: BankAccount) -> str:
    return account.iban[-_ACCTID_LENGTH:]


def _append_status(parent: etree._Element) -> None:
    status = _sub(parent, "STATUS")
    _sub(status, "CODE", "0")
    _sub(status, "SEVERITY", "INFO")


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, tag)
    if text is not None:
        child.text = text
    return child


def _ofx_datetime(day: date, at: time) -> str:
    return f"{day:%Y%m%d}{at:%H%M%S}.000[0:GMT]"
