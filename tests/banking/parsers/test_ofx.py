"""OFX/QFX parser against real files (ofxparse, Actual Budget) and malformed variants.

Expected values come from ``ofxparse/expected.json`` and ``actualbudget/expected.json``
(upstream assertions and snapshot rows); amounts are written here in minor units.
"""

import io
from datetime import date
from pathlib import Path

import pytest

from autoledger.banking.parsers.ofx import parse_ofx
from autoledger.banking.statement import (
    BankTransaction,
    Item,
    Rejected,
    StatementEnd,
    StatementError,
    StatementStart,
)

FIXTURES = Path(__file__).parents[2] / "fixtures" / "statements"
OFXPARSE = FIXTURES / "ofxparse"
ACTUAL = FIXTURES / "actualbudget"


def parse_file(path: Path, currency: str = "USD") -> list[Item]:
    with path.open("rb") as stream:
        return list(parse_ofx(stream, currency=currency))


def parse_text(text: str, currency: str = "USD") -> list[Item]:
    return list(parse_ofx(io.BytesIO(text.encode()), currency=currency))


def transactions(items: list[Item]) -> list[BankTransaction]:
    return [item for item in items if isinstance(item, BankTransaction)]


def starts(items: list[Item]) -> list[StatementStart]:
    return [item for item in items if isinstance(item, StatementStart)]


def ends(items: list[Item]) -> list[StatementEnd]:
    return [item for item in items if isinstance(item, StatementEnd)]


def test_anzcc_ofx2_credit_card() -> None:
    items = parse_file(OFXPARSE / "anzcc.ofx")
    assert starts(items) == [StatementStart(0, "1234123412341234", "AUD", None, date(2017, 3, 11))]
    (line,) = transactions(items)
    assert (line.booking_date, line.value_date) == (date(2017, 5, 8), date(2017, 5, 8))
    assert line.amount == -550
    assert line.description == "SOME MEMO"
    assert line.counterparty_name is None
    assert line.bank_reference == "201705080001"
    assert line.transaction_code == "DEBIT"
    assert line.line_no == 29
    assert line.raw.startswith("<STMTTRN>")
    assert line.raw.endswith("</STMTTRN>")
    assert ends(items) == [StatementEnd(0, -12345, date(2017, 5, 10))]


def test_checking_name_repeated_in_memo_is_not_duplicated() -> None:
    items = parse_file(OFXPARSE / "checking.ofx")
    assert starts(items)[0].account == "1452687~7"
    assert starts(items)[0].currency == "USD"
    lines = transactions(items)
    assert len(lines) == 3
    first = lines[0]
    assert first.amount == 1
    assert first.booking_date == date(2011, 3, 31)
    assert first.counterparty_name == "DIVIDEND EARNED FOR PERIOD OF 03"
    assert first.description == (
        "DIVIDEND EARNED FOR PERIOD OF 03/01/2011 THROUGH 03/31/2011 "
        "ANNUAL PERCENTAGE YIELD EARNED IS 0.05%"
    )
    assert lines[2].extra == {"check_number": "319"}
    assert ends(items)[0].closing_balance == 10099


def test_empty_tags_and_blank_lines_before_header() -> None:
    items = parse_file(OFXPARSE / "ofx-v102-empty-tags.ofx", currency="AUD")
    # CURDEF is empty: the account's currency applies
    assert starts(items)[0].currency == "AUD"
    assert starts(items)[0].account == "12345678"
    (line,) = transactions(items)
    assert line.amount == 1234
    assert line.booking_date == date(2018, 5, 7)
    assert line.description == "CBA:Transfer"
    assert line.bank_reference is None  # <FITID></FITID>
    assert line.counterparty_name is None  # <NAME></NAME>
    assert line.currency == "AUD"
    assert line.extra["currency_rate"] == "1.0000"
    assert line.line_no == 23
    assert ends(items) == [StatementEnd(0, None, None)]  # empty LEDGERBAL


