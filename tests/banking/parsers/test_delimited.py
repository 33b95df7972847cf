"""Bank CSV files from real banks and from the demo simulator, read back to their lines."""

import codecs
import io
import json
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from autoledger.banking.parsers.delimited import Columns, CsvProfile, Sign, parse_csv, sniff
from autoledger.banking.statement import (
    BankTransaction,
    Item,
    Parser,
    Rejected,
    StatementEnd,
    StatementError,
    StatementStart,
)
from autoledger.demo.export import exported_statements
from autoledger.demo.simulator import simulate
from autoledger.demo.writers.csv_bank import write_csv

FIXTURES = Path(__file__).parents[2] / "fixtures" / "statements" / "actualbudget"


def _parse(data: bytes, currency: str = "EUR", profile: CsvProfile | None = None) -> list[Item]:
    return list(parse_csv(io.BytesIO(data), currency=currency, profile=profile))


def _lines(items: list[Item]) -> list[BankTransaction]:
    return [x for x in items if isinstance(x, BankTransaction)]


def _rejected(items: list[Item]) -> list[Rejected]:
    return [x for x in items if isinstance(x, Rejected)]


def _summary(items: list[Item]) -> list[tuple[int, date, int, str | None]]:
    return [(x.line_no, x.booking_date, x.amount, x.counterparty_name) for x in _lines(items)]


def test_parse_csv_is_a_parser() -> None:
    parser: Parser = parse_csv
    assert callable(parser)


# --- Actual Budget's import mocks (expected values from expected.json / upstream tests) ---

# Written as Actual's snapshot stores rows: line, date as yyyymmdd, amount in integer cents,
# payee. windows-1252*.csv transcribe expected.json (upstream toMatchObject); the other files
# have no upstream assertion, so their values are the files' own text.
ACTUAL_EXPECTED: dict[str, list[tuple[int, int, int, str | None]]] = {
    "data_utf8.csv": [
        (2, 20240101, 4250, "Café René"),
        (3, 20240102, -1575, "Müller GmbH"),
        (4, 20240103, 10000, "Søren Ågård"),
    ],
    "data_windows1252.csv": [
        (2, 20240201, 5025, "Café de Paris"),
        (3, 20240202, -2000, "François Dubois"),
        (4, 20240203, 7550, "Maître Jean"),
    ],
    "windows-1252.csv": [
        (2, 20251204, 10025, "Café Rémy"),
        (3, 20251205, -4210, "Boulangerie Müller"),
    ],
    # byte 0x80 is the euro sign in windows-1252, not a C1 control character
    "windows-1252-euro.csv": [(2, 20251204, 10025, "Café €Rémy")],
    "data-payee-memo.csv": [
        (2, 20190123, -1000, "Payee Name"),
        (3, 20190123, -2000, "Payee Name Only"),
        (4, 20190123, -3000, None),
        (5, 20190123, -4000, None),
    ],
}


