"""Which differences are written off, and as what."""

from datetime import date

import pytest

from autoledger.reconcile.tolerance import Tolerances, explain

DEFAULT = Tolerances()
PAID = date(2025, 3, 10)


def why(
    difference: int, allocated: int, *, scale: int = 2, issued: date | None = None
) -> str | None:
    return explain(
        difference, allocated, scale=scale, paid_on=PAID, issued_on=issued, tolerances=DEFAULT
    )


def test_no_difference_needs_no_write_off() -> None:
    assert why(0, 100_00) is None


def test_a_two_percent_discount_inside_the_window() -> None:
    assert why(-2_00, 100_00, issued=date(2025, 3, 1)) == "discount"
    assert why(-2_01, 100_00, issued=date(2025, 3, 1)) == "discount"  # the rate's rounding


def test_a_discount_outside_the_window_is_not_one() -> None:
    # 2.00 short 40 days after issue: a whole-unit shortfall, so a bank fee
    assert why(-2_00, 100_00, issued=date(2025, 1, 29)) == "bank_fee"


def test_rounding_either_way() -> None:
    assert why(3, 1_000_00) == "rounding"
    assert why(-5, 1_000_00) == "rounding"
    assert why(-5, -1_000_00) == "rounding"


def test_a_bank_fee_is_a_whole_shortfall_up_to_the_limit() -> None:
    assert why(-25_00, 5_000_00) == "bank_fee"
    assert why(25_00, -5_000_00) == "bank_fee"  # money out: paying less is short too
    assert why(-51_00, 50_000_00) == "fx_difference"  # over the fee limit, within 0.5 %
    assert why(-51_00, 5_000_00) is None


def test_overpaying_by_whole_units_is_not_a_fee() -> None:
    assert why(25_00, 50_000_00) == "fx_difference"
    assert why(25_00, 1_000_00) is None


def test_fx_difference_is_relative() -> None:
    assert why(-1_37, 1_000_00) == "fx_difference"
    assert why(5_00, 1_000_00) == "fx_difference"
    assert why(5_01, 1_000_00) is None


def test_scale_zero_currency() -> None:
    # JPY: every difference is whole units; small ones are rounding first
    assert why(-3, 10_000, scale=0) == "rounding"
    assert why(-30, 10_000, scale=0) == "bank_fee"
    assert why(-51, 10_000, scale=0) is None


@pytest.mark.parametrize("amount", [1, 99, 10_000, 12_345_678])
def test_the_window_covers_every_explained_difference(amount: int) -> None:
    window = DEFAULT.window(amount, 2)
    for difference in range(-window - 3, window + 4, max(1, window // 50)):
        if why(difference, amount, issued=date(2025, 3, 1)) is not None:
            assert abs(difference) <= window


def test_tolerances_round_trip() -> None:
    custom = Tolerances(rounding=2, fee_max_units=10, fx_relative_bp=20, discount_rates_bp=(150,))
    assert Tolerances.from_dict(custom.to_dict()) == custom
