"""``autoledger reconcile``, ``reconcile-report``, ``matches`` and ``reconciliations`` against a
real server process; and ``demo load`` making the company's invoices and bills open items."""

import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, get_args

from autoledger.banking import schemas as banking
from autoledger.categorize import schemas as bookkeeping
from autoledger.client import Client
from autoledger.client.sdk import OpenItemQuery, ProposalQuery
from autoledger.demo.export import write_company
from autoledger.demo.simulator import simulate
from autoledger.ledger import schemas
from autoledger.reconcile import schemas as reconcile
from autoledger.reconcile.scoring import prior
from tests.banking.support import csv_statement
from tests.cli.test_ledger_cli import Server, invoke, one_error_line, server

__all__ = ["server"]  # the module fixture shared with the ledger CLI tests

T = TypeVar("T")
WAIT_SECONDS = 60.0
INVOICES = [
    ("INV-00042", "Acme Tools Inc", "500.00", "2026-03-15"),
    ("INV-00044", "Cobalt Labs LLC", "300.00", "2026-03-10"),
    ("INV-00045", "Cobalt Labs LLC", "200.00", "2026-03-12"),
    ("INV-00046", "Delta Foods", "800.00", "2026-03-25"),
]
STATEMENT = [
    ("2026-03-16", "ACH CREDIT ACME TOOLS INV-00042", "500.00"),
    ("2026-03-22", "COBALT LABS PAYMENT", "500.00"),
    ("2026-03-23", "DELTA FOODS INV-00046", "300.00"),
    ("2026-03-24", "Coffee Corner", "-3.50"),
]
#: what the statement's lines add up to: its closing balance, from nothing
CLOSING = "1296.50"


@dataclass(frozen=True)
class Books:
    ledger_id: uuid.UUID
    bank_account_id: uuid.UUID
    items: dict[str, reconcile.OpenItemOut]