def _yyyymmdd(day: int) -> date:
    return date(day // 10000, day // 100 % 100, day % 100)


@pytest.mark.parametrize("name", sorted(ACTUAL_EXPECTED))
def test_actual_budget_files_read_as_upstream_expects(name: str) -> None:
    items = _parse((FIXTURES / name).read_bytes())

    assert isinstance(items[0], StatementStart)
    assert items[0].currency == "EUR"
    assert isinstance(items[-1], StatementEnd)
    assert not _rejected(items)
    expected = [(n, _yyyymmdd(d), a, p) for n, d, a, p in ACTUAL_EXPECTED[name]]
    assert _summary(items) == expected


def test_payee_and_memo_columns_stay_apart() -> None:
    lines = _lines(_parse((FIXTURES / "data-payee-memo.csv").read_bytes()))

    assert [x.description for x in lines] == ["Note Text", "", "Note Only Text", ""]
    assert lines[0].raw == "2019-01-23,-10.00,Payee Name,Note Text"


def test_the_encoding_is_found_for_each_file() -> None:
    encodings = {
        name: sniff(io.BytesIO((FIXTURES / name).read_bytes())).encoding
        for name in ("data_utf8.csv", "utf-8-bom.csv", "windows-1252.csv", "data_windows1252.csv")
    }

    assert encodings == {
        "data_utf8.csv": "utf-8",
        "utf-8-bom.csv": "utf-8-sig",
        "windows-1252.csv": "cp1252",
        "data_windows1252.csv": "cp1252",
    }


UTF8_BOM_EXPECTED = [(2, date(2025, 12, 4), 100_00, "HUF"), (3, date(2025, 12, 1), 100_00, "HUF")]


def _utf8_bom_summary(items: list[Item]) -> list[tuple[int, date, int, str]]:
    return [(x.line_no, x.booking_date, x.amount, x.currency) for x in _lines(items)]


def test_hungarian_export_with_utf8_bom() -> None:
    # Upstream: 2 rows, row 0 {"Könyvelés dátuma": "2025.12.04", "Összeg": "100",
    # "Devizanem": "HUF"}; HUF has 2 decimals in ISO 4217, so 100 HUF is 10000 minor units.
    data = (FIXTURES / "utf-8-bom.csv").read_bytes()
    profile = sniff(io.BytesIO(data))
    items = _parse(data, currency="HUF", profile=profile)

    assert profile.columns.booking_date == "Könyvelés dátuma"
    assert profile.columns.amount == "Összeg"
    assert profile.columns.currency == "Devizanem"
    assert _utf8_bom_summary(items) == UTF8_BOM_EXPECTED
    assert not _rejected(items)


@pytest.mark.parametrize(
    ("codec", "bom"),
    [
        ("utf-16-le", codecs.BOM_UTF16_LE),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-16-le", b""),
        ("utf-16-be", b""),
    ],
)
def test_utf16_with_and_without_bom(codec: str, bom: bytes) -> None:
    text = (FIXTURES / "utf-8-bom.csv").read_bytes().decode("utf-8-sig")
    data = bom + text.encode(codec)

    items = _parse(data, currency="HUF")

    assert _utf8_bom_summary(items) == UTF8_BOM_EXPECTED
    assert not _rejected(items)


@pytest.mark.parametrize(
    ("name", "codec"),
    [("data_euc-jp.csv", "euc_jp"), ("data_euc-kr.csv", "euc_kr"), ("data_gb18030.csv", "gb18030")],
)
def test_east_asian_multibyte_files(name: str, codec: str) -> None:
    data = (FIXTURES / name).read_bytes()
    payees = [row.split(",")[1] for row in data.decode(codec).splitlines()[1:]]

    lines = _lines(_parse(data, currency="USD"))

    assert [x.counterparty_name for x in lines] == payees
    assert [x.line_no for x in lines] == [2, 3, 4]


# --- the demo simulator's three layouts ---------------------------------------------------


def test_demo_simulator_statements_read_back_line_for_line() -> None:
    company = simulate(seed=11, months=2)
    layouts: set[str] = set()
    for exported in exported_statements(company):
        statement = exported.statement
        layout = statement.account.csv_layout
        layouts.add(layout)
        data = write_csv(statement)

        items = _parse(data, currency=statement.account.currency, profile=sniff(io.BytesIO(data)))

        assert not _rejected(items)
        lines = _lines(items)
        expected = statement.lines
        assert len(lines) == len(expected)
        for got, want in zip(lines, expected, strict=True):
            description = want.description
            if layout == "european":  # written in cp1252, "?" for what it lacks
                description = description.encode("cp1252", "replace").decode("cp1252")
            assert got.booking_date == want.booking_date
            assert got.value_date == want.value_date
            assert got.amount == want.amount
            assert got.description == " ".join(description.split())
            assert got.currency == statement.account.currency
        start, end = items[0], items[-1]
        assert isinstance(start, StatementStart)
        assert isinstance(end, StatementEnd)
        assert start.opening_balance == statement.opening_balance
        assert end.closing_balance == statement.closing_balance
        assert start.opening_balance + sum(x.amount for x in lines) == end.closing_balance
        assert lines[-1].running_balance == statement.closing_balance
    assert layouts == {"signed", "debit_credit", "european"}


def test_demo_layout_profiles() -> None:
    company = simulate(seed=3, months=1)
    by_layout = {s.account.csv_layout: s for s in company.statements if s.lines}
    profiles = {k: sniff(io.BytesIO(write_csv(s))) for k, s in by_layout.items()}

    european = profiles["european"]
    assert (european.encoding, european.delimiter, european.decimal) == ("cp1252", ";", ",")
    assert european.date_format == "%d.%m.%Y"
    assert european.columns.booking_date == "Buchungstag"
    assert european.columns.value_date == "Valuta"
    assert european.columns.counterparty_name == "Auftraggeber/Empfänger"
    assert european.columns.description == ("Verwendungszweck",)
    assert european.columns.balance == "Saldo"
    assert european.columns.currency == "Währung"
    debit_credit = profiles["debit_credit"]
    assert debit_credit.sign is Sign.DEBIT_CREDIT
    assert debit_credit.date_format == "%m/%d/%Y"
    assert (debit_credit.columns.booking_date, debit_credit.columns.value_date) == (
        "Posting Date",
        "Transaction Date",
    )
    assert profiles["signed"].sign is Sign.SIGNED


# --- dates ---------------------------------------------------------------------------------

AMBIGUOUS = b"Date,Description,Amount\n01/02/2025,Rent,-1200.00\n03/04/2025,Fee,-5.00\n"


def test_ambiguous_dates_name_the_candidate_formats() -> None:
    with pytest.raises(StatementError, match=r"%d/%m/%Y, %m/%d/%Y") as error:
        sniff(io.BytesIO(AMBIGUOUS))

    assert "date_format" in str(error.value)


def test_ambiguous_dates_read_with_a_profile() -> None:
    profile = CsvProfile(
        columns=Columns(booking_date="Date", amount="Amount", description=("Description",)),
        date_format="%m/%d/%Y",
    )

    lines = _lines(_parse(AMBIGUOUS, profile=profile))

    assert [(x.booking_date, x.amount) for x in lines] == [
        (date(2025, 1, 2), -1200_00),
        (date(2025, 3, 4), -5_00),
    ]
    assert sniff(io.BytesIO(AMBIGUOUS), date_format="%d/%m/%Y").date_format == "%d/%m/%Y"


def test_one_late_day_settles_the_format_for_the_whole_file() -> None:
    rows = "".join(f"{m:02d}/{d:02d}/2025,x,-1.00\n" for m, d in [(1, 2), (3, 4), (5, 6)])
    data = ("Date,Description,Amount\n" + rows + "12/25/2025,x,-1.00\n").encode()

    assert sniff(io.BytesIO(data)).date_format == "%m/%d/%Y"


def test_dates_with_times_and_month_names() -> None:
    data = (
        b"Transaction Date;Details;Money out;Money in\n"
        b"31 Jan 2025 14:05:00;Coffee;3,50;\n"
        b"01 Feb 2025 09:00:00;Salary;;2.500,00\n"
    )

    items = _parse(data)

    assert [(x.booking_date, x.amount) for x in _lines(items)] == [
        (date(2025, 1, 31), -3_50),
        (date(2025, 2, 1), 2500_00),
    ]


# --- profiles ------------------------------------------------------------------------------


def test_profile_round_trips_through_json() -> None:
    data = (FIXTURES / "utf-8-bom.csv").read_bytes()
    profile = sniff(io.BytesIO(data))

    stored = json.loads(json.dumps(profile.to_dict()))
    again = CsvProfile.from_dict(stored)

    assert again == profile
    assert _parse(data, "HUF", again) == _parse(data, "HUF", profile)


def test_profile_dict_is_readable() -> None:
    data = "Buchungstag;Verwendungszweck;Betrag;Saldo\n31.01.2025;Miete;-1.200,00;3.000,00\n"

    shape = sniff(io.BytesIO(data.encode("cp1252"))).to_dict()

    assert shape == {
        "encoding": "utf-8",
        "delimiter": ";",
        "quotechar": '"',
        "header_row": 0,
        "data_row": 1,
        "date_format": "%d.%m.%Y",
        "decimal": ",",
        "thousands": ".",
        "sign": "signed",
        "columns": {
            "booking_date": "Buchungstag",
            "amount": "Betrag",
            "balance": "Saldo",
            "description": ["Verwendungszweck"],
        },
    }


def test_a_profile_survives_reordered_columns() -> None:
    first = b"Date,Amount,Memo\n2025-01-31,-1.00,a\n"
    moved = b"Memo,Date,Amount\nb,2025-02-28,-2.00\n"
    profile = sniff(io.BytesIO(first))

    lines = _lines(_parse(moved, profile=profile))

    assert [(x.booking_date, x.amount, x.description) for x in lines] == [
        (date(2025, 2, 28), -2_00, "b")
    ]


VALID = {"date_format": "%Y-%m-%d", "columns": {"booking_date": "Date", "amount": "Amount"}}


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"colour": "red"}, "'colour'"),
        ({"delimiter": ";;"}, "'delimiter'"),
        ({"encoding": "klingon-8"}, "'encoding'"),
        ({"decimal": "x"}, "'decimal'"),
        ({"thousands": 3}, "'thousands'"),
        ({"sign": "sideways"}, "'sign'"),
        ({"header_row": -1}, "'header_row'"),
        ({"date_format": "dd.mm.yyyy"}, "'date_format'"),
        ({"columns": {"amount": "Amount"}}, "'columns.booking_date'"),
        ({"columns": {"booking_date": "Date", "amount": "A", "payee": "P"}}, "'columns.payee'"),
        ({"columns": {"booking_date": "Date"}}, "'columns.amount'"),
        ({"sign": "debit_credit"}, "'columns.debit'"),
        ({"header_row": None}, "'columns.booking_date'"),
        ({"columns": {"booking_date": 0, "amount": 1.5}}, "'columns.amount'"),
    ],
)
def test_from_dict_names_the_bad_key(change: dict[str, object], key: str) -> None:
    with pytest.raises(StatementError, match=key):
        CsvProfile.from_dict({**VALID, **change})


