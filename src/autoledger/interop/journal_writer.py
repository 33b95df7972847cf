"""Render a :class:`~autoledger.interop.book.Book` as an hledger / ledger-cli journal
(``hledger check`` clean, also with ``--strict``).

Accounts and commodities are declared (with their account type and display precision),
entries carry their metadata as ``key: value`` tags, recorded prices become ``P`` lines and
a closing transaction of zero postings asserts each account's own balance per commodity
(``=``, subaccounts excluded), which both hledger and ledger-cli check.
"""

import re

from autoledger.interop.book import Book
from autoledger.interop.prices import recorded_prices
from autoledger.kit.money import format_amount
from autoledger.ledger.types import AccountType

_TYPE_TAGS = {
    AccountType.ASSET: "A",
    AccountType.LIABILITY: "L",
    AccountType.EQUITY: "E",
    AccountType.REVENUE: "R",
    AccountType.EXPENSE: "X",
}
_LETTERS = re.compile(r"[A-Za-z]+")
_NOT_IN_TEXT = re.compile(r"[;\r\n\t|]+")
_NOT_IN_TAG = re.compile(r"[^A-Za-z0-9_-]")


def write_journal(book: Book) -> str:
    lines = [f"; {_text(book.title)}: exported by autoledger", ""]
    for code in sorted(book.scales):
        # hledger wants a decimal mark in the sample even with no decimals ("1000.").
        sample = format_amount(1000 * 10 ** book.scales[code], book.scales[code])
        lines.append(f"commodity {sample if '.' in sample else sample + '.'} {symbol(code)}")
    lines.append("")
    for account in sorted(book.accounts, key=lambda a: a.name):
        lines.append(f"account {account.name}  ; type: {_TYPE_TAGS[account.type]}")
    lines.append("")
    for day, commodity, number, quote in recorded_prices(book):
        lines.append(f"P {day.isoformat()} {symbol(commodity)} {number} {symbol(quote)}")
    lines.append("")
    for entry in book.entries:
        status = "!" if entry.pending_flag else "*"
        lines.append(f"{entry.date.isoformat()} {status} {_text(entry.description)}".rstrip())
        for key, value in sorted(entry.metadata.items()):
            lines.append(f"    ; {_NOT_IN_TAG.sub('_', key)}: {_text(value).replace(',', ' ')}")
        for p in entry.postings:
            lines.append(f"    {p.account}  {render_amount(book, p.amount, p.asset)}")
        lines.append("")
    balances = book.balances()
    if balances:
        lines.append(f"{book.as_of.isoformat()} * closing balances")
        for (account_name, asset), minor in sorted(balances.items()):
            zero = render_amount(book, 0, asset)
            lines.append(f"    {account_name}  {zero} = {render_amount(book, minor, asset)}")
        lines.append("")
    return "\n".join(lines)


def symbol(code: str) -> str:
    """hledger reads a bare symbol of letters only; anything else is quoted."""
    return code if _LETTERS.fullmatch(code) else f'"{code}"'


def render_amount(book: Book, minor: int, asset: str) -> str:
    return f"{format_amount(minor, book.scales[asset])} {symbol(asset)}"


def _text(text: str) -> str:
    return _NOT_IN_TEXT.sub(" ", text).strip()
