"""Exact money: an amount is a signed integer of minor units plus the asset it counts.

Decimal text exists only at the edges: :func:`parse_amount` turns an API string into minor
units and :func:`format_amount` turns minor units back into text. Nothing in between ever
holds a float, so no amount is ever rounded by accident.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from numbers import Number

import iso4217

from autoledger.kit.errors import FieldError, InvalidRequest

ASSET_CODE_PATTERN = r"^[A-Z][A-Z0-9_]{1,15}$"
#: Amounts and balances are stored as signed 64-bit integers (PostgreSQL ``bigint``).
MAX_AMOUNT = 2**63 - 1
MAX_SCALE = 12
#: The longest amount string accepted; a bound on work done before the value is known.
MAX_AMOUNT_LENGTH = 40

_ASSET_CODE = re.compile(ASSET_CODE_PATTERN)
# [0-9], not \d: \d also matches non-ASCII digits such as "١٢", which int() would accept.
_AMOUNT = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")


class InvalidAmount(InvalidRequest):
    code = "money.invalid_amount"
    title = "Invalid amount"


@dataclass(frozen=True, slots=True)
class Asset:
    """A currency or other unit that amounts are counted in.

    ``scale`` is the number of decimal places of the minor unit: USD has scale 2 (cents),
    JPY 0. Amounts are signed 64-bit integers of minor units, so a larger scale shrinks the
    largest representable amount: at scale 12 it is still about 9.2 million whole units, at
    scale 18 (ether's wei) it would be barely 9. The scale is therefore capped at 12.
    """

    code: str
    scale: int

    def __post_init__(self) -> None:
        if not _ASSET_CODE.fullmatch(self.code):
            raise ValueError(f"asset code {self.code!r} does not match {ASSET_CODE_PATTERN}")
        _check_scale(self.scale)


def _check_scale(scale: int) -> None:
    if not 0 <= scale <= MAX_SCALE:
        raise ValueError(f"scale must be between 0 and {MAX_SCALE}, not {scale}")


@cache
def _iso_exponents() -> Mapping[str, int]:
    # Built once and keyed by the table, not cached per argument: codes come from requests,
    # and a per-argument cache would grow with every distinct string a client sends.
    return {c.code: c.exponent for c in iso4217.Currency if c.exponent is not None}


def iso_currency(code: str) -> Asset | None:
    """The current ISO 4217 currency ``code`` (upper case) with its minor-unit exponent.

    None for unknown or withdrawn codes and for units with no minor unit defined (gold
    ``XAU``, ``XXX``): those must be defined by the tenant with an explicit scale.
    """
    exponent = _iso_exponents().get(code)
    return None if exponent is None else Asset(code, exponent)


def resolve_asset(code: str, custom: Mapping[str, int]) -> Asset | None:
    """The tenant's own asset ``code`` (``custom`` maps code to scale), else ISO 4217.

    A tenant definition wins so that a tenant can count, say, ``XAU`` in milligrams.
    """
    if code in custom:
        return Asset(code, custom[code])
    return iso_currency(code)


def parse_amount(
    value: object,
    scale: int,
    *,
    field: str = "amount",
    allow_zero: bool = False,
    allow_negative: bool = False,
) -> int:
    """Minor units of the decimal string ``value`` ("1234.50" at scale 2 is 123450).

    Only strings are accepted: many JSON clients decode numbers to binary floats, so a
    number may already have lost its exact value before it reached us. The grammar is
    ``-?[0-9]+(\\.[0-9]{1,scale})?`` and nothing else: no exponent, sign ``+``, whitespace,
    separators or non-ASCII digits. The result is positive unless ``allow_zero`` or
    ``allow_negative`` say otherwise, and its magnitude is at most :data:`MAX_AMOUNT`.

    Raises :class:`InvalidAmount` naming ``field``.
    """
    _check_scale(scale)
    if not isinstance(value, str):
        raise _invalid(field, f'must be a decimal string like "12.50", not {_kind(value)}')
    if len(value) > MAX_AMOUNT_LENGTH:
        raise _invalid(field, f"is longer than {MAX_AMOUNT_LENGTH} characters")
    match = _AMOUNT.fullmatch(value)
    if match is None:
        raise _invalid(field, f'{value!r} is not a decimal string like "12.50"')
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    if len(fraction) > scale:
        raise _invalid(field, f"{value!r} has more decimals than the asset's scale ({scale})")
    minor = int(whole + fraction.ljust(scale, "0"))
    if sign:
        minor = -minor
    # The sign, not the value: "-0" is refused too where no negative amount is allowed.
    if sign and not allow_negative:
        qualifier = "must not be negative" if allow_zero else "must be greater than zero"
        raise _invalid(field, f"{value!r} {qualifier}")
    if minor == 0 and not allow_zero:
        qualifier = "must not be zero" if allow_negative else "must be greater than zero"
        raise _invalid(field, f"{value!r} {qualifier}")
    if abs(minor) > MAX_AMOUNT:
        largest = format_amount(MAX_AMOUNT, scale)
        raise _invalid(field, f"{value!r} exceeds the largest amount at scale {scale} ({largest})")
    return minor


def format_amount(minor: int, scale: int) -> str:
    """The decimal string of ``minor`` units, with exactly ``scale`` decimals (-5, 2 → "-0.05")."""
    _check_scale(scale)
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**scale)
    if scale == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{scale}d}"


def _kind(value: object) -> str:
    # bool first: it is an int subclass.
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, Number):
        return "a number"
    if value is None:
        return "null"
    return f"a value of type {type(value).__name__}"


def _invalid(field: str, message: str) -> InvalidAmount:
    return InvalidAmount(f"{field}: {message}", errors=[FieldError(loc=field, message=message)])