def test_a_profile_built_in_code_takes_plain_strings() -> None:
    profile = CsvProfile(
        columns=Columns(booking_date="Date", amount="Amount", description=["Memo"]),  # type: ignore[arg-type]  # a list, as JSON gives
        date_format="%Y-%m-%d",
        sign="inverted",  # type: ignore[arg-type]  # a str, as JSON gives
    )

    assert profile.sign is Sign.INVERTED
    assert profile.columns.description == ("Memo",)
    assert [
        x.amount for x in _lines(_parse(b"Date,Amount,Memo\n2025-01-13,5.00,x\n", profile=profile))
    ] == [-5_00]


def test_a_profile_naming_a_missing_column_is_refused() -> None:
    profile = CsvProfile.from_dict(VALID)

    with pytest.raises(StatementError, match="'Amount'"):
        _parse(b"Date,Betrag\n2025-01-01,1.00\n", profile=profile)


# --- rows ----------------------------------------------------------------------------------


def test_bad_rows_are_rejected_and_parsing_continues() -> None:
    data = (
        b"Date,Description,Amount\n"
        b"2025-01-13,ok,-1.00\n"
        b"2025-13-45,bad date,-2.00\n"
        b"2025-01-14,bad amount,twelve\n"
        b"2025-01-15,,\n"
        b"2025-01-16,ok again,3.00\n"
    )

    items = _parse(data)

    assert [(x.line_no, x.field) for x in _rejected(items)] == [
        (3, "booking_date"),
        (4, "amount"),
        (5, "amount"),
    ]
    assert _rejected(items)[0].raw == "2025-13-45,bad date,-2.00"
    assert [(x.line_no, x.amount) for x in _lines(items)] == [(2, -1_00), (6, 3_00)]


