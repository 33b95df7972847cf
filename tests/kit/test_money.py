import re
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from autoledger.kit.errors import InvalidRequest
from autoledger.kit.money import (
    ASSET_CODE_PATTERN,
    MAX_AMOUNT,
    MAX_SCALE,
    Asset,
    InvalidAmount,
    format_amount,
    iso_currency,
    parse_amount,
    resolve_asset,
)

scales = st.integers(min_value=0, max_value=MAX_SCALE)
amounts = st.integers(min_value=-MAX_AMOUNT, max_value=MAX_AMOUNT)


def reason(excinfo: pytest.ExceptionInfo[InvalidAmount]) -> str:
    [error] = excinfo.value.errors
    return error.message


# --- Asset -------------------------------------------------------------------------------


def test_asset_is_an_immutable_value() -> None:
    usd = Asset("USD", 2)
    assert usd == Asset("USD", 2)
    assert hash(usd) == hash(Asset("USD", 2))
    with pytest.raises(AttributeError):
        usd.scale = 3  # type: ignore[misc]


@pytest.mark.parametrize("scale", [-1, 13, 18])
def test_asset_scale_is_capped_at_twelve(scale: int) -> None:
    with pytest.raises(ValueError, match="scale"):
        Asset("TOKEN", scale)


@pytest.mark.parametrize("code", ["usd", "U", "1USD", "US D", "A" * 17, "USD-C", "ÜSD", ""])
def test_asset_code_must_match_the_pattern(code: str) -> None:
    assert not re.match(ASSET_CODE_PATTERN, code)
    with pytest.raises(ValueError, match="asset code"):
        Asset(code, 2)


@pytest.mark.parametrize("code", ["USD", "USDC", "POINTS", "A1", "X_Y", "A" * 16])
def test_asset_accepts_codes_matching_the_pattern(code: str) -> None:
    assert Asset(code, 0).code == code


# --- ISO 4217 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "scale"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("BHD", 3), ("KWD", 3), ("CLF", 4)]
)
def test_iso_currency_has_its_minor_unit_exponent(code: str, scale: int) -> None:
    assert iso_currency(code) == Asset(code, scale)


@pytest.mark.parametrize("code", ["XAU", "XXX", "XTS", "XDR"])
def test_iso_units_without_a_minor_unit_are_not_currencies(code: str) -> None:
    assert iso_currency(code) is None


@pytest.mark.parametrize("code", ["usd", "ABC", "HRK", "", "USDC", "US"])
def test_unknown_lowercase_and_withdrawn_codes_are_not_iso_currencies(code: str) -> None:
    assert iso_currency(code) is None


def test_resolve_asset_prefers_the_tenant_definition() -> None:
    custom = {"XAU": 3, "USDC": 6, "USD": 4}
    assert resolve_asset("XAU", custom) == Asset("XAU", 3)
    assert resolve_asset("USDC", custom) == Asset("USDC", 6)
    assert resolve_asset("USD", custom) == Asset("USD", 4)
    assert resolve_asset("EUR", custom) == Asset("EUR", 2)
    assert resolve_asset("POINTS", custom) is None
    assert resolve_asset("XAU", {}) is None


# --- format_amount -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "scale", "text"),
    [
        (123450, 2, "1234.50"),
        (-5, 2, "-0.05"),
        (7, 0, "7"),
        (0, 2, "0.00"),
        (0, 0, "0"),
        (-7, 0, "-7"),
        (1, 12, "0.000000000001"),
        (MAX_AMOUNT, 2, "92233720368547758.07"),
        (-MAX_AMOUNT, 12, "-9223372.036854775807"),
    ],
)
def test_format_amount(minor: int, scale: int, text: str) -> None:
    assert format_amount(minor, scale) == text


@pytest.mark.parametrize("scale", [-1, 13])
def test_format_amount_rejects_scales_out_of_range(scale: int) -> None:
    with pytest.raises(ValueError, match="scale"):
        format_amount(1, scale)


