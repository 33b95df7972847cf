"""ISO 20022 ``camt.053.001.02`` (BankToCustomerStatement) for a demo statement.

Version .02 is the one most banks and importers still speak (SEPA, EBICS, Actual, GnuCash);
the structure used here is unchanged in later versions apart from the namespace. Elements
are emitted in the order of the XSD's sequences, because validators (and some importers)
reject out-of-order children even when every element is present.

:func:`transaction_kind` is the one place that classifies a statement line (from its
descriptor); :func:`bank_transaction_code` maps the kind to the ISO code, and the OFX and
MT940 writers map it to their own TRNTYPE and ``:61:`` type codes.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time

from lxml import etree

from autoledger.demo.model import BankAccount, Statement, StatementLine
from autoledger.kit.money import format_amount, iso_currency

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
_MAX35 = 35
_MAX70 = 70
_MAX140 = 140


@dataclass(frozen=True, slots=True)
class BankTransactionCode:
    """ISO 20022 bank transaction code: domain, family and sub-family (``PMNT/RCDT/DMCT``)."""

    domain: str
    family: str
    subfamily: str


# Checked in order; the first pattern found in the upper-cased description wins. Fees and
# interest come first: "CARD FEE" is a fee, not a card payment.
_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("fee", re.compile(r"\bFEES?\b|\bCHARGES?\b|GEBÜHR|ENTGELT|\bFRAIS\b|手数料")),
    ("interest", re.compile(r"\bINTEREST\b|\bZINS|\bINTÉRÊTS?\b|利息")),
    ("cash", re.compile(r"\bATM\b|CASH WITHDRAWAL|GELDAUTOMAT|BARGELD")),
    ("cheque", re.compile(r"\bCHE(?:CK|QUE)\b|\bCHK\b")),
    ("direct_debit", re.compile(r"DIRECT DEBIT|LASTSCHRIFT|\bACH DEBIT\b|\bSEPA DD\b")),
    ("card", re.compile(r"^SQ \*|\bPOS\b|\bCARD\b|\bVISA\b|\bMASTERCARD\b|\bKARTE\b")),
    ("transfer", re.compile(r"TRANSFER|\bWIRE\b|\bSEPA\b|ÜBERWEISUNG|\bPAYROLL\b|\bACH\b")),
)


def transaction_kind(line: StatementLine) -> str:
    """A coarse, format-neutral kind of ``line`` guessed from its descriptor.

    One of ``fee``, ``interest``, ``cash``, ``cheque``, ``direct_debit``, ``card``,
    ``transfer`` or ``other``; a line with a counterparty IBAN and no other clue is a transfer.
    """
    text = line.description.upper()
    for kind, pattern in _KINDS:
        if pattern.search(text):
            return kind
    return "transfer" if line.counterparty_iban else "other"


def bank_transaction_code(line: StatementLine) -> BankTransactionCode:
    """The ISO 20022 domain/family/sub-family code for ``line`` (ISO external code list)."""
    credit = line.amount > 0
    match transaction_kind(line):
        case "fee":
            return BankTransactionCode("ACMT", "MCOP" if credit else "MDOP", "CHRG")
        case "interest":
            return BankTransactionCode("ACMT", "MCOP" if credit else "MDOP", "INTR")
        case "cash":
            return BankTransactionCode("PMNT", "CCRD", "CDPT" if credit else "CWDL")
        case "cheque":
            return BankTransactionCode("PMNT", "RCHQ" if credit else "ICHQ", "CCHQ")
        case "direct_debit":
            return BankTransactionCode("PMNT", "IDDT" if credit else "RDDT", "OTHR")
        case "card":
            return BankTransactionCode("PMNT", "CCRD", "RIMB" if credit else "POSD")
        case "transfer":
            return BankTransactionCode("PMNT", "RCDT" if credit else "ICDT", "DMCT")
        case _:
            return BankTransactionCode("PMNT", "MCOP" if credit else "MDOP", "OTHR")


def currency_scale(code: str) -> int:
    """The minor-unit scale of ISO 4217 ``code``; a statement in any other unit is refused."""
    asset = iso_currency(code)
    if asset is None:
        raise ValueError(f"{code!r} is not an ISO 4217 currency with a minor unit")
    return asset.scale


def write_camt053(statement: Statement) -> bytes:
    """The statement as a UTF-8 ``camt.053.001.02`` document; same input, same bytes."""
    account = statement.account
    scale = currency_scale(account.currency)
    created = _iso_datetime(statement.end, time(23, 59, 59))

    document = etree.Element(f"{{{NAMESPACE}}}Document", nsmap={None: NAMESPACE})
    report = _sub(document, "BkToCstmrStmt")
    header = _sub(report, "GrpHdr")
    _sub(header, "MsgId", _fit(f"CAMT053-{account.id}-{statement.end:%Y%m%d}-{statement.number}"))
    _sub(header, "CreDtTm", created)
    pagination = _sub(header, "MsgPgntn")
    _sub(pagination, "PgNb", "1")
    _sub(pagination, "LastPgInd", "true")

    stmt = _sub(report, "Stmt")
    _sub(stmt, "Id", _fit(f"{account.id}-{statement.number}"))
    _sub(stmt, "ElctrncSeqNb", str(statement.number))
    _sub(stmt, "CreDtTm", created)
    period = _sub(stmt, "FrToDt")
    _sub(period, "FrDtTm", _iso_datetime(statement.start, time(0, 0, 0)))
    _sub(period, "ToDtTm", created)
    _append_account(stmt, account)
    # OPBD is the booked balance at the start of the first day; CLBD at the end of the last.
    _append_balance(stmt, "OPBD", statement.opening_balance, statement.start, account, scale)
    _append_balance(stmt, "CLBD", statement.closing_balance, statement.end, account, scale)
    for line in statement.lines:
        _append_entry(stmt, line, account, scale)
    return bytes(
        etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    )


def _append_account(stmt: etree._Element, account: BankAccount) -> None:
    acct = _sub(stmt, "Acct")
    _sub(_sub(acct, "Id"), "IBAN", account.iban)
    _sub(acct, "Ccy", account.currency)
    _sub(acct, "Nm", account.name[:_MAX70])
    _sub(_sub(_sub(acct, "Svcr"), "FinInstnId"), "BIC", account.bic)


def _append_balance(
    stmt: etree._Element, code: str, amount: int, day: date, account: BankAccount, scale: int
) -> None:
    balance = _sub(stmt, "Bal")
    _sub(_sub(_sub(balance, "Tp"), "CdOrPrtry"), "Cd", code)
    _append_amount(balance, amount, account.currency, scale)
    _sub(_sub(balance, "Dt"), "Dt", day.isoformat())


def _append_entry(
    stmt: etree._Element, line: StatementLine, account: BankAccount, scale: int
) -> None:
    if len(line.id) > _MAX35:
        raise ValueError(f"line id {line.id!r} is longer than AcctSvcrRef's {_MAX35} characters")
    entry = _sub(stmt, "Ntry")
    _append_amount(entry, line.amount, account.currency, scale)
    _sub(entry, "Sts", "BOOK")
    _sub(_sub(entry, "BookgDt"), "Dt", line.booking_date.isoformat())
    _sub(_sub(entry, "ValDt"), "Dt", line.value_date.isoformat())
    _sub(entry, "AcctSvcrRef", line.id)
    code = bank_transaction_code(line)
    domain = _sub(_sub(entry, "BkTxCd"), "Domn")
    _sub(domain, "Cd", code.domain)
    family = _sub(domain, "Fmly")
    _sub(family, "Cd", code.family)
    _sub(family, "SubFmlyCd", code.subfamily)

    details = _sub(_sub(entry, "NtryDtls"), "TxDtls")
    refs = _sub(details, "Refs")
    _sub(refs, "EndToEndId", _fit(line.reference) if line.reference else "NOTPROVIDED")
    if line.counterparty or line.counterparty_iban:
        # Money in came from a debtor, money out went to a creditor.
        role = "Dbtr" if line.amount > 0 else "Cdtr"
        parties = _sub(details, "RltdPties")
        if line.counterparty:
            _sub(_sub(parties, role), "Nm", line.counterparty[:_MAX140])
        if line.counterparty_iban:
            _sub(_sub(_sub(parties, f"{role}Acct"), "Id"), "IBAN", line.counterparty_iban)
    if line.description:
        # Ustrd is Max140Text but may repeat: a longer descriptor is split, not cut.
        remittance = _sub(details, "RmtInf")
        for start in range(0, len(line.description), _MAX140):
            _sub(remittance, "Ustrd", line.description[start : start + _MAX140])


def _append_amount(parent: etree._Element, amount: int, currency: str, scale: int) -> None:
    # CAMT amounts are unsigned; the sign travels in CdtDbtInd. A zero balance is a credit.
    _sub(parent, "Amt", format_amount(abs(amount), scale)).set("Ccy", currency)
    _sub(parent, "CdtDbtInd", "DBIT" if amount < 0 else "CRDT")


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, f"{{{NAMESPACE}}}{tag}")
    if text is not None:
        child.text = text
    return child


def _fit(text: str) -> str:
    return text[:_MAX35]


def _iso_datetime(day: date, at: time) -> str:
    # Statements are dated in UTC; no wall clock, so the same statement gives the same bytes.
    return datetime.combine(day, at).isoformat() + "+00:00"