def test_quoted_fields_with_delimiters_and_newlines_keep_line_numbers() -> None:
    data = (
        b"Date,Description,Amount\r\n"
        b'2025-01-13,"Rent, January\r\nflat 2",-1200.00\r\n'
        b'2025-01-14,"He said ""hi""",5.00\r\n'
    )

    lines = _lines(_parse(data))

    assert [(x.line_no, x.description) for x in lines] == [
        (2, "Rent, January flat 2"),
        (4, 'He said "hi"'),
    ]
    assert lines[0].raw == '2025-01-13,"Rent, January\r\nflat 2",-1200.00'


def test_preamble_blank_lines_and_footers() -> None:
    data = (
        "Kontoauszug Girokonto DE89 3704 0044 0532 0130 00\n"
        "Zeitraum: 01.01.2025 - 31.01.2025\n"
        "\n"
        "Buchungstag;Wertstellung;Buchungstext;Betrag;Kontostand\n"
        "02.01.2025;02.01.2025;Miete;-1.200,00;3.800,00\n"
        "\n"
        "15.01.2025;16.01.2025;Gehalt;2.500,00;6.300,00\n"
        "Kontostand;;;;6.300,00\n"
        "Exportiert am 01.02.2025\n"
    ).encode("cp1252")

    items = _parse(data)

    assert [(x.line_no, x.booking_date, x.amount) for x in _lines(items)] == [
        (5, date(2025, 1, 2), -1200_00),
        (7, date(2025, 1, 15), 2500_00),
    ]
    # A footer that does not read as one is reported, not dropped.
    assert [(x.line_no, x.field) for x in _rejected(items)] == [(9, "booking_date")]
    assert items[0] == StatementStart(
        index=0, currency="EUR", opening_balance=5000_00, opening_date=date(2025, 1, 2)
    )
    assert items[-1] == StatementEnd(
        index=0, closing_balance=6300_00, closing_date=date(2025, 1, 15)
    )


