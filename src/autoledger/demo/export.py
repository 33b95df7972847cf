"""A generated company on disk: statements in every format, open items, ground truth.

Layout of the output directory::

    company.json                       the company, its bank accounts and counterparties
    statements/<account>/<YYYY-MM>.<ext>   one file per account, month and format
    open_items.jsonl                   issued invoices and received bills
    ground_truth.jsonl                 per bank line: true GL account and matches; duplicates
                                       in overlapping files; payouts and what they bundle
    balances.jsonl                     true opening and closing balance per account and month
    README.txt                         this layout
    MANIFEST.sha256                    every other file with its SHA-256 (``sha256sum -c``)

Everything is written in a fixed order with sorted JSON keys, so the same company always gives
byte-identical files.
"""

import hashlib
import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import orjson

from autoledger.demo.model import Company, Statement, StatementLine
from autoledger.demo.writers.csv_bank import write_csv

FORMATS = ("csv", "ofx", "camt053", "mt940")
EXTENSIONS = {"csv": "csv", "ofx": "ofx", "camt053": "xml", "mt940": "mt940"}
#: writers owned by their own modules, imported only when their format is asked for
_WRITER_FUNCTIONS = {
    "ofx": ("autoledger.demo.writers.ofx", "write_ofx"),
    "camt053": ("autoledger.demo.writers.camt", "write_camt053"),
    "mt940": ("autoledger.demo.writers.mt940", "write_mt940"),
}
_JSON = orjson.OPT_SORT_KEYS
_README = (__doc__ or "").split("Layout of the output directory::", 1)[1]


def statement_writer(fmt: str) -> Callable[[Statement], bytes]:
    if fmt == "csv":
        return write_csv
    if fmt not in _WRITER_FUNCTIONS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    module, name = _WRITER_FUNCTIONS[fmt]
    return cast(Callable[[Statement], bytes], getattr(importlib.import_module(module), name))


@dataclass(frozen=True, slots=True)
class ExportedStatement:
    """A statement as its file holds it: after the first month, accounts with an overlap
    re-cover the last days of the previous month; ``duplicates`` are those lines."""

    month: str  # "2025-01"
    statement: Statement
    duplicates: tuple[StatementLine, ...]
    previous_month: str | None


def exported_statements(company: Company) -> list[ExportedStatement]:
    out: list[ExportedStatement] = []
    previous: Statement | None = None
    for statement in company.statements:
        month = statement.start.strftime("%Y-%m")
        overlap = company.overlap_days.get(statement.account.id, 0)
        if previous is None or previous.account.id != statement.account.id or not overlap:
            out.append(ExportedStatement(month, statement, (), None))
            previous = statement
            continue
        from_day = statement.start.toordinal() - overlap
        repeated = tuple(x for x in previous.lines if x.booking_date.toordinal() >= from_day)
        widened = Statement(
            account=statement.account,
            number=statement.number,
            start=statement.start.fromordinal(from_day),
            end=statement.end,
            opening_balance=previous.closing_balance - sum(x.amount for x in repeated),
            closing_balance=statement.closing_balance,
            lines=repeated + statement.lines,
        )
        out.append(ExportedStatement(month, widened, repeated, previous.start.strftime("%Y-%m")))
        previous = statement
    return out


class _Directory:
    """Writes files under ``root`` and remembers each one's SHA-256 for the manifest."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hashes: dict[str, str] = {}

    def write(self, relative: str, data: bytes) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.hashes[relative] = hashlib.sha256(data).hexdigest()

    def write_lines(self, relative: str, records: Iterable[Any]) -> None:
        self.write(relative, b"".join(orjson.dumps(r, option=_JSON) + b"\n" for r in records))


def write_company(company: Company, root: Path, formats: Sequence[str] = FORMATS) -> list[str]:
    """Write ``company`` under ``root`` in ``formats``; the files written, relative to root."""
    writers = {fmt: statement_writer(fmt) for fmt in formats}
    out = _Directory(root)
    out.write(
        "company.json", orjson.dumps(_company_record(company), option=_JSON | orjson.OPT_INDENT_2)
    )
    exported = exported_statements(company)
    for item in exported:
        for fmt, writer in writers.items():
            name = f"statements/{item.statement.account.id}/{item.month}.{EXTENSIONS[fmt]}"
            out.write(name, writer(item.statement))
    out.write_lines("open_items.jsonl", company.open_items)
    out.write_lines("ground_truth.jsonl", _ground_truth(company, exported))
    out.write_lines(
        "balances.jsonl",
        (
            {
                "account": s.account.id,
                "currency": s.account.currency,
                "month": s.start.strftime("%Y-%m"),
                "statement_number": s.number,
                "opening_balance": s.opening_balance,
                "closing_balance": s.closing_balance,
            }
            for s in company.statements
        ),
    )
    out.write("README.txt", _readme(company, formats).encode())
    written = sorted(out.hashes)
    manifest = "".join(f"{out.hashes[name]}  {name}\n" for name in written)
    out.write("MANIFEST.sha256", manifest.encode())
    return [*written, "MANIFEST.sha256"]


def _company_record(company: Company) -> dict[str, Any]:
    return {
        "name": company.name,
        "seed": company.seed,
        "currency": company.currency,
        "start": company.start,
        "months": company.months,
        "scale": company.scale,
        "bank_accounts": company.accounts,
        "counterparties": company.counterparties,
        "overlap_days": company.overlap_days,
    }


def _ground_truth(company: Company, exported: list[ExportedStatement]) -> Iterable[dict[str, Any]]:
    truths = iter(company.truths)
    for statement in company.statements:
        month = statement.start.strftime("%Y-%m")
        currency = statement.account.currency
        for line in statement.lines:
            truth = next(truths)
            if truth.line_id != line.id:  # truths are recorded in statement order
                raise AssertionError(f"truth {truth.line_id} is not for line {line.id}")
            yield {
                "type": "line",
                "account": statement.account.id,
                "statement": month,
                "line_id": line.id,
                "amount": line.amount,
                "currency": currency,
                "gl_account": truth.gl_account,
                "matches": truth.matches,
            }
    for item in exported:
        for position, line in enumerate(item.duplicates):
            yield {
                "type": "duplicate",
                "account": item.statement.account.id,
                "statement": item.month,
                "position": position,
                "line_id": line.id,
                "duplicate_of": {"statement": item.previous_month, "line_id": line.id},
            }
    for payout in company.payouts:
        yield {
            "type": "payout",
            "payout_id": payout.id,
            "amount": payout.amount,
            "currency": payout.currency,
            "initiated": payout.initiated,
            "arrives": payout.arrives,
            "line_ids": payout.line_ids,
        }


def _readme(company: Company, formats: Sequence[str]) -> str:
    return (
        f"{company.name}: a simulated company (autoledger demo generate --seed {company.seed} "
        f"--months {company.months} --currency {company.currency} --scale {company.scale} "
        f"--formats {','.join(formats)})\n\n"
        "Amounts are integers in minor units of their currency; positive is money in.\n"
        "Each statement is written once per format; the formats are alternatives, not more "
        "lines.\nOpen items carry their status, paid amount and fate as of the simulation end.\n"
        f"\nLayout of the output directory:\n\n{_README.strip(chr(10))}\n"
    )
