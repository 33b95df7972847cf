from collections import Counter

import pytest

from autoledger.kit.errors import InvalidRequest
from autoledger.ledger.chart import (
    ChartError,
    ChartRow,
    UnknownChartTemplate,
    available_templates,
    load_template,
    parse_chart_csv,
)
from autoledger.ledger.types import AccountType, Direction


def problems(text: str) -> list[tuple[str, str]]:
    """The (loc, message) pairs ChartError reports for ``text``."""
    with pytest.raises(ChartError) as excinfo:
        parse_chart_csv(text)
    return [(error.loc, error.message) for error in excinfo.value.errors]


def locs(text: str) -> list[str]:
    return [loc for loc, _ in problems(text)]


# --- account types -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account_type", "side"),
    [
        (AccountType.ASSET, Direction.DEBIT),
        (AccountType.EXPENSE, Direction.DEBIT),
        (AccountType.LIABILITY, Direction.CREDIT),
        (AccountType.EQUITY, Direction.CREDIT),
        (AccountType.REVENUE, Direction.CREDIT),
    ],
)
def test_normal_side_of_each_account_type(account_type: AccountType, side: Direction) -> None:
    assert account_type.normal_side is side


def test_account_types_and_directions_are_lowercase_strings() -> None:
    assert [t.value for t in AccountType] == ["asset", "liability", "equity", "revenue", "expense"]
    assert AccountType("revenue") == "revenue"
    assert [d.value for d in Direction] == ["debit", "credit"]


# --- the small business template ------------------------------------------------------------


@pytest.fixture(scope="module")
def small_business() -> list[ChartRow]:
    return load_template("small_business")


def test_templates_are_listed() -> None:
    assert "small_business" in available_templates()


def test_small_business_template_is_a_realistic_chart(small_business: list[ChartRow]) -> None:
    assert 60 <= len(small_business) <= 80
    by_code = {row.code: row for row in small_business}
    assert len(by_code) == len(small_business)
    assert {row.type for row in small_business} == set(AccountType)
    roots = {row.code for row in small_business if row.parent_code is None}
    assert {"1000", "2000", "3000", "4000", "5000", "6000", "7000"} <= roots
    for code, name, account_type in [
        ("1110", "Operating bank account", AccountType.ASSET),
        ("1590", "Accumulated depreciation", AccountType.ASSET),
        ("2150", "Credit card payable", AccountType.LIABILITY),
        ("2400", "Sales tax payable", AccountType.LIABILITY),
        ("3200", "Retained earnings", AccountType.EQUITY),
        ("3900", "Currency conversion (FX trading)", AccountType.EQUITY),
        ("4500", "Refunds, returns and discounts", AccountType.REVENUE),
        ("6810", "Payment processing fees", AccountType.EXPENSE),
        ("7900", "Uncategorized expense", AccountType.EXPENSE),
    ]:
        assert (by_code[code].name, by_code[code].type) == (name, account_type)


def test_small_business_parents_precede_children(small_business: list[ChartRow]) -> None:
    seen: set[str] = set()
    for row in small_business:
        assert row.parent_code is None or row.parent_code in seen, row
        seen.add(row.code)


def test_small_business_children_share_their_parents_type(small_business: list[ChartRow]) -> None:
    by_code = {row.code: row for row in small_business}
    for row in small_business:
        if row.parent_code is not None:
            assert by_code[row.parent_code].type is row.type, row


def test_small_business_normal_sides(small_business: list[ChartRow]) -> None:
    sides = {row.code: row.type.normal_side for row in small_business}
    assert sides["1110"] is Direction.DEBIT
    assert sides["2100"] is Direction.CREDIT
    assert sides["3100"] is Direction.CREDIT
    assert sides["4100"] is Direction.CREDIT
    assert sides["6100"] is Direction.DEBIT
    assert Counter(sides.values()).keys() == {Direction.DEBIT, Direction.CREDIT}