@given(minor=amounts, scale=scales)
@example(minor=MAX_AMOUNT, scale=MAX_SCALE)
@example(minor=-MAX_AMOUNT, scale=0)
@example(minor=0, scale=2)
def test_format_then_parse_is_the_identity(minor: int, scale: int) -> None:
    text = format_amount(minor, scale)
    assert len(text.partition(".")[2]) == scale
    assert parse_amount(text, scale, allow_zero=True, allow_negative=True) == minor


@given(minor=amounts, scale=scales)
def test_format_amount_is_exact(minor: int, scale: int) -> None:
    assert Decimal(format_amount(minor, scale)) == Decimal(minor).scaleb(-scale)


# --- parse_amount: what it accepts ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scale", "minor"),
    [
        ("1234.50", 2, 123450),
        ("1234.5", 2, 123450),
        ("1234", 2, 123400),
        ("0.50", 2, 50),
        ("007", 0, 7),
        ("00.01", 2, 1),
        ("1", 0, 1),
        ("0.000000000001", 12, 1),
        ("92233720368547758.07", 2, MAX_AMOUNT),
    ],
)
def test_parse_amount(text: str, scale: int, minor: int) -> None:
    assert parse_amount(text, scale) == minor


@given(
    whole=st.text("0123456789", min_size=1, max_size=20),
    fraction=st.text("0123456789", max_size=MAX_SCALE),
    scale=scales,
)
def test_parse_amount_agrees_with_decimal_arithmetic(whole: str, fraction: str, scale: int) -> None:
    text = f"{whole}.{fraction}" if fraction else whole
    expected = Decimal(text).scaleb(scale)
    try:
        minor = parse_amount(text, scale, allow_zero=True)
    except InvalidAmount:
        assert len(fraction) > scale or expected > MAX_AMOUNT
    else:
        assert minor == expected


@given(st.text(max_size=50))
@example("1.5")
@example("-0.05")
def test_parse_amount_accepts_exactly_its_grammar(text: str) -> None:
    grammatical = re.fullmatch(r"-?[0-9]+(\.[0-9]{1,2})?", text, re.ASCII) and len(text) <= 40
    if grammatical and abs(Decimal(text).scaleb(2)) <= MAX_AMOUNT:
        minor = parse_amount(text, 2, allow_zero=True, allow_negative=True)
        assert type(minor) is int
        assert minor == Decimal(text).scaleb(2)
    else:
        with pytest.raises(InvalidAmount):
            parse_amount(text, 2, allow_zero=True, allow_negative=True)


# --- parse_amount: what it rejects ---------------------------------------------------------


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_parse_amount_never_accepts_a_float(value: float) -> None:
    with pytest.raises(InvalidAmount) as excinfo:
        parse_amount(value, 2, allow_zero=True, allow_negative=True)
    assert reason(excinfo) == 'must be a decimal string like "12.50", not a number'


@given(st.integers() | st.decimals() | st.fractions())
def test_parse_amount_never_accepts_any_number(value: int | Decimal | Fraction) -> None:
    with pytest.raises(InvalidAmount, match="not a number"):
        parse_amount(value, 2, allow_zero=True, allow_negative=True)


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (True, "a boolean"),
        (None, "null"),
        (["1"], "a value of type list"),
        (b"1", "a value of type bytes"),
    ],
)
def test_parse_amount_rejects_other_types(value: object, kind: str) -> None:
    with pytest.raises(InvalidAmount) as excinfo:
        parse_amount(value, 2)
    assert reason(excinfo) == f'must be a decimal string like "12.50", not {kind}'


