"""Text as the matcher compares it: compacted references and normalized party names.

A reference is compared without case and separators (``INV-00042`` = ``inv 00042`` =
``INV00042``), and only when at least :data:`MIN_REFERENCE` characters remain, so that a
"REF 12" never settles invoice 12. A party name is compared on its words without legal form,
card-processor prefixes, bank boilerplate ("ACH CREDIT", "ORIG CO NAME") and numbers.
"""

import re
from collections.abc import Iterator
from functools import lru_cache

MIN_REFERENCE = 4

_SEPARATORS = re.compile(r"[^0-9A-Za-z]+")
_TOKEN_SPLIT = re.compile(r"[\s,;/|()\[\]{}<>\"'+=*:]+")
_WORD = re.compile(r"[A-Z][A-Z&]+")

#: words of bank and card boilerplate, legal forms and filler that say nothing of who paid
NOISE = frozenset(
    [
        "ACH",
        "CREDIT",
        "DEBIT",
        "WIRE",
        "IN",
        "OUT",
        "REF",
        "DEPOSIT",
        "ORIG",
        "CO",
        "NAME",
        "ENTRY",
        "DESCR",
        "PAYMENT",
        "PMT",
        "BILL",
        "PAY",
        "ONLINE",
        "DIRECT",
        "DEB",
        "POS",
        "SQ",
        "TST",
        "PAYPAL",
        "SP",
        "INC",
        "LLC",
        "LTD",
        "GMBH",
        "CORP",
        "CORPORATION",
        "COMPANY",
        "LIMITED",
        "PLC",
        "AG",
        "SA",
        "SAS",
        "SARL",
        "BV",
        "NV",
        "THE",
        "AND",
        "OF",
        "TRANSFER",
        "TRF",
        "SEPA",
        "CT",
        "DD",
        "INVOICE",
        "INV",
        "PAYMENTS",
        "TO",
        "FROM",
        "BY",
        "FOR",
        "VIA",
        "CARD",
        "PURCHASE",
        "RECURRING",
    ]
)


def compact(text: str) -> str:
    """``text`` upper-cased without separators: the form references are compared in."""
    return _SEPARATORS.sub("", text).upper()


def reference_key(reference: str | None) -> str | None:
    """The compared form of a document's reference, or None when too short to trust."""
    if not reference:
        return None
    key = compact(reference)
    return key if len(key) >= MIN_REFERENCE else None


def reference_tokens(*texts: str | None) -> Iterator[str]:
    """Every compared form a reference could take in free remittance text: each token, and
    each pair of neighbouring tokens joined ("INV 00042" names ``INV-00042``)."""
    for text in texts:
        if not text:
            continue
        tokens = [compact(t) for t in _TOKEN_SPLIT.split(text)]
        tokens = [t for t in tokens if t]
        for i, token in enumerate(tokens):
            if len(token) >= MIN_REFERENCE:
                yield token
            if i + 1 < len(tokens):
                joined = token + tokens[i + 1]
                if len(joined) >= MIN_REFERENCE:
                    yield joined


@lru_cache(maxsize=65_536)
def party_key(name: str | None) -> str:
    """A party's name as compared: its meaningful words, upper case, in order ("" if none)."""
    if not name:
        return ""
    words = _WORD.findall(name.upper())
    return " ".join(w for w in words if w not in NOISE)
