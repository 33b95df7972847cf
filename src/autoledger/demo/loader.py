"""``autoledger demo load``: a generated company into a tenant, through the public API.

It creates the company's ledger from the small-business chart, an account per foreign-
currency bank account, the opening balances (one balanced entry per currency against
*Opening balance equity*), and the open items the books know before the bank does: issued
invoices (debit receivables, credit the true revenue account) and received bills (debit the
true expense account, credit payables), dated on issue with their reference and due date.
Then each bank account is registered (booked on its ledger account, by its IBAN) and its
monthly statements are imported, oldest first, in one format per account (CAMT.053 when the
company was written with it, else OFX, MT940, CSV): the overlapping days between months are
recognized as duplicates, as they would be with a real bank.

Every call is idempotent — the ledger and accounts under ``Idempotency-Key``s derived from the
company's seed, entries under client ids — so a load that failed half-way is simply re-run.
"""

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autoledger.banking import schemas as banking
from autoledger.client import Client
from autoledger.kit.money import format_amount, iso_currency
from autoledger.ledger import schemas
from autoledger.ledger.domain import SourceType
from autoledger.ledger.types import Direction
from autoledger.reconcile.schemas import AccountRole
from autoledger.reconcile.settlement import DEFAULT_WRITEOFF_ACCOUNTS

OPENING_EQUITY = "3800"
RECEIVABLES = "1200"
PAYABLES = "2100"
OPEN_ITEM_ROLES: dict[str, AccountRole] = {RECEIVABLES: "receivable", PAYABLES: "payable"}
BATCH = 1000


class DemoDataError(ValueError):
    """The directory is not a generated demo company."""


#: the statement format imported when the company has several (one per bank account)
STATEMENT_PREFERENCE = ("camt053", "ofx", "mt940", "csv")
_EXTENSIONS = {"camt053": "xml", "ofx": "ofx", "mt940": "mt940", "csv": "csv"}


@dataclass(frozen=True, slots=True)
class LoadReport:
    ledger_id: str
    accounts_created: int
    opening_entries: int
    open_items: int
    bank_accounts: int = 0
    statements: int = 0
    lines_new: int = 0
    lines_duplicate: int = 0