def test_unknown_template_lists_the_available_ones() -> None:
    with pytest.raises(UnknownChartTemplate) as excinfo:
        load_template("../../kit/money")
    error = excinfo.value
    assert isinstance(error, InvalidRequest)
    assert error.code == "ledger.unknown_chart_template"
    assert "small_business" in error.detail
    assert error.extra == {"available": available_templates()}


# --- parsing -------------------------------------------------------------------------------


def test_parse_a_small_chart() -> None:
    text = "code,name,type,parent_code\n1000,Assets,asset,\n1100,Cash,asset,1000\n"
    assert parse_chart_csv(text) == [
        ChartRow(line=2, code="1000", name="Assets", type=AccountType.ASSET, parent_code=None),
        ChartRow(line=3, code="1100", name="Cash", type=AccountType.ASSET, parent_code="1000"),
    ]


def test_parent_code_column_is_optional() -> None:
    rows = parse_chart_csv("code,name,type\n4000,Revenue,revenue\n")
    assert rows == [
        ChartRow(line=2, code="4000", name="Revenue", type=AccountType.REVENUE, parent_code=None)
    ]


def test_cells_are_trimmed_and_type_and_header_are_case_insensitive() -> None:
    text = "\ufeff Code , NAME ,Type,Parent_Code\r\n 6100 ,  Rent  , EXPENSE ,  \r\n"
    assert parse_chart_csv(text) == [
        ChartRow(line=2, code="6100", name="Rent", type=AccountType.EXPENSE, parent_code=None)
    ]


def test_columns_may_come_in_any_order() -> None:
    rows = parse_chart_csv("type,parent_code,code,name\nasset,,1000,Assets\nasset,1000,1100,Cash\n")
    assert [(row.code, row.parent_code) for row in rows] == [("1000", None), ("1100", "1000")]


def test_blank_rows_short_rows_and_trailing_commas_are_tolerated() -> None:
    text = "\ncode,name,type,parent_code\n\n1000,Assets,asset\n,,,\n1100,Cash,asset,1000,,\n"
    rows = parse_chart_csv(text)
    assert [(row.line, row.code) for row in rows] == [(4, "1000"), (6, "1100")]


def test_quoted_names_keep_commas_and_lines_count_physical_lines() -> None:
    text = 'code,name,type\n1000,"Cash, ""petty""",asset\n2000,"Two\nlines",liability\n3000,Equity,equity\n'
    rows = parse_chart_csv(text)
    assert [(row.line, row.name) for row in rows] == [
        (2, 'Cash, "petty"'),
        (3, "Two\nlines"),
        (5, "Equity"),
    ]


def test_parents_are_moved_before_their_children_and_order_is_otherwise_kept() -> None:
    text = (
        "code,name,type,parent_code\n"
        "1110,Bank,asset,1100\n"
        "5000,COGS,expense,\n"
        "1100,Cash,asset,1000\n"
        "1120,Savings,asset,1100\n"
        "1000,Assets,asset,\n"
        "6000,Opex,expense,\n"
    )
    assert [row.code for row in parse_chart_csv(text)] == [
        "5000",
        "1000",
        "1100",
        "1110",
        "1120",
        "6000",
    ]


def test_a_chart_in_parent_first_order_is_unchanged() -> None:
    text = "code,name,type,parent_code\n1000,A,asset,\n2000,L,liability,\n1100,C,asset,1000\n"
    assert [row.code for row in parse_chart_csv(text)] == ["1000", "2000", "1100"]


def test_code_pattern() -> None:
    ok = "code,name,type\nA.1-b_2,x,asset\n" + "9" * 32 + ",y,asset\n"
    assert [row.code for row in parse_chart_csv(ok)] == ["A.1-b_2", "9" * 32]
    bad = (
        "code,name,type\n-1,a,asset\n.1,b,asset\n1 0,c,asset\n"
        + "9" * 33
        + ",d,asset\n\u0661,e,asset\n"
    )
    assert locs(bad) == [f"line {n}.code" for n in range(2, 7)]


# --- errors: every problem, by line ------------------------------------------------------


def test_empty_file() -> None:
    for text in ["", "\n\n", "\ufeff"]:
        [(loc, message)] = problems(text)
        assert loc == "line 1"
        assert "empty" in message


