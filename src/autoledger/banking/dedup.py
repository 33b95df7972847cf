"""Which bank lines are the same line: the de-duplication key.

A bank line is the same line as one already imported when its key is. Two rules:

- **With a bank reference** (FITID, AcctSvcrRef, the MT940 bank reference): the reference,
  the amount and the occurrence of that pair in the file. Banks keep a reference stable
  across downloads, so overlapping files agree; the amount and occurrence guard against
  banks that reuse a reference for several lines of a batch.
- **Without one**: a fingerprint of the booking date, the amount, the normalized
  description and the occurrence index among identical lines of that day in the file. Two
  genuine identical coffees on one day are occurrences 0 and 1 and stay two lines; the same
  two coffees in an overlapping file get the same keys and are recognized.

The occurrence index assumes a file holds a bank day either whole or not at all, which is
how banks cut statements (by booking day). References that name nothing (``NONREF``,
``NOTPROVIDED``) count as no reference.
"""

import hashlib
import re
import unicodedata
from collections import Counter
from datetime import date

from autoledger.banking.statement import BankTransaction

EMPTY_REFERENCES = frozenset({"", "NONREF", "NOTPROVIDED", "NONE", "N/A", "NA", "0"})
_NOT_WORD = re.compile(r"[^\w]+")


def normalize_description(text: str) -> str:
    """Case, accents, punctuation and spacing removed: what survives a bank's re-export."""
    if text.isascii():  # most bank text: NFKD changes nothing, casefold is lower
        stripped = text.lower()
    else:
        decomposed = unicodedata.normalize("NFKD", text.casefold())
        stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_NOT_WORD.sub(" ", stripped).split())


def usable_reference(reference: str | None) -> str | None:
    if reference is None:
        return None
    cleaned = reference.strip()
    return None if cleaned.upper() in EMPTY_REFERENCES else cleaned


class DedupKeys:
    """Keys for the lines of one file, in file order (occurrences are counted per file)."""

    def __init__(self) -> None:
        # Counts by digest, not by the tuple: a digest is 32 bytes whatever the description.
        self._seen: Counter[bytes] = Counter()

    def key(self, line: BankTransaction) -> str:
        reference = usable_reference(line.bank_reference)
        if reference is not None:
            identity: tuple[str, ...] = ("ref", reference, str(line.amount), line.currency)
        else:
            identity = (
                "fp",
                _day(line.booking_date),
                str(line.amount),
                line.currency,
                normalize_description(line.description),
            )
        digest = hashlib.sha256("\x1f".join(identity).encode()).digest()
        occurrence = self._seen[digest]
        self._seen[digest] = occurrence + 1
        # 128 bits: no collision among the lines of any account, half the index of 256.
        return hashlib.sha256(digest + occurrence.to_bytes(4, "big")).hexdigest()[:32]


def _day(value: date) -> str:
    return value.isoformat()