def eventually(look: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = look()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {what} after {WAIT_SECONDS:.0f}s")


def books(server: Server, *, auto_reconcile: bool) -> Books:
    """A ledger with four invoices as open items and a bank statement paying them, whose
    lines the bookkeeping loop has queued (booking none); the matcher has not run yet."""
    with server.sdk() as sdk:
        ledger = sdk.create_ledger(
            schemas.LedgerCreate(name="Rec", base_currency="USD", chart_template="small_business")
        )
        bank = sdk.create_bank_account(
            banking.BankAccountCreate(
                ledger_id=ledger.id, gl_account="1110", name="Operating", currency="USD"
            )
        )
        sdk.mark_open_item_account(ledger.id, "1200", "receivable")
        # the matcher's settlements are the only bookings of these lines
        sdk.put_bookkeeping_settings(ledger.id, bookkeeping.SettingsIn(auto_book=False))
        sdk.put_reconcile_settings(
            ledger.id,
            reconcile.ReconcileSettingsIn(auto_reconcile=auto_reconcile, run_on_import=False),
        )
        for reference, party, amount, due in INVOICES:
            sdk.create_entry(
                ledger.id,
                schemas.EntryCreate.model_validate(
                    {
                        "postings": [
                            {"account": "1200", "direction": "debit", "amount": amount,
                             "asset": "USD"},
                            {"account": "4200", "direction": "credit", "amount": amount,
                             "asset": "USD"},
                        ],
                        "effective_date": "2026-03-01",
                        "metadata": {"reference": reference, "counterparty": party,
                                     "due_date": due},
                    }
                ),
            )  # fmt: skip

        def open_items() -> dict[str, reconcile.OpenItemOut] | None:
            found = {i.reference: i for i in sdk.iter_open_items(ledger.id)}
            return found if len(found) == len(INVOICES) else None

        items = eventually(open_items, "open items")
        sdk.import_statement(bank.id, "march.csv", csv_statement(STATEMENT))
        eventually(lambda: proposals(sdk, ledger.id) >= len(STATEMENT), "proposals")
    return Books(ledger.id, bank.id, items)


def proposals(sdk: Client, ledger_id: uuid.UUID) -> int:
    return sum(
        len(list(sdk.iter_proposals(ledger_id, ProposalQuery(status))))
        for status in get_args(bookkeeping.ProposalStatus)
    )


def test_reconcile_books_an_invoice_reports_and_signs_off(server: Server) -> None:
    setup = books(server, auto_reconcile=True)
    bank = str(setup.bank_account_id)
    ran = invoke(server, "reconcile", "--bank-account", bank)
    assert ran.exit_code == 0, ran.output
    summary = re.search(
        r"^4 lines against 4 open items: (\d+) auto-reconciled, (\d+) suggested, (\d+) unmatched$",
        ran.stdout,
        re.MULTILINE,
    )
    assert summary, ran.stdout
    auto, suggested, unmatched = int(summary[1]), int(summary[2]), int(summary[3])
    assert auto >= 1
    assert unmatched >= 1  # the coffee
    assert f"threshold: {prior().metadata['default_threshold']:.3f} (prior)" in ran.stdout
    with server.sdk() as sdk:
        acme = sdk.get_open_item(setup.items["INV-00042"].id)
        assert acme.status == "settled"
        (settlement,) = acme.settlements
        assert settlement.match_id is not None
        match = sdk.get_match(settlement.match_id)
        assert (match.status, match.auto) == ("reconciled", True)
        waiting = list(sdk.iter_matches(bank, "suggested"))
        reconciled = {
            line.bank_transaction_id
            for m in sdk.iter_matches(bank, "reconciled")
            for line in m.lines
        }
    assert len({line.bank_transaction_id for m in waiting for line in m.lines}) == suggested
    assert auto + suggested + unmatched <= len(STATEMENT)
    assert ("no suggestions waiting" in ran.stdout) is not bool(waiting)

    # Again, as JSON: only the lines still open are matched; the suggestions are listed.
    again = invoke(server, "reconcile", "--bank-account", bank, "--json")
    assert again.exit_code == 0, again.output
    body = json.loads(again.stdout)
    assert set(body) == {"run", "suggestions"}
    run = reconcile.RunOut.model_validate(body["run"])
    assert (run.bank_account_id, run.auto_reconciled) == (setup.bank_account_id, 0)
    assert run.lines == len(STATEMENT) - len(reconciled)
    with server.sdk() as sdk:
        waiting = list(sdk.iter_matches(bank, "suggested"))
    assert [reconcile.MatchOut.model_validate(m) for m in body["suggestions"]] == waiting

    # The report: nothing stated by a CSV statement, so the closing balance is given.
    unstated = invoke(server, "reconcile-report", "--bank-account", bank, "--date", "2026-03-31")
    assert unstated.exit_code == 0, unstated.output
    assert "statement balance:     none stated (pass --statement-balance)" in unstated.stdout
    args = ["--bank-account", bank, "--date", "2026-03-31", "--statement-balance", CLOSING]
    shown = invoke(server, "reconcile-report", *args)
    assert shown.exit_code == 0, shown.output
    report = invoke(server, "reconcile-report", *args, "--json")
    got = reconcile.ReconciliationReportOut.model_validate_json(report.stdout)
    assert got.statement_balance == CLOSING
    assert (got.unexplained, got.balanced) == ("0.00", True)
    for line in (
        f"statement balance:     {CLOSING} USD (given)",
        f"ledger balance:        {got.ledger_balance} USD",
        f"difference:            {got.difference}",
        f"  unbooked lines:      {got.unbooked_lines.total} ({got.unbooked_lines.count} lines)",
        f"  outstanding postings: {got.outstanding_postings.total}"
        f" ({got.outstanding_postings.count} postings)",
        "  unexplained:         0.00",
        "balanced:              yes",
    ):
        assert line in shown.stdout.splitlines(), (line, shown.stdout)
    off = invoke(server, "reconcile-report", *args[:4], "--statement-balance", "1300.00")
    assert "balanced:              no" in off.stdout.splitlines()
    assert "  unexplained:         3.50" in off.stdout.splitlines()

    # Sign-off: an unbalanced statement is refused in one line, a balanced one locks.
    refused = one_error_line(
        invoke(server, "reconciliations", "mark", *args[:4], "--statement-balance", "1300.00")
    )
    assert refused.startswith("error: reconcile.not_balanced: ")
    marked = invoke(server, "reconciliations", "mark", *args)
    assert marked.exit_code == 0, marked.output
    assert marked.stdout.startswith(
        f"2026-03-31: reconciled — statement {CLOSING} = ledger {got.ledger_balance} USD"
    )
    listed = invoke(server, "reconciliations", "list", "--bank-account", bank, "--json")
    (record,) = [
        reconcile.BankReconciliationOut.model_validate(r) for r in json.loads(listed.stdout)
    ]
    assert str(record.id) in marked.stdout
    locked = invoke(server, "reconcile", "--bank-account", bank, "--json")
    assert json.loads(locked.stdout)["run"]["lines"] == 0
    reopened = invoke(server, "reconciliations", "reopen", "--bank-account", bank, str(record.id))
    assert reopened.exit_code == 0, reopened.output
    assert reopened.stdout.startswith("2026-03-31: reopened — ")
    assert ", reopened by " in reopened.stdout


def test_suggestions_are_accepted_rejected_and_unreconciled(server: Server) -> None:
    setup = books(server, auto_reconcile=False)
    bank = str(setup.bank_account_id)
    ran = invoke(server, "reconcile", "--bank-account", bank, "--json")
    assert ran.exit_code == 0, ran.output
    body = json.loads(ran.stdout)
    assert body["run"]["auto_reconciled"] == 0
    suggestions = [reconcile.MatchOut.model_validate(m) for m in body["suggestions"]]
    acme_item = setup.items["INV-00042"].id
    acme = next(
        m
        for m in suggestions
        if m.rank == 1 and [a.open_item_id for a in m.allocations] == [acme_item]
    )
    other = next(m for m in suggestions if acme_item not in {a.open_item_id for a in m.allocations})

    accepted = invoke(server, "matches", "accept", str(acme.id))
    assert accepted.exit_code == 0, accepted.output
    with server.sdk() as sdk:
        booked = sdk.get_match(acme.id)
        assert booked.status == "reconciled"
        assert accepted.stdout.strip() == f"match {acme.id}: reconciled (entry {booked.entry_id})"
        assert sdk.get_open_item(acme_item).status == "settled"
    rejected = invoke(server, "matches", "reject", str(other.id))
    assert rejected.exit_code == 0, rejected.output
    assert rejected.stdout.strip() == f"match {other.id}: rejected"
    conflict = one_error_line(invoke(server, "matches", "accept", str(other.id)))
    assert conflict.startswith("error: reconcile.match_decided: ")

    listed = invoke(
        server, "matches", "list", "--bank-account", bank, "--status", "reconciled", "--json"
    )
    assert [m["id"] for m in json.loads(listed.stdout)] == [str(acme.id)]
    table = invoke(server, "matches", "list", "--bank-account", bank, "--status", "rejected")
    assert table.exit_code == 0, table.output
    assert str(other.id) in table.stdout
    assert str(acme.id) not in table.stdout

    undone = invoke(server, "matches", "unreconcile", str(acme.id), "--json")
    assert undone.exit_code == 0, undone.output
    reversed_match = reconcile.MatchOut.model_validate_json(undone.stdout)
    assert reversed_match.status == "unreconciled"
    assert reversed_match.reversal_entry_id is not None
    with server.sdk() as sdk:
        assert sdk.get_open_item(acme_item).status == "open"


def test_api_errors_are_one_line_and_exit_1(server: Server) -> None:
    unknown = str(uuid.uuid4())
    line = one_error_line(invoke(server, "reconcile", "--bank-account", unknown))
    assert line.startswith("error: banking.bank_account_not_found: ")
    line = one_error_line(invoke(server, "matches", "reject", unknown))
    assert line.startswith("error: reconcile.match_not_found: ")
    line = one_error_line(
        invoke(server, "reconcile-report", "--bank-account", unknown, "--date", "2026-03-31")
    )
    assert line.startswith("error: banking.bank_account_not_found: ")
    line = one_error_line(
        invoke(server, "matches", "list", "--bank-account", unknown, "--status", "open")
    )
    assert line.startswith("error: unknown --status 'open'; choose from suggested, ")


def test_demo_load_makes_invoices_and_bills_open_items(server: Server, tmp_path: Path) -> None:
    company = simulate(seed=12, months=1)
    write_company(company, tmp_path / "acme", formats=["csv"])
    loaded = invoke(server, "demo", "load", str(tmp_path / "acme"))
    assert loaded.exit_code == 0, loaded.output
    ledger_id = loaded.stdout.split()[1].rstrip(":")
    with server.sdk() as sdk:
        roles = {(a.code, a.role) for a in sdk.list_open_item_accounts(ledger_id)}
        assert {("1200", "receivable"), ("2100", "payable")} <= roles
        assert all(code.split("-")[0] in {"1200", "2100"} for code, _ in roles)
        references = eventually(
            lambda: (
                found
                if len(found := {i.reference for i in sdk.iter_open_items(ledger_id)})
                >= len(company.open_items)
                else None
            ),
            "open items",
        )
        bills = list(sdk.iter_open_items(ledger_id, OpenItemQuery(account="2100")))
    assert references == {item.reference for item in company.open_items}
    base_bills = [i for i in company.open_items if i.kind == "bill" and i.currency == "USD"]
    assert len(bills) == len(base_bills) > 0
    assert all(b.kind == "bill" and b.amount.startswith("-") for b in bills)  # money out