def test_unreadable_amount_is_a_rejected_line() -> None:
    items = parse_file(OFXPARSE / "fail_nice" / "decimal_error.ofx", currency="CAD")
    assert transactions(items) == []
    (rejected,) = [item for item in items if isinstance(item, Rejected)]
    assert rejected.field == "TRNAMT"
    assert "$120" in rejected.reason
    assert rejected.line_no == 34
    assert "<TRNAMT>$120</TRNAMT>" in rejected.raw
    assert starts(items)[0].account == "192639749"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("fidelity.ofx", "investment statement"),
        ("investment_medium.ofx", "investment statement"),
        ("td_ameritrade.ofx", "investment statement"),
        ("vanguard.ofx", "investment statement"),
        ("signon_success.ofx", "sign-on"),
        ("signon_success_no_message.ofx", "sign-on"),
        ("account_listing_aggregation.ofx", "account list"),
        ("bank_small.ofx", "no bank or credit-card statement"),
    ],
)
def test_files_without_bank_statements_are_refused(name: str, reason: str) -> None:
    with pytest.raises(StatementError, match=reason):
        parse_file(OFXPARSE / name)


def test_html_entities_even_double_escaped() -> None:
    items = parse_file(ACTUAL / "html-vals.qfx")
    lines = transactions(items)
    assert [(x.booking_date, x.amount, x.bank_reference) for x in lines] == [
        (date(2023, 5, 9), -100, "23129130032333396279270000"),
        (date(2023, 3, 1), -100, "23060061032549554596530000"),
    ]
    assert lines[0].counterparty_name == "000000000000000"
    assert lines[1].counterparty_name == "TPAY <DEFTPYMT>"
    assert lines[0].description.endswith(
        "PREAUTHORIZED DEBIT;B.C. HYDRO & POWER AUTHORITY;Electronic Funds Transfer"
    )
    assert [x.line_no for x in lines] == [15, 16]
    assert ends(items)[0].closing_balance == 111111


@pytest.mark.parametrize(
    ("name", "fitid"),
    [("1252.qfx", "cafe1252xx"), ("utf-8.qfx", "cafeUtf8xx")],
)
def test_charsets(name: str, fitid: str) -> None:
    (line,) = transactions(parse_file(ACTUAL / name))
    assert line.counterparty_name == "Café Métro €uro"
    assert line.description == "Café Métro €uro / Paiement 5€ — débit"
    assert (line.amount, line.booking_date, line.bank_reference) == (
        -2000,
        date(2022, 10, 19),
        fitid,
    )


def test_latin1_header() -> None:
    items = parse_file(ACTUAL / "8859-1.qfx")
    (line,) = transactions(items)
    assert line.counterparty_name == "Paiement facture/Carte prépayée"
    assert (line.amount, line.booking_date, line.bank_reference) == (
        -2000,
        date(2022, 10, 19),
        "wSoKuCS77",
    )
    assert line.currency == "CAD"
    assert ends(items)[0].closing_balance == 999999


def test_check_number() -> None:
    lines = transactions(parse_file(ACTUAL / "tracking-number.ofx"))
    assert [(x.bank_reference, x.extra.get("check_number")) for x in lines] == [
        ("tracking-number-1", "2002"),
        ("tracking-number-2", None),
    ]
    assert [x.amount for x in lines] == [-3000, -377]


def test_payee_and_memo() -> None:
    lines = transactions(parse_file(ACTUAL / "data-payee-memo.ofx"))
    assert [(x.counterparty_name, x.description, x.amount) for x in lines] == [
        ("Payee Name", "Payee Name / Memo Text", -1000),
        ("Payee Name Only", "Payee Name Only", -2000),
        (None, "Memo Only Text", -3000),
        (None, "", -4000),
    ]


def test_trailing_zero_decimals_are_exact() -> None:
    lines = transactions(parse_file(ACTUAL / "data-multi-decimal.ofx"))
    # "-30.000" and "-3.77000" are exact cents; nothing is rounded
    assert [x.amount for x in lines] == [-3000, -377]


