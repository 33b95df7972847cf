"""How banks print a counterparty's name: the variants a categorizer must see through.

Variants are computed once per counterparty (never per line): a line picks one and, when it
holds ``#``, replaces the mark with a reference number.
"""

import random

_CARD_PREFIXES = ("SQ *", "PAYPAL *", "POS ", "TST* ", "SP * ", "CKO*")
_LEGAL_SUFFIXES = (
    " INC.",
    " INC",
    " LLC",
    " LTD",
    " GMBH",
    " CO.",
    " CORP",
    " PLC",
    " CORPORATION",
)


def short_name(name: str) -> str:
    """The name without its legal form ("Blue Bottle Coffee Inc." -> "BLUE BOTTLE COFFEE")."""
    upper = name.upper()
    for suffix in _LEGAL_SUFFIXES:
        if upper.endswith(suffix):
            return upper[: -len(suffix)].rstrip(" ,")
    return upper


def typo(text: str, rng: random.Random) -> str:
    """One slip of a clerk's finger: two letters swapped or one dropped."""
    letters = [i for i in range(1, len(text) - 1) if text[i].isalpha() and text[i + 1].isalpha()]
    if not letters:
        return text
    i = rng.choice(letters)
    if rng.random() < 0.5:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + text[i + 1 :]


def card_variants(name: str, city: str, state: str, rng: random.Random) -> tuple[str, ...]:
    """Descriptors of card purchases: processor prefixes, truncation, city suffix, store no."""
    base = short_name(name)
    truncated = base[: rng.randint(10, 16)].rstrip()
    prefix = rng.choice(_CARD_PREFIXES)
    variants = [
        f"{base} {city.upper()} {state}",
        f"{prefix}{truncated}",
        f"{prefix}{truncated} #",
        f"{truncated} {city.upper()[:13]} {state}",
        f"POS {base[:18]} #",
    ]
    if rng.random() < 0.3:
        variants.append(typo(base, rng))
    if rng.random() < 0.4:
        variants.append(f"{name.title()[:22]} {city.title()}")
    return tuple(variants)


def ach_variants(name: str, rng: random.Random, *, incoming: bool) -> tuple[str, ...]:
    """Descriptors of ACH and wire transfers, which carry the originator's name and an id."""
    base = short_name(name)
    truncated = base[: rng.randint(12, 22)].rstrip()
    if incoming:
        variants = [
            f"ACH CREDIT {truncated} #",
            f"WIRE IN {base} REF #",
            f"DEPOSIT {truncated}",
            f"ORIG CO NAME:{truncated} CO ENTRY DESCR:PAYMENT #",
        ]
    else:
        variants = [
            f"ACH DEBIT {truncated} #",
            f"{base} DIRECT DEB #",
            f"ORIG CO NAME:{truncated} CO ENTRY DESCR:BILL PAY #",
            f"ONLINE PMT {truncated.lower()} #",
        ]
    if rng.random() < 0.25:
        variants.append(f"ACH {'CREDIT' if incoming else 'DEBIT'} {typo(truncated, rng)}")
    return tuple(variants)


def render(template: str, rng: random.Random) -> str:
    """A descriptor with its ``#`` mark (if any) replaced by a reference number."""
    if "#" not in template:
        return template
    return template.replace("#", str(rng.randrange(100000, 99999999)), 1)
