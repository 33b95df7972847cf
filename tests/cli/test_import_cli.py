"""``autoledger import`` and ``autoledger bank-accounts`` against a real server process."""

import json
from pathlib import Path

from tests.banking.support import csv_statement
from tests.cli.test_ledger_cli import Server, invoke, ledger_id, one_error_line, server

__all__ = ["ledger_id", "server"]  # module fixtures shared with the ledger CLI tests

ROWS = [
    ("2026-03-02", "Coffee Corner", "-3.50"),
    ("2026-03-02", "Coffee Corner", "-3.50"),
    ("2026-03-16", "ACME invoice 17", "1200.00"),
    ("2026-03-17", "Rent", "-950.00"),
]


def bank_account(server: Server, ledger_id: str, number: str) -> str:
    created = invoke(
        server,
        "bank-accounts", "create", "--ledger", ledger_id, "--gl-account", "1110",
        "--name", "Operating", "--currency", "usd", "--account-number", number,
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    return created.stdout.strip()


def test_import_prints_a_summary_and_a_rerun_adds_nothing(
    server: Server, ledger_id: str, tmp_path: Path
) -> None:
    account = bank_account(server, ledger_id, "US-CHK-000111222")
    statement = tmp_path / "march.csv"
    statement.write_bytes(csv_statement(ROWS))
    first = invoke(server, "import", str(statement), "--bank-account", account, "--json")
    assert first.exit_code == 0, first.output
    body = json.loads(first.stdout)
    assert body["counts"] == {"total": 4, "new": 4, "duplicate": 0, "rejected": 0}
    again = invoke(server, "import", str(statement), "--bank-account", account)
    assert again.exit_code == 0, again.output
    assert "march.csv (csv): completed — 0 new, 4 duplicate, 0 rejected" in again.stdout
    listed = invoke(server, "bank-accounts", "list", "--json")
    assert any(
        a["id"] == account and a["account_number"] == "****1222" for a in json.loads(listed.stdout)
    )


def test_a_file_with_bad_lines_prints_them_and_exits_1(
    server: Server, ledger_id: str, tmp_path: Path
) -> None:
    account = bank_account(server, ledger_id, "US-CHK-000333444")
    statement = tmp_path / "bad.csv"
    statement.write_bytes(csv_statement([*ROWS, ("2026-03-18", "Broken", "1.2.3")]))
    refused = invoke(server, "import", str(statement), "--bank-account", account)
    assert refused.exit_code == 1
    assert "failed — 0 new" in refused.stdout
    assert "rejected lines" in refused.stdout
    assert "error: banking.lines_rejected:" in refused.stderr
    taken = invoke(server, "import", str(statement), "--bank-account", account, "--skip-invalid")
    assert taken.exit_code == 0, taken.output
    assert "4 new, 0 duplicate, 1 rejected" in taken.stdout


def test_unreadable_or_missing_files_are_one_line_errors(
    server: Server, ledger_id: str, tmp_path: Path
) -> None:
    account = bank_account(server, ledger_id, "US-CHK-000555666")
    pdf = tmp_path / "statement.pdf"
    pdf.write_bytes(b"%PDF-1.7 a scanned statement")
    line = one_error_line(invoke(server, "import", str(pdf), "--bank-account", account))
    assert line.startswith("error: banking.unreadable_statement: not a bank statement")
    missing = one_error_line(invoke(server, "import", str(tmp_path / "nope.csv")))
    assert "cannot read" in missing