def test_newest_first_files_take_the_opening_balance_from_the_last_row() -> None:
    data = (
        b"Date,Description,Amount,Balance\n"
        b"2025-01-20,c,-10.00,90.00\n"
        b"2025-01-15,b,50.00,100.00\n"
        b"2025-01-13,a,-50.00,50.00\n"
    )

    items = _parse(data)

    assert items[0] == StatementStart(
        index=0, currency="EUR", opening_balance=100_00, opening_date=date(2025, 1, 13)
    )
    assert items[-1] == StatementEnd(index=0, closing_balance=90_00, closing_date=date(2025, 1, 20))


def test_card_export_with_purchases_positive_is_inverted() -> None:
    data = (
        b"Date,Description,Amount,Balance\n"
        b"2025-01-13,Coffee,3.50,-3.50\n"
        b"2025-01-14,Books,20.00,-23.50\n"
        b"2025-01-15,Payment,-23.50,0.00\n"
    )

    profile = sniff(io.BytesIO(data))
    items = _parse(data, profile=profile)

    assert profile.sign is Sign.INVERTED
    assert [x.amount for x in _lines(items)] == [-3_50, -20_00, 23_50]


@pytest.mark.parametrize(
    ("marks", "header"),
    [(("DR", "CR"), "Type"), (("S", "H"), "Soll/Haben"), (("Af", "Bij"), "Af Bij")],
)
def test_marker_columns(marks: tuple[str, str], header: str) -> None:
    out, into = marks
    data = (
        f"Datum;Naam;{header};Bedrag\n"
        f"13-01-2025;Shop;{out};12,50\n"
        f"14-01-2025;Employer;{into};1.000,00\n"
    ).encode()

    profile = sniff(io.BytesIO(data))
    lines = _lines(_parse(data, profile=profile))

    assert profile.sign is Sign.MARKER
    assert [(x.booking_date, x.amount, x.counterparty_name) for x in lines] == [
        (date(2025, 1, 13), -12_50, "Shop"),
        (date(2025, 1, 14), 1000_00, "Employer"),
    ]


def test_debits_written_negative_are_money_out() -> None:
    data = b"Date,Details,Withdrawal,Deposit\n2025-01-13,fee,-4.00,\n2025-01-14,pay,,9.00\n"

    assert [x.amount for x in _lines(_parse(data))] == [-4_00, 9_00]