def _read_json_lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _read(directory: Path) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    try:
        company = json.loads((directory / "company.json").read_text(encoding="utf-8"))
        items = list(_read_json_lines(directory / "open_items.jsonl"))
        balances = list(_read_json_lines(directory / "balances.jsonl"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DemoDataError(f"{directory} is not a generated demo company: {exc}") from exc
    if not {"name", "currency", "seed", "bank_accounts"} <= company.keys():
        raise DemoDataError(f"{directory / 'company.json'} lacks name, currency, seed or accounts")
    return company, items, balances


def _amount(minor: int, currency: str) -> str:
    iso = iso_currency(currency)
    if iso is None:
        raise DemoDataError(f"unknown currency {currency!r}")
    return format_amount(abs(minor), iso.scale)


def _leg(account: str, debit: bool, minor: int, currency: str) -> schemas.PostingIn:
    return schemas.PostingIn(
        account=account,
        direction=Direction.DEBIT if debit else Direction.CREDIT,
        amount=_amount(minor, currency),
        asset=currency,
    )


def load(api: Client, directory: Path) -> LoadReport:
    company, items, balances = _read(directory)
    base: str = company["currency"]
    seed = company["seed"]
    prefix = f"demo-{seed}-{base}"
    ledger = api.create_ledger(
        schemas.LedgerCreate(
            name=company["name"],
            base_currency=base,
            chart_template="small_business",
            metadata={"demo_seed": str(seed)},
        ),
        idempotency_key=f"{prefix}-ledger",
    )

    # The chart's accounts carry the base currency; money in another currency goes to a
    # sub-account per currency (``1130-EUR`` under ``1130``), created once.
    types = {a.code: a.type for a in api.list_accounts(ledger.id, limit=500).data}
    created: list[str] = []

    def in_currency(code: str, currency: str) -> str:
        if currency == base:
            return code
        sub = f"{code}-{currency}"
        if sub not in types:
            if code not in types:
                raise DemoDataError(f"account {code} is not in the chart")
            api.create_account(
                ledger.id,
                schemas.AccountCreate(
                    code=sub,
                    name=f"{code} in {currency}",
                    type=types[code],
                    parent=code,
                    asset=currency,
                ),
                idempotency_key=f"{prefix}-account-{sub}",
            )
            types[sub] = types[code]
            created.append(sub)
        return sub

    codes = {
        bank["id"]: in_currency(bank["gl_account"], bank["currency"])
        for bank in company["bank_accounts"]
    }
    # reconciliation writes a foreign account's differences off in its currency
    for currency in sorted({bank["currency"] for bank in company["bank_accounts"]} - {base}):
        for code in sorted(set(DEFAULT_WRITEOFF_ACCOUNTS.values())):
            in_currency(code, currency)
    entries = [
        *_opening_entries(company, balances, codes, in_currency),
        *_open_item_entries(items, _counterparty_names(company), in_currency),
    ]
    opening = len(entries) - len(items)
    # Marked before the invoices and bills are posted: only postings on an account marked
    # at the time become open items (the currency sub-accounts were created just above).
    for code, role in OPEN_ITEM_ROLES.items():
        for account in (code, *sorted(sub for sub in types if sub.startswith(f"{code}-"))):
            api.mark_open_item_account(
                ledger.id, account, role, idempotency_key=f"{prefix}-open-items-{account}"
            )
    for start in range(0, len(entries), BATCH):
        chunk = entries[start : start + BATCH]
        api.create_entries_batch(
            ledger.id, chunk, atomic=True, idempotency_key=f"{prefix}-entries-{start}"
        )
    banks, statements, new, duplicate = _import_statements(
        api, directory, company, ledger.id, codes, prefix
    )
    return LoadReport(
        str(ledger.id), len(created), opening, len(items), banks, statements, new, duplicate
    )


def _import_statements(
    api: Client,
    directory: Path,
    company: dict[str, Any],
    ledger_id: Any,
    codes: dict[str, str],
    prefix: str,
) -> tuple[int, int, int, int]:
    """Register every bank account and import its statements; idempotent like the rest."""
    statements = new = duplicate = 0
    for bank in company["bank_accounts"]:
        account = api.create_bank_account(
            banking.BankAccountCreate(
                ledger_id=ledger_id,
                gl_account=codes[bank["id"]],
                name=bank["name"],
                currency=bank["currency"],
                institution=bank.get("bank_name"),
                account_number=bank["iban"],
            ),
            idempotency_key=f"{prefix}-bank-{bank['id']}",
        )
        folder = directory / "statements" / bank["id"]
        files: list[Path] = []
        for fmt in STATEMENT_PREFERENCE:
            files = sorted(folder.glob(f"*.{_EXTENSIONS[fmt]}"))
            if files:
                break
        for path in files:
            result = api.import_statement(
                account.id,
                path.name,
                path.read_bytes(),
                idempotency_key=f"{prefix}-import-{bank['id']}-{path.name}",
            )
            statements += 1
            new += result.counts.new
            duplicate += result.counts.duplicate
    return len(company["bank_accounts"]), statements, new, duplicate


def _opening_entries(
    company: dict[str, Any],
    balances: Sequence[dict[str, Any]],
    codes: dict[str, str],
    in_currency: Callable[[str, str], str],
) -> Iterator[schemas.EntryCreate]:
    """One entry per currency: each bank account's first opening balance against equity."""
    first: dict[str, dict[str, Any]] = {}
    for row in balances:
        if row["account"] not in first or row["month"] < first[row["account"]]["month"]:
            first[row["account"]] = row
    by_currency: dict[str, list[tuple[str, int]]] = {}
    for bank in company["bank_accounts"]:
        opening = first.get(bank["id"])
        if opening is not None and opening["opening_balance"]:
            by_currency.setdefault(bank["currency"], []).append(
                (codes[bank["id"]], opening["opening_balance"])
            )
    start = company["start"]
    for currency, rows in sorted(by_currency.items()):
        equity = in_currency(OPENING_EQUITY, currency)
        postings = [_leg(code, minor > 0, minor, currency) for code, minor in rows]
        net = sum(minor for _, minor in rows)
        if net:
            postings.append(_leg(equity, net < 0, net, currency))
        if len(postings) < 2:
            continue
        yield schemas.EntryCreate(
            id=f"opening-balances-{currency}",
            postings=postings,
            effective_date=start,
            description=f"Opening balances ({currency})",
            source=schemas.Source(type=SourceType.SYSTEM, id="demo"),
        )


def _counterparty_names(company: dict[str, Any]) -> dict[str, str]:
    return {party["id"]: party["name"] for party in company.get("counterparties", ())}


def _open_item_entries(
    items: Sequence[dict[str, Any]],
    names: dict[str, str],
    in_currency: Callable[[str, str], str],
) -> Iterator[schemas.EntryCreate]:
    """Each invoice and bill on issue; its metadata carries what a matcher compares a bank
    line against: reference, due date and the counterparty's legal name."""
    for item in items:
        party = item["counterparty_id"]
        if party not in names:
            raise DemoDataError(f"open item {item['id']} names unknown counterparty {party!r}")
        invoice = item["kind"] == "invoice"
        debit, credit = (
            (RECEIVABLES, item["gl_account"]) if invoice else (item["gl_account"], PAYABLES)
        )
        debit, credit = in_currency(debit, item["currency"]), in_currency(credit, item["currency"])
        yield schemas.EntryCreate(
            id=f"open-item-{item['id']}",
            postings=[
                _leg(debit, True, item["amount"], item["currency"]),
                _leg(credit, False, item["amount"], item["currency"]),
            ],
            effective_date=item["issue_date"],
            description=f"{'Invoice' if invoice else 'Bill'} {item['reference']}",
            metadata={
                "kind": item["kind"],
                "reference": item["reference"],
                "due_date": item["due_date"],
                "counterparty_id": party,
                "counterparty": names[party],
            },
            source=schemas.Source(type=SourceType.DOCUMENT, id=item["id"]),
        )