SGML = (
    "\n   \n"
    + """OFXHEADER:100
DATA:OFXSGML
VERSION:102
CHARSET:WHATEVER

<ofx>
<bankmsgsrsv1><stmttrnrs><stmtrs>
<curdef>EUR
<bankacctfrom><bankid>1<acctid>DE89370400440532013000<accttype>CHECKING</bankacctfrom>
<banktranlist>
<stmttrn>
<trntype>DEBIT
<dtposted>20240105
<dtuser>20240104
<trnamt>-12,50
<fitid>A1
<name>Shop &amp; Co&nbsp;GmbH
<memo>
<checknum>77
<bankacctto><bankid>B<acctid>NL91ABNA0417164300<accttype>CHECKING</bankacctto>
</stmttrn>
<stmttrn>
<trntype>DEBIT
<dtposted>20240106
<trnamt>-1.005
<fitid>A2
</stmttrn>
<stmttrn>
<trntype>CREDIT
<dtposted>20240107
<trnamt>+100.00
<fitid>A3
<origcurrency><currate>1.1<cursym>USD</origcurrency>
</stmttrn>
</banktranlist>
<ledgerbal><balamt>87,50<dtasof>20240131</ledgerbal>
</stmtrs></stmttrnrs></bankmsgsrsv1>
<creditcardmsgsrsv1><ccstmttrnrs><ccstmtrs>
<curdef>EUR<ccacctfrom><acctid>4111</ccacctfrom>
<banktranlist><stmttrn><trntype>PAYMENT<dtposted>20240110<trnamt>5<fitid>C1</stmttrn>
</banktranlist></ccstmtrs></ccstmttrnrs></creditcardmsgsrsv1>
</ofx>
"""
)


def test_malformed_sgml_variants_and_several_statements() -> None:
    items = parse_text(SGML)
    assert [type(item).__name__ for item in items] == [
        "StatementStart",
        "BankTransaction",
        "Rejected",
        "BankTransaction",
        "StatementEnd",
        "StatementStart",
        "BankTransaction",
        "StatementEnd",
    ]
    first = items[1]
    assert isinstance(first, BankTransaction)
    assert first.amount == -1250  # decimal comma
    assert (first.booking_date, first.value_date) == (date(2024, 1, 5), date(2024, 1, 4))
    assert first.counterparty_name == "Shop & Co GmbH"
    assert first.counterparty_account == "NL91ABNA0417164300"
    assert first.extra == {"check_number": "77", "counterparty_bank_id": "B"}
    assert first.line_no == 13
    rejected = items[2]
    assert isinstance(rejected, Rejected)
    assert (rejected.field, rejected.line_no) == ("TRNAMT", 24)  # sub-cent: never rounded
    converted = items[3]
    assert isinstance(converted, BankTransaction)
    assert converted.amount == 10000
    assert converted.currency == "EUR"
    assert converted.extra == {"original_currency": "USD", "original_currency_rate": "1.1"}
    assert items[4] == StatementEnd(0, 8750, date(2024, 1, 31))
    assert items[5] == StatementStart(1, "4111", "EUR", None, None)
    card = items[6]
    assert isinstance(card, BankTransaction)
    assert (card.amount, card.statement_index, card.transaction_code) == (500, 1, "PAYMENT")


def test_not_ofx() -> None:
    with pytest.raises(StatementError, match="not an OFX file"):
        parse_text("Date,Amount\n2024-01-01,5\n")


@pytest.mark.parametrize(
    "declaration",
    [
        '<!DOCTYPE OFX [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>',
    ],
)
def test_ofx2_with_doctype_or_entities_is_refused(declaration: str) -> None:
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<?OFX OFXHEADER="200" VERSION="220"?>\n'
        f"{declaration}\n"
        "<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>USD</CURDEF>"
        "<BANKTRANLIST><STMTTRN><DTPOSTED>20240101</DTPOSTED><TRNAMT>1</TRNAMT>"
        "<NAME>&xxe;</NAME></STMTTRN></BANKTRANLIST></STMTRS></STMTTRNRS>"
        "</BANKMSGSRSV1></OFX>"
    )
    with pytest.raises(StatementError, match="DOCTYPE or ENTITY"):
        parse_text(text)