@pytest.mark.parametrize(
    "text",
    [
        " 1",
        "1 ",
        "1\n",
        "1e3",
        "1E3",
        "1,000.00",
        "1_000",
        "+1",
        ".5",
        "5.",
        "1.2.3",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "\u0661\u0662",  # Arabic-Indic digits, which int() would accept
        "\uff11\uff12",  # full-width digits
        "0x10",
        "",
        "-",
        "--1",
        "1-",
        "- 1",
        "1.-5",
        "\u0661.\u0665",
    ],
)
def test_parse_amount_rejects_malformed_strings(text: str) -> None:
    with pytest.raises(InvalidAmount) as excinfo:
        parse_amount(text, 2, allow_zero=True, allow_negative=True)
    assert reason(excinfo) == f'{text!r} is not a decimal string like "12.50"'


def test_parse_amount_rejects_more_decimals_than_the_scale() -> None:
    with pytest.raises(InvalidAmount) as excinfo:
        parse_amount("1.234", 2)
    assert str(excinfo.value) == "amount: '1.234' has more decimals than the asset's scale (2)"
    assert excinfo.value.detail == str(excinfo.value)


@pytest.mark.parametrize(("text", "scale"), [("5.0", 0), ("1.000", 2), ("0.0000000000001", 12)])
def test_parse_amount_rejects_trailing_zero_decimals_beyond_the_scale(
    text: str, scale: int
) -> None:
    with pytest.raises(InvalidAmount, match="more decimals than the asset's scale"):
        parse_amount(text, scale)


def test_parse_amount_rejects_strings_longer_than_40_characters() -> None:
    assert parse_amount("0" * 39 + "1", 0) == 1
    with pytest.raises(InvalidAmount) as excinfo:
        parse_amount("0" * 40 + "1", 0)
    assert reason(excinfo) == "is longer than 40 characters"


@pytest.mark.parametrize(
    ("text", "scale"),
    [("92233720368547758.08", 2), ("9223372036854775808", 0), ("-9223372.036854775808", 12)],
)
def test_parse_amount_rejects_amounts_beyond_64_bits(text: str, scale: int) -> None:
    with pytest.raises(InvalidAmount, match="exceeds the largest amount"):
        parse_amount(text, scale, allow_negative=True)


@pytest.mark.parametrize("text", ["0", "0.00", "-0", "-1", "-0.01"])
def test_amounts_are_positive_by_default(text: str) -> None:
    with pytest.raises(InvalidAmount) as excinfo:
        parse_amount(text, 2)
    assert reason(excinfo) == f"{text!r} must be greater than zero"


def test_allow_zero_accepts_zero_but_not_negatives() -> None:
    assert parse_amount("0", 2, allow_zero=True) == 0
    assert parse_amount("0.00", 2, allow_zero=True) == 0
    with pytest.raises(InvalidAmount, match="must not be negative"):
        parse_amount("-0.01", 2, allow_zero=True)
    with pytest.raises(InvalidAmount, match="must not be negative"):
        parse_amount("-0", 2, allow_zero=True)


def test_allow_negative_accepts_negatives_but_not_zero() -> None:
    assert parse_amount("-12.50", 2, allow_negative=True) == -1250
    assert parse_amount("12.50", 2, allow_negative=True) == 1250
    with pytest.raises(InvalidAmount, match="must not be zero"):
        parse_amount("-0.00", 2, allow_negative=True)


def test_allow_zero_and_negative_together() -> None:
    assert parse_amount("-0.00", 2, allow_zero=True, allow_negative=True) == 0
    assert parse_amount("-1", 2, allow_zero=True, allow_negative=True) == -100


def test_invalid_amount_names_the_field_and_is_an_invalid_request() -> None:
    with pytest.raises(InvalidAmount) as excinfo:
        parse_amount("abc", 2, field="postings.0.amount")
    error = excinfo.value
    assert isinstance(error, InvalidRequest)
    assert error.code == "money.invalid_amount"
    assert error.status == 422
    assert [e.loc for e in error.errors] == ["postings.0.amount"]
    assert error.detail.startswith("postings.0.amount: ")


@pytest.mark.parametrize("scale", [-1, 13])
def test_parse_amount_rejects_scales_out_of_range(scale: int) -> None:
    with pytest.raises(ValueError, match="scale"):
        parse_amount("1", scale)