def test_headerless_file_columns_come_from_content() -> None:
    data = b"13/01/2025;Coffee shop;-3,50;96,50\n14/01/2025;Refund;10,00;106,50\n"

    profile = sniff(io.BytesIO(data))
    items = _parse(data, profile=profile)

    assert profile.header_row is None
    assert profile.columns.booking_date == 0
    assert [(x.line_no, x.amount, x.description, x.running_balance) for x in _lines(items)] == [
        (1, -3_50, "Coffee shop", 96_50),
        (2, 10_00, "Refund", 106_50),
    ]
    assert isinstance(items[0], StatementStart)
    assert items[0].opening_balance == 100_00


def test_a_row_currency_sets_the_scale() -> None:
    data = b"Date,Amount,Currency,Memo\n2025-01-13,1500,JPY,tea\n2025-01-14,1.50,XXQ,bad\n"

    items = _parse(data)

    assert [(x.amount, x.currency) for x in _lines(items)] == [(1500, "JPY")]
    assert [(x.line_no, x.field) for x in _rejected(items)] == [(3, "currency")]


# --- whole-file problems -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (bytes(range(256)) * 8, "binary"),
        (b"Name,Amount\nAlice,1.00\nBob,2.00\n", "date"),
        (b"Date,Description\n2025-01-13,x\n2025-01-14,y\n", "amount"),
        (b"Date,Description,Amount\n", "no transaction rows"),
    ],
)
def test_unreadable_files_raise_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(StatementError, match=message):
        sniff(io.BytesIO(data))


def test_a_wrong_encoding_in_the_profile_is_a_statement_error() -> None:
    data = (FIXTURES / "windows-1252.csv").read_bytes()
    profile = replace(sniff(io.BytesIO(data)), encoding="utf-8")

    with pytest.raises(StatementError, match="utf-8"):
        _parse(data, profile=profile)


def test_unknown_account_currency() -> None:
    with pytest.raises(StatementError, match="ISO 4217"):
        _parse(b"Date,Amount\n2025-01-13,1.00\n", currency="ZZZ")


@pytest.mark.parametrize(
    ("cell", "minor"),
    [
        ("(12.50)", -12_50),
        ("12,50-", -12_50),
        ("-€12.50", -12_50),
        ("EUR -12.50", -12_50),
        ("12.50 DR", -12_50),
        ("12.50 CR", 12_50),
        ("+12.50", 12_50),
        ("\u221212.50", -12_50),
        ("-12,5", -12_50),
        ("1 234,56", 1234_56),
        ("1\u00a0234,56", 1234_56),
        ("1'234.56", 1234_56),
        ("-1,234,567.89", -1234567_89),
        ("-1.234.567,89", -1234567_89),
    ],
)
def test_amount_spellings(cell: str, minor: int) -> None:
    data = f'Date;Memo;Amount\n2025-01-13;x;"{cell}"\n'.encode()

    assert [x.amount for x in _lines(_parse(data))] == [minor]


def test_old_mac_line_endings() -> None:
    data = b"Date,Memo,Amount\r2025-01-13,a,1.00\r2025-01-14,b,2.00\r"

    assert [(x.line_no, x.amount) for x in _lines(_parse(data))] == [(2, 1_00), (3, 2_00)]


def test_a_total_footer_in_a_debit_credit_file_is_skipped() -> None:
    data = (
        b"Posting Date,Description,Debit,Credit\n"
        b"01/13/2025,Coffee,3.50,\n"
        b"01/14/2025,Refund,,1.00\n"
        b"Total,,3.50,1.00\n"
    )

    items = _parse(data)

    assert [x.amount for x in _lines(items)] == [-3_50, 1_00]
    assert not _rejected(items)


# --- row width ----------------------------------------------------------------------------


def test_a_row_wider_than_the_header_is_rejected_whole() -> None:
    # An unquoted decimal comma splits "12,34" in two: reading "12" would invent an amount.
    data = (
        b"Date,Description,Amount\n"
        b"2026-01-13,ok,1.00\n"
        b"2026-01-14,Broken amount,12,34\n"
        b"2026-01-15,trailing delimiters are fine,2.00,,\n"
    )
    profile = CsvProfile(columns=Columns("Date", amount="Amount", description=("Description",)),
                         date_format="%Y-%m-%d")  # fmt: skip

    for items in (_parse(data), _parse(data, profile=profile)):
        assert _rejected(items) == [
            Rejected(
                3,
                "row",
                "has 4 cells; the header has 3 (an unquoted delimiter?)",
                "2026-01-14,Broken amount,12,34",
            )
        ]
        assert [(x.line_no, x.amount) for x in _lines(items)] == [(2, 1_00), (4, 2_00)]


