"""``autoledger periods`` against a real server process: the checklist (exit 2 while an
item fails), a refused close, the close with its year-end closing entry, the reopen; and
the SDK calls beneath them."""

import json
from datetime import date

from autoledger.close.schemas import PeriodClose
from autoledger.ledger import schemas
from tests.cli.test_ledger_cli import Server, invoke, one_error_line, server

__all__ = ["server"]  # the module fixture shared with the ledger CLI tests


def _entry(day: str, debit: str, credit: str, amount: str) -> schemas.EntryCreate:
    return schemas.EntryCreate.model_validate(
        {
            "effective_date": day,
            "postings": [
                {"account": debit, "direction": "debit", "amount": amount, "asset": "USD"},
                {"account": credit, "direction": "credit", "amount": amount, "asset": "USD"},
            ],
        }
    )


def test_checklist_close_and_reopen_from_the_command_line(server: Server) -> None:
    with server.sdk() as sdk:
        ledger = str(
            sdk.create_ledger(
                schemas.LedgerCreate(
                    name="Close", base_currency="USD", chart_template="small_business"
                )
            ).id
        )
        sdk.create_entry(ledger, _entry("2026-05-01", "1110", "4100", "100.00"))
        sdk.create_entry(ledger, _entry("2026-05-02", "9999", "4900", "5.00"))
    created = invoke(
        server,
        "periods",
        "create",
        "--ledger",
        ledger,
        "--name",
        "FY2026",
        "--start",
        "2026-01-01",
        "--end",
        "2026-12-31",
        "--json",
    )
    assert created.exit_code == 0, created.stderr
    period = json.loads(created.stdout)["id"]

    failing = invoke(server, "periods", "checklist", period, "--ledger", ledger)
    assert failing.exit_code == 2, failing.stderr
    assert "FAIL suspense" in failing.stdout
    assert "ok   review_queue" in failing.stdout
    waived = invoke(
        server, "periods", "close", period, "--ledger", ledger, "--acknowledge", "suspense"
    )
    assert "cannot acknowledge suspense" in one_error_line(waived)
    refused = invoke(server, "periods", "close", period, "--ledger", ledger)
    assert "ledger.close_checklist_failed" in one_error_line(refused)

    with server.sdk() as sdk:
        sdk.create_entry(ledger, _entry("2026-06-01", "6100", "9999", "5.00"))
        assert sdk.period_checklist(ledger, period).passed is True
    passing = invoke(server, "periods", "checklist", period, "--ledger", ledger, "--json")
    assert passing.exit_code == 0, passing.stderr
    assert json.loads(passing.stdout)["failing"] == []

    closed = invoke(server, "periods", "close", period, "--ledger", ledger)
    assert closed.exit_code == 0, closed.stderr
    assert "FY2026" in closed.stdout
    assert "closed by" in closed.stdout
    again = invoke(server, "periods", "closing-entries", period, "--ledger", ledger)
    assert again.exit_code == 0, again.stderr
    assert "fiscal year 2026-01-01..2026-12-31: nothing new; 1 closing entry" in again.stdout
    with server.sdk() as sdk:
        [entry] = sdk.book_closing_entries(ledger, period).entries
        assert entry.effective_date == date(2026, 12, 31)
        assert entry.metadata["closing_entry"] == "true"
        # closing a closed period again changes nothing
        assert sdk.close_period(ledger, period, PeriodClose()).status == "closed"

    reopened = invoke(
        server, "periods", "reopen", period, "--ledger", ledger, "--reason", "audit finding"
    )
    assert reopened.exit_code == 0, reopened.stderr
    assert "open" in reopened.stdout
    listed = invoke(server, "periods", "list", "--ledger", ledger, "--json")
    assert listed.exit_code == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["status"], row["reopen_reason"]) == ("open", "audit finding")
    with server.sdk() as sdk:
        assert sdk.get_period(ledger, period).reopen_reason == "audit finding"
