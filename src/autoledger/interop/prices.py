"""The prices an imported entry recorded (``price_<i>`` / ``cost_<i>`` metadata), as
``(date, commodity, number, quote currency)`` for the writers' price directives."""

import re
from datetime import date

from autoledger.interop.book import Book

_RECORDED = re.compile(r"(price|cost)_\d+")


def recorded_prices(book: Book) -> list[tuple[date, str, str, str]]:
    """One price per (day, commodity, quote): a market price wins over a cost basis."""
    out: dict[tuple[date, str, str], tuple[int, str]] = {}
    for entry in book.entries:
        for key, value in entry.metadata.items():
            match = _RECORDED.fullmatch(key)
            parts = value.split()
            if match is None or len(parts) != 3:
                continue
            commodity, number, quote = parts
            if commodity not in book.scales or quote not in book.scales:
                continue
            rank = 1 if match.group(1) == "price" else 0
            slot = (entry.date, commodity, quote)
            if slot not in out or rank >= out[slot][0]:
                out[slot] = (rank, number)
    return [(d, c, n, q) for (d, c, q), (_, n) in sorted(out.items())]