def test_a_row_missing_a_mapped_column_is_rejected_naming_it() -> None:
    data = (
        b"Date,Description,Amount,Reference\n"
        b"2026-01-13,ok,1.00,R1\n"
        b"2026-01-14,no amount\n"
        b"2026-01-15,no reference,2.00\n"
        b"2026-01-16,ok,3.00,R4\n"
    )

    items = _parse(data)

    rejected = _rejected(items)
    assert [(x.line_no, x.field) for x in rejected] == [(3, "amount"), (4, "bank_reference")]
    assert "'Amount'" in rejected[0].reason
    assert "'Reference'" in rejected[1].reason
    assert [x.line_no for x in _lines(items)] == [2, 5]


# --- large files: caches, fast amounts, balances from the head and the tail ----------------


def _big(rows: int, *, newest_first: bool = False, tail: bytes = b"") -> tuple[bytes, int]:
    lines, balance = [], 1000_00
    for i in range(rows):
        day = date(2025, 1, 1) + timedelta(days=i // 50)
        amount = (i % 7 - 3) * 1_234_56 + 1
        balance += amount
        lines.append(f"{day:%d.%m.%Y};Zahlung {i};{_german(amount)};{_german(balance)}\n")
    if newest_first:
        lines.reverse()
    return b"Datum;Verwendungszweck;Betrag;Saldo\n" + "".join(lines).encode() + tail, balance


def _german(minor: int) -> str:
    return f"{minor / 100:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


@pytest.mark.parametrize("newest_first", [False, True])
@pytest.mark.parametrize(
    "tail",
    [
        b"",
        b"Summe;;;\n\n",
        b'"31.12.2099";"quoted, so the tail is read in full";1,00;1,00\nkein Datum;x;1,00;2,00\n',
    ],
)
def test_large_files_balances_and_amounts(newest_first: bool, tail: bytes) -> None:
    data, closing = _big(5000, newest_first=newest_first, tail=tail)

    items = _parse(data)

    lines = _lines(items)
    assert len(lines) == 5000 + (tail.count(b"2099") if tail else 0)
    by_text = {x.description: x for x in lines}
    assert by_text["Zahlung 0"].amount == -3 * 1_234_56 + 1
    assert by_text["Zahlung 0"].booking_date == date(2025, 1, 1)
    assert by_text["Zahlung 4999"].booking_date == date(2025, 1, 1) + timedelta(days=99)
    assert sum(x.amount for x in lines if x.description.startswith("Zahlung")) == closing - 1000_00
    if b"2099" in tail:
        # The last row is newest by date, whatever the file's order.
        first_balance = by_text["Zahlung 4999" if newest_first else "Zahlung 0"]
        assert items[-1] == StatementEnd(
            index=0, closing_balance=1_00, closing_date=date(2099, 12, 31)
        )
        assert first_balance.running_balance is not None
    else:
        assert items[0] == StatementStart(
            index=0, currency="EUR", opening_balance=1000_00, opening_date=date(2025, 1, 1)
        )
        assert items[-1] == StatementEnd(
            index=0, closing_balance=closing, closing_date=date(2025, 1, 1) + timedelta(days=99)
        )
    assert [x.field for x in _rejected(items)] == (["booking_date"] if b"kein" in tail else [])


def test_repeated_bad_dates_are_rejected_every_time() -> None:
    rows = b"".join(
        b"2025-01-%02d,x,1.00\n2025-02-30,bad,1.00\n" % (1 + i % 28) for i in range(300)
    )

    profile = CsvProfile(columns=Columns("Date", amount="Amount"), date_format="%Y-%m-%d")

    items = _parse(b"Date,Description,Amount\n" + rows, profile=profile)

    assert len(_lines(items)) == 300
    assert {x.reason for x in _rejected(items)} == {"'2025-02-30' is not a date in %Y-%m-%d"}
    assert len(_rejected(items)) == 300
