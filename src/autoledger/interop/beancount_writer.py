"""Render a :class:`~autoledger.interop.book.Book` in Beancount syntax (``bean-check`` clean).

Every entry balances per currency already (conversions sit on equity conversion accounts),
so postings carry no cost or price: Beancount sees the same units autoledger holds. The
prices an imported entry recorded become ``price`` directives; the closing balances become
``balance`` directives on the day after the export date (Beancount checks a balance at the
start of its day, with subaccounts).
"""

import re
from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta

from autoledger.interop.book import ROOTS, Book
from autoledger.interop.prices import recorded_prices
from autoledger.kit.money import format_amount

_META_KEY = re.compile(r"[^a-zA-Z0-9_-]")
_NOT_IN_COMPONENT = re.compile(r"[^A-Za-z0-9-]+")
_FIRST_DATE = date(1970, 1, 1)


def write_beancount(book: Book) -> str:
    book = _with_beancount_names(book)
    lines = [
        f'option "title" {_string(book.title)}',
        f'option "operating_currency" {_string(book.base_currency)}',
        "",
    ]
    start = min([_FIRST_DATE, *(a.opened for a in book.accounts)])
    for code in sorted(book.scales):
        lines.append(f"{start.isoformat()} commodity {code}")
        if book.asset_names.get(code):
            lines.append(f"  name: {_string(book.asset_names[code])}")
    lines.append("")
    # Beancount's root names ("Assets") are not accounts; its accounts have two parts at least.
    for account in sorted(book.accounts, key=lambda a: a.name):
        if ":" not in account.name:
            continue
        currency = f" {account.asset}" if account.asset else ""
        lines.append(f"{account.opened.isoformat()} open {account.name}{currency}")
    lines.append("")
    for entry in book.entries:
        flag = "!" if entry.pending_flag else "*"
        lines.append(f"{entry.date.isoformat()} {flag} {_string(entry.description)}")
        seen: set[str] = set()
        for key, value in sorted(entry.metadata.items()):
            clean = _meta_key(key)
            if clean in seen or clean in ("filename", "lineno"):
                continue
            seen.add(clean)
            lines.append(f"  {clean}: {_string(value)}")
        for p in entry.postings:
            number = format_amount(p.amount, book.scales[p.asset])
            lines.append(f"  {p.account}  {number} {p.asset}")
        lines.append("")
    for day, commodity, number, quote in recorded_prices(book):
        lines.append(f"{day.isoformat()} price {commodity} {number} {quote}")
    lines.append("")
    closed = {a.name for a in book.accounts if a.closed is not None}
    for account in sorted(book.accounts, key=lambda a: a.name):
        if account.closed is not None:
            lines.append(f"{account.closed.isoformat()} close {account.name}")
    inclusive: dict[tuple[str, str], int] = defaultdict(int)
    for (account_name, asset), minor in book.balances().items():
        parts = account_name.split(":")
        for depth in range(1, len(parts) + 1):
            inclusive[(":".join(parts[:depth]), asset)] += minor
    known = {a.name for a in book.accounts}
    check_day = (book.as_of + timedelta(days=1)).isoformat()
    own = book.balances()
    for (account_name, asset), minor in sorted(inclusive.items()):
        if (account_name, asset) in own and account_name in known and account_name not in closed:
            number = format_amount(minor, book.scales[asset])
            lines.append(f"{check_day} balance {account_name}  {number} {asset}")
    return "\n".join(lines) + "\n"


def _with_beancount_names(book: Book) -> Book:
    """The book with account names Beancount accepts: its root name for the account's type,
    then components of letters, digits and '-' starting with a capital or a digit. Names
    that already qualify (every name a Beancount file gave us) stay as they are."""
    names: dict[str, str] = {}
    for account in book.accounts:
        _root, *rest = account.name.split(":")
        names[account.name] = ":".join([ROOTS[account.type], *(_component(p) for p in rest)])
    return replace(
        book,
        accounts=[replace(a, name=names[a.name]) for a in book.accounts],
        entries=[
            replace(
                e,
                postings=tuple(
                    replace(p, account=names.get(p.account, p.account)) for p in e.postings
                ),
            )
            for e in book.entries
        ],
    )


def _component(part: str) -> str:
    text = _NOT_IN_COMPONENT.sub("-", part).strip("-") or "X"
    return text[0].upper() + text[1:] if text[0].isalpha() else text


def _meta_key(key: str) -> str:
    """Beancount metadata keys are ``[a-z][a-zA-Z0-9_-]*``."""
    clean = _META_KEY.sub("_", key)
    return clean if "a" <= clean[:1] <= "z" else f"x{clean}"


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
