"""A structlog processor that keeps secrets and personal data out of every log line.

It runs last in the shared chain (after exceptions are rendered to text), so it sees what will
be written: the event, every field, nested dicts and lists, dict keys, and tracebacks — ours
and those of standard-library loggers (uvicorn, SQLAlchemy). Two rules:

* a field whose *name* says it holds a secret (``password``, ``token``, ``api_key``,
  ``authorization``, ``cookie``, ``iban``, ...) loses its whole value;
* any string is scanned for values that are secrets or personal data by their *shape*: API keys,
  webhook secrets, bearer/basic credentials and JWTs, ``password=...`` pairs, IBANs (mod-97
  checksum), card numbers (Luhn), US SSNs and EINs, EU VAT numbers.

Checksums keep false positives rare; when in doubt the processor redacts — a log line missing
a number is cheaper than a leaked one. Redaction builds new containers: the caller's objects
are never modified.
"""

import re
from collections.abc import Mapping
from typing import Any

from structlog.types import EventDict, WrappedLogger

_SENSITIVE_NAMES = (
    r"pass(?:word|wd|phrase)?|pwd|secrets?|tokens?|api[_-]?keys?|access[_-]?keys?|"
    r"private[_-]?keys?|authori[sz]ation|proxy[_-]?authorization|cookies?|set[_-]?cookie|"
    r"credentials?|signature|x[_-]api[_-]key|iban|pan|card[_-]?number|ssn|ein|tax[_-]?id|"
    r"vat[_-]?(?:id|number)|account[_-]?number"
)
# A key is sensitive when one of its ``_``/``-``/``.``-separated parts (or run of parts) is a
# sensitive name: ``webhook_secret`` and ``X-Api-Key`` are, ``key_id`` and ``span_id`` are not.
_SENSITIVE_KEY = re.compile(rf"(?:^|[_\-.\s])(?:{_SENSITIVE_NAMES})(?:$|[_\-.\s])", re.IGNORECASE)

_SCAN = re.compile(
    r"""
    (?P<api_key>\bal_[0-9a-f]{12}_[A-Za-z0-9_\-]{16,})
    | (?P<webhook_secret>\bwhsec_[A-Za-z0-9+/=_\-]{8,})
    | (?P<jwt>\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*)
    | (?P<pair>(?i:
        \b(?P<pair_name>pass(?:word|wd|phrase)?|pwd|secret|token|access[_-]?token|
          refresh[_-]?token|client[_-]?secret|api[_-]?key|x-api-key|authorization|
          proxy-authorization|cookie|signature)
        (?P<pair_sep>["']?\s*[=:]\s*)
        (?P<pair_value>(?:bearer|basic|token|digest)\s+[^\s"',;&]+|"[^"]*"|'[^']*'|[^\s"',;&}\]]+)
      ))
    | (?P<credential>(?i:\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=\-]{8,})
    | (?P<iban>(?i:\b[A-Z]{2}[0-9]{2}
        (?:[A-Z0-9]{11,30}|(?:\x20[A-Z0-9]{4}){2,7}(?:\x20[A-Z0-9]{1,4})?)\b))
    | (?P<tax_id>\b(?:
        ATU[0-9]{8}|BE[01][0-9]{9}|BG[0-9]{9,10}|CY[0-9]{8}[A-Z]|CZ[0-9]{8,10}|DE[0-9]{9}|
        DK[0-9]{8}|EE[0-9]{9}|EL[0-9]{9}|ES[0-9A-Z][0-9]{7}[0-9A-Z]|FI[0-9]{8}|
        FR[0-9A-HJ-NP-Z]{2}[0-9]{9}|HR[0-9]{11}|HU[0-9]{8}|IE[0-9][0-9A-Z+*][0-9]{5}[A-Z]{1,2}|
        IT[0-9]{11}|LT(?:[0-9]{9}|[0-9]{12})|LU[0-9]{8}|LV[0-9]{11}|MT[0-9]{8}|
        NL[0-9]{9}B[0-9]{2}|PL[0-9]{10}|PT[0-9]{9}|RO[0-9]{2,10}|SE[0-9]{12}|SI[0-9]{8}|
        SK[0-9]{10}|GB(?:[0-9]{9}|[0-9]{12})|CHE[0-9]{9}
        |(?!000|666|9[0-9]{2})[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}
        |[0-9]{2}-[0-9]{7}
      )\b)
    | (?P<pan>(?<![\w.])[2-6](?:[\x20\-]?[0-9]){12,18}(?![\w.]))
    """,
    re.VERBOSE,
)
# The EU VAT alternatives above are country prefix plus format (the checksums differ per
# country); the last two are a US SSN (never issued areas excluded) and an EIN.


def redacted(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def iban_is_valid(candidate: str) -> bool:
    """ISO 13616 mod-97: move the first four characters to the end, letters to 10..35."""
    compact = candidate.replace(" ", "").upper()
    if not (15 <= len(compact) <= 34 and compact.isascii() and compact.isalnum()):
        return False
    if not (compact[:2].isalpha() and compact[2:4].isdigit()):
        return False
    digits = "".join(str(int(char, 36)) for char in compact[4:] + compact[:4])
    return int(digits) % 97 == 1


def luhn_is_valid(number: str) -> bool:
    digits = [int(char) for char in number if char.isdigit()]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if index % 2 == 1 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def _iban(text: str) -> str:
    # A spaced IBAN may have swallowed the next short word ("... 3000 EUR"): on a checksum
    # failure, try again without the last group.
    if iban_is_valid(text):
        return redacted("iban")
    head, _, tail = text.rpartition(" ")
    if head and iban_is_valid(head):
        return f"{redacted('iban')} {tail}"
    return text


def _replace(match: re.Match[str]) -> str:
    kind = match.lastgroup or "secret"
    text = match.group(0)
    if kind == "pair":
        return f"{match.group('pair_name')}{match.group('pair_sep')}{redacted('secret')}"
    if kind == "credential":
        return f"{text.split(None, 1)[0]} {redacted('token')}"
    if kind == "iban":
        return _iban(text)
    if kind == "pan" and not luhn_is_valid(text):
        return text
    return redacted(kind)


def scrub(text: str) -> str:
    """``text`` with every secret or personal value replaced by ``[REDACTED:kind]``."""
    return _SCAN.sub(_replace, text)


def is_sensitive_name(name: str) -> bool:
    return _SENSITIVE_KEY.search(name) is not None


def redact_value(value: Any) -> Any:
    """A copy of ``value`` with strings scrubbed, recursing into mappings, lists and tuples."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {
            (scrub(key) if isinstance(key, str) else key): (
                redacted("secret")
                if isinstance(key, str) and is_sensitive_name(key) and item is not None
                else redact_value(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return scrub(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, int) and not isinstance(value, bool) and _looks_like_pan(value):
        return redacted("pan")
    return value


def _looks_like_pan(number: int) -> bool:
    digits = str(number)
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_is_valid(digits)


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """The structlog processor. Keys starting with ``_`` are structlog's own (``_record``)."""
    return {
        key: (
            value
            if key.startswith("_")
            else redacted("secret")
            if is_sensitive_name(key) and value is not None
            else redact_value(value)
        )
        for key, value in event_dict.items()
    }
