"""Which differences between a payment and what it settles are written off, and as what.

``difference`` is always *line amount - allocated amount*, signed like the line; a match then
holds exactly: ``line = allocations + write-offs``. The purposes are tried in a fixed order,
the most specific first:

1. ``discount`` — an early-payment discount: the payment is short by one of the configured
   rates of the item (± 1 minor unit for the rounding of the rate), within
   ``discount_days`` of the item's date;
2. ``rounding`` — at most ``rounding`` minor units either way;
3. ``bank_fee`` — short by a whole number of currency units, at most ``fee_max_units``
   (an intermediary's charge taken in transit);
4. ``fx_difference`` — within ``fx_relative`` of the amount either way (a conversion by the
   payer's bank).

Anything else is not explained, and a candidate with an unexplained difference is not made.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

Purpose = Literal["discount", "rounding", "bank_fee", "fx_difference"]
PURPOSES: tuple[Purpose, ...] = ("discount", "rounding", "bank_fee", "fx_difference")


@dataclass(frozen=True, slots=True)
class Tolerances:
    rounding: int = 5  # minor units
    fee_max_units: int = 50  # whole currency units
    fx_relative_bp: int = 50  # basis points of the amount (50 = 0.5 %)
    discount_rates_bp: tuple[int, ...] = (100, 200, 300)  # 1 %, 2 %, 3 %
    discount_days: int = 14

    def window(self, amount: int, scale: int) -> int:
        """The largest difference any purpose could explain for ``amount``."""
        magnitude = abs(amount)
        return int(
            max(
                self.rounding,
                self.fee_max_units * 10**scale,
                magnitude * self.fx_relative_bp // 10_000,
                magnitude * max(self.discount_rates_bp, default=0) // 10_000 + 1,
            )
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rounding": self.rounding,
            "fee_max_units": self.fee_max_units,
            "fx_relative_bp": self.fx_relative_bp,
            "discount_rates_bp": list(self.discount_rates_bp),
            "discount_days": self.discount_days,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Tolerances":
        return cls(
            rounding=int(data["rounding"]),
            fee_max_units=int(data["fee_max_units"]),
            fx_relative_bp=int(data["fx_relative_bp"]),
            discount_rates_bp=tuple(int(r) for r in data["discount_rates_bp"]),
            discount_days=int(data["discount_days"]),
        )


def explain(
    difference: int,
    allocated: int,
    *,
    scale: int,
    paid_on: date,
    issued_on: date | None,
    tolerances: Tolerances,
) -> Purpose | None:
    """The purpose that writes ``difference`` off, or None when none explains it.

    ``allocated`` is the signed total the line settles; "short" means the line moves less
    money than that, in the same direction.
    """
    if difference == 0 or allocated == 0:
        return None
    magnitude = abs(difference)
    short = (difference < 0) == (allocated > 0)
    total = abs(allocated)
    if (
        short
        and issued_on is not None
        and 0 <= (paid_on - issued_on).days <= tolerances.discount_days
    ):
        for rate in tolerances.discount_rates_bp:
            if abs(magnitude - _rounded(total * rate, 10_000)) <= 1:
                return "discount"
    if magnitude <= tolerances.rounding:
        return "rounding"
    unit = 10**scale
    if short and magnitude % unit == 0 and magnitude <= tolerances.fee_max_units * unit:
        return "bank_fee"
    if magnitude * 10_000 <= total * tolerances.fx_relative_bp:
        return "fx_difference"
    return None


def _rounded(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half up, for non-negative integers."""
    return (2 * numerator + denominator) // (2 * denominator)