def test_header_only_is_an_empty_chart() -> None:
    assert parse_chart_csv("code,name,type,parent_code\n") == []


def test_missing_unknown_and_duplicate_columns() -> None:
    assert problems("code,label,kind,name,code\n1,a,asset,b,1\n") == [
        ("line 1.label", "unknown column; expected code, name, type, parent_code"),
        ("line 1.kind", "unknown column; expected code, name, type, parent_code"),
        ("line 1.code", "duplicate column"),
        ("line 1.type", "missing column"),
    ]


def test_missing_column_is_reported_on_the_header_line() -> None:
    assert problems("\ncode,name\n1000,Assets\n") == [("line 2.type", "missing column")]


def test_every_problem_is_listed_with_its_line_and_column() -> None:
    text = (
        "code,name,type,parent_code\n"  # 1
        "1000,Assets,asset,\n"  # 2
        "1100,Cash,asset,1000\n"  # 3
        "1100,Cash again,asset,1000\n"  # 4: duplicate code
        "1200,Receivables,assets,1000\n"  # 5: bad type
        "1300,Prepaid,asset,1999\n"  # 6: unknown parent
        "1400,,asset,1000\n"  # 7: missing name
        "2000,Liabilities,liability,1000\n"  # 8: parent of another type
        "A,Loop a,expense,B\n"  # 9: cycle A → B → A
        "B,Loop b,expense,A\n"  # 10
        "S,Self,expense,S\n"  # 11: cycle S → S
        "1500,Fixed,,1000,extra\n"  # 12: missing type, extra cell
    )
    with pytest.raises(ChartError) as excinfo:
        parse_chart_csv(text)
    error = excinfo.value
    assert error.code == "ledger.invalid_chart"
    assert isinstance(error, InvalidRequest)
    assert [(e.loc, e.message) for e in error.errors] == [
        ("line 4.code", "duplicate code '1100', first on line 3"),
        ("line 5.type", "'assets' is not one of asset, liability, equity, revenue, expense"),
        ("line 6.parent_code", "unknown parent '1999': no account has that code"),
        ("line 7.name", "is required"),
        ("line 8.parent_code", "parent '1000' (line 2) is asset, not liability"),
        ("line 9.parent_code", "parent links form a cycle: A → B → A"),
        ("line 11.parent_code", "parent links form a cycle: S → S"),
        ("line 12", "has 5 cells but the header has 4 columns"),
        ("line 12.type", "is required"),
    ]
    assert error.detail.startswith("the chart has 9 problems; first: line 4.code: duplicate code")


def test_a_cycle_is_reported_once_at_its_first_line() -> None:
    text = (
        "code,name,type,parent_code\n"
        "X,Leads into the loop,asset,C\n"  # 2: not itself in the loop
        "B,b,asset,C\n"  # 3
        "C,c,asset,D\n"  # 4
        "D,d,asset,B\n"  # 5
    )
    assert problems(text) == [("line 3.parent_code", "parent links form a cycle: B → C → D → B")]


def test_a_malformed_parent_is_reported_once() -> None:
    text = "code,name,type,parent_code\n1 000,Assets,asset,\n1100,Cash,asset,1 000\n"
    assert locs(text) == ["line 2.code"]


def test_name_length_limit() -> None:
    assert parse_chart_csv("code,name,type\n1," + "n" * 200 + ",asset\n")[0].name == "n" * 200
    assert problems("code,name,type\n1," + "n" * 201 + ",asset\n") == [
        ("line 2.name", "is longer than 200 characters")
    ]


def test_unreadable_csv_is_a_chart_error() -> None:
    [(loc, message)] = problems('code,name,type\n1,"' + "n" * 200_000 + '",asset\n')
    assert loc == "line 2"
    assert message.startswith("unreadable CSV")


def test_one_problem_reads_in_the_singular() -> None:
    with pytest.raises(ChartError, match=r"^the chart has 1 problem; first: line 2\.type"):
        parse_chart_csv("code,name,type\n1,a,b\n")
