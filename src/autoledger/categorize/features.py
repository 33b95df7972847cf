"""What a categorizer sees of a bank line: normalized text, a counterparty key, feature names.

Banks print the same merchant many ways ("SQ *BLUE BOTTLE 0423", "POS BLUE BOTTLE 14514910",
"BLUE BOTTLE COFFEE SAN FRANCISCO CA"). Normalization removes what varies from line to line
(processor prefixes, card and reference numbers, dates) so that what stays is the merchant;
character n-grams then see through truncation and typos.

Features are strings (``"w:coffee"``, ``"c:offe"``, ``"dir:out"``); a model maps them to
columns. Everything here is pure and cheap: a line's features cost well under a millisecond.
"""

import itertools
import math
import re
from dataclasses import dataclass
from datetime import date

#: Prefixes that card processors and banks put before the merchant's name.
_PREFIX = re.compile(
    r"^(?:sq \*|sq\*|tst\* ?|paypal \*|paypal\*|pp\*|pos |sp \* ?|cko\*|ach debit |ach credit "
    r"|orig co name:|checkcard |debit card purchase |card purchase )\s*"
)
_ENTRY_DESCR = re.compile(r"\bco entry descr:")
_CARD_NUMBER = re.compile(r"\b(?:x{2,}|\*{2,})\d{2,4}\b|\bcard \d{4}\b")
_NON_WORD = re.compile(r"[^\w&]+|_")

#: Words that say how money moved, not who moved it; left out of a counterparty key.
_CHANNEL_WORDS = frozenset(
    {
        "ach",
        "debit",
        "credit",
        "deposit",
        "wire",
        "in",
        "out",
        "online",
        "pmt",
        "payment",
        "transfer",
        "ref",
        "direct",
        "deb",
        "orig",
        "co",
        "name",
        "the",
        "to",
        "from",
        "web",
        "ppd",
        "ccd",
        "purchase",
        "recurring",
        "autopay",
        "bill",
        "pay",
    }
)
_LEGAL_FORMS = frozenset({"inc", "llc", "ltd", "corp", "corporation", "co", "plc", "gmbh", "lp"})

NAME_KEY_WORDS = 3  # a reported counterparty name is keyed by its first three words
DESCRIPTION_KEY_WORDS = 2  # a descriptor is truncated by banks, so only two are reliable


@dataclass(frozen=True, slots=True)
class LineFacts:
    """The facts of one bank line a categorizer may use; ``amount`` in minor units, signed
    (negative = money out)."""

    description: str
    counterparty_name: str | None
    amount: int
    currency: str
    booking_date: date
    bank_account_id: str
    transaction_code: str | None = None

    @property
    def direction(self) -> str:
        """``"in"`` for money in, ``"out"`` for money out (a zero amount counts as in)."""
        return "out" if self.amount < 0 else "in"


def normalize_description(text: str) -> str:
    """Lowercase, without processor prefixes, card numbers, reference numbers and dates.

    A token holding three digits or more is a reference, a store number or a date and is
    dropped whole; remaining pure numbers go too. What holds: the result is lowercase words
    separated by single spaces, and the same merchant printed with different references
    normalizes to the same text.
    """
    text = text.lower().strip()
    previous = None
    while previous != text:
        previous = text
        text = _PREFIX.sub("", text)
    text = _ENTRY_DESCR.sub(" ", text)
    text = _CARD_NUMBER.sub(" ", text)
    kept = [token for token in text.split() if sum(ch.isdigit() for ch in token) < 3]
    words = _NON_WORD.sub(" ", " ".join(kept)).split()
    return " ".join(word for word in words if not word.isdigit())


def counterparty_key(facts: LineFacts) -> str:
    """A stable key for who is on the other side of the line.

    From the reported counterparty name when there is one (its first words, without legal
    form), else from the first meaningful words of the normalized description. An empty
    string means the line names nobody recognisable.
    """
    if facts.counterparty_name and facts.counterparty_name.strip():
        words = [
            word
            for word in normalize_description(facts.counterparty_name).split()
            if word not in _LEGAL_FORMS
        ]
        if words:
            return " ".join(words[:NAME_KEY_WORDS])
    words = [
        word
        for word in normalize_description(facts.description).split()
        if word not in _CHANNEL_WORDS and len(word) > 1
    ]
    return " ".join(words[:DESCRIPTION_KEY_WORDS])


def amount_bucket(amount: int) -> int:
    """Half-decades of the absolute amount in minor units (0 for zero)."""
    magnitude = abs(amount)
    if magnitude == 0:
        return 0
    return 1 + int(2 * math.log10(magnitude))


def features(facts: LineFacts, *, tenant_specific: bool = True) -> list[str]:
    """The feature names of a line, without duplicates.

    ``tenant_specific`` adds what only means something inside one tenant (its bank account
    ids, exact amounts); a prior shared across tenants is built without them.
    """
    text = normalize_description(facts.description)
    words = text.split()
    direction = facts.direction
    found: dict[str, None] = {}
    for word in words:
        found["w:" + word] = None
    for first, second in itertools.pairwise(words):
        found[f"b:{first}_{second}"] = None
    for word in words:
        padded = f" {word} "
        size = len(padded)
        for n in (3, 4, 5):
            for start in range(size - n + 1):
                found["c:" + padded[start : start + n]] = None
    key = counterparty_key(facts)
    if key:
        found["cp:" + key] = None
    found["dir:" + direction] = None
    found[f"amt:{direction}{amount_bucket(facts.amount)}"] = None
    found[f"dom:{(facts.booking_date.day - 1) // 7}"] = None
    found["cur:" + facts.currency.upper()] = None
    if facts.transaction_code:
        found["code:" + facts.transaction_code.lower()] = None
    if tenant_specific:
        found["acct:" + facts.bank_account_id] = None
        found[f"x:{facts.amount}"] = None
    return list(found)
