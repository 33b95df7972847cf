"""Read a Beancount file with Beancount's own loader.

The loader parses, runs the file's plugins, books lots, inserts the transactions that
``pad`` directives imply, infers elided amounts, and checks that every transaction balances
and every ``balance`` holds. What it returns is what Beancount itself would report on, so
reading anything else (the raw parser, or our own grammar) would drift from the tool the
cross-check compares against. This module is the one place that touches Beancount's types.
"""

from decimal import Decimal
from pathlib import Path
from typing import Any

from beancount import loader
from beancount.core import convert, data

from autoledger.interop.model import (
    Amount,
    Journal,
    JournalAccount,
    JournalBalance,
    JournalCommodity,
    JournalPosting,
    JournalPrice,
    JournalTransaction,
    Problem,
    RootNames,
    Severity,
)

#: Directives that describe rather than book; read, reported, not stored.
_DESCRIPTIVE = (data.Event, data.Note, data.Document, data.Query, data.Custom)


def read_beancount(path: Path) -> Journal:
    """The journal of a Beancount file (and the files it includes), with Beancount's own
    errors as per-line problems."""
    entries, errors, options = loader.load_file(str(path))
    journal = Journal(
        source=str(path),
        title=str(options.get("title") or ""),
        operating_currency=(options.get("operating_currency") or [None])[0],
        roots=RootNames(
            assets=options["name_assets"],
            liabilities=options["name_liabilities"],
            equity=options["name_equity"],
            income=options["name_income"],
            expenses=options["name_expenses"],
        ),
    )
    for error in errors:
        journal.problems.append(
            Problem(_line(error.source), Severity.ERROR, str(error.message).strip())
        )
    for entry in entries:
        _read(journal, entry)
    return journal


def _read(journal: Journal, entry: Any) -> None:
    line = _line(entry.meta)
    if isinstance(entry, data.Transaction):
        journal.transactions.append(_transaction(entry, line))
    elif isinstance(entry, data.Open):
        account = journal.accounts.setdefault(entry.account, JournalAccount(line, entry.account))
        account.opened = entry.date
        account.currencies = tuple(entry.currencies or ())
        account.metadata = _metadata(entry.meta)
    elif isinstance(entry, data.Close):
        account = journal.accounts.setdefault(entry.account, JournalAccount(line, entry.account))
        account.closed = entry.date
    elif isinstance(entry, data.Commodity):
        name = entry.meta.get("name")
        journal.commodities[entry.currency] = JournalCommodity(
            line, entry.currency, None, str(name) if name else ""
        )
    elif isinstance(entry, data.Balance):
        number = _number(entry.amount.number)
        tolerance = entry.tolerance
        if tolerance is None:
            # Beancount's own default: half of the last digit the balance was written with.
            exponent = number.as_tuple().exponent
            tolerance = Decimal(5).scaleb(exponent - 1) if isinstance(exponent, int) else None
        journal.balances.append(
            JournalBalance(
                line,
                entry.date,
                entry.account,
                Amount(number, entry.amount.currency),
                Decimal(tolerance or 0),
            )
        )
    elif isinstance(entry, data.Price):
        journal.prices.append(
            JournalPrice(
                line,
                entry.date,
                entry.currency,
                Amount(_number(entry.amount.number), entry.amount.currency),
            )
        )
    elif isinstance(entry, data.Pad):
        journal.problems.append(
            Problem(
                line,
                Severity.IGNORED,
                "pad: booked as the padding transaction Beancount inserts for it",
                "pad",
            )
        )
    elif isinstance(entry, _DESCRIPTIVE):
        kind = type(entry).__name__.lower()
        journal.problems.append(
            Problem(line, Severity.IGNORED, f"{kind}: describes, does not book", kind)
        )
    else:
        journal.problems.append(
            Problem(line, Severity.ERROR, f"unsupported directive {type(entry).__name__}")
        )


def _transaction(entry: Any, line: int) -> JournalTransaction:
    postings = []
    for posting in entry.postings:
        units = posting.units
        cost = posting.cost
        price = posting.price
        weight = convert.get_weight(posting)  # type: ignore[no-untyped-call]
        postings.append(
            JournalPosting(
                line=_line(posting.meta) or line,
                account=posting.account,
                amount=Amount(units.number, units.currency),
                price=Amount(price.number, price.currency) if price is not None else None,
                cost=Amount(cost.number, cost.currency) if cost is not None else None,
                weight=Amount(weight.number, weight.currency),
            )
        )
    metadata = _metadata(entry.meta)
    if entry.payee:
        metadata["payee"] = str(entry.payee)
    if entry.tags:
        metadata["tags"] = ",".join(sorted(entry.tags))
    if entry.links:
        metadata["links"] = ",".join(sorted(entry.links))
    description = " | ".join(part for part in (entry.payee, entry.narration) if part)
    return JournalTransaction(
        line=line,
        date=entry.date,
        flag="" if entry.flag == "P" else entry.flag,
        description=str(description),
        postings=postings,
        metadata=metadata,
        balanced_by_source=True,
    )


def _number(value: Decimal | None) -> Decimal:
    if value is None:  # the loader has interpolated every amount it accepted
        raise ValueError("an amount without a number after interpolation")
    return value


def _metadata(meta: dict[str, Any] | None) -> dict[str, str]:
    return {
        key: str(value)
        for key, value in (meta or {}).items()
        if key not in ("filename", "lineno") and not key.startswith("__")
    }


def _line(meta: Any) -> int:
    if isinstance(meta, dict):
        return int(meta.get("lineno") or 0)
    return 0
