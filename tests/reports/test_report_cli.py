"""``autoledger report`` against a served instance: table, JSON and CSV, through the SDK."""

import csv
import io
import json

from autoledger.ledger import schemas
from tests.cli.test_ledger_cli import Server, invoke, ledger_id, server

__all__ = ["ledger_id", "server"]  # module-scoped fixtures shared with the ledger CLI tests


def test_report_as_table_json_and_csv(server: Server, ledger_id: str) -> None:
    with server.sdk() as sdk:
        sdk.create_entry(
            ledger_id,
            schemas.EntryCreate(
                postings=[
                    schemas.PostingIn(
                        account="1110", direction="debit", amount="250.00", asset="USD"
                    ),
                    schemas.PostingIn(
                        account="4200", direction="credit", amount="250.00", asset="USD"
                    ),
                ],
                effective_date="2026-02-10",  # type: ignore[arg-type]
            ),
        )
    table = invoke(
        server,
        "report",
        "income-statement",
        "--ledger",
        ledger_id,
        "--from",
        "2026-02-01",
        "--to",
        "2026-02-28",
    )
    assert table.exit_code == 0, table.stderr
    assert "Income statement" in table.stdout
    assert "Service revenue" in table.stdout
    assert "250.00" in table.stdout

    as_json = invoke(
        server,
        "report",
        "balance-sheet",
        "--ledger",
        ledger_id,
        "--as-of",
        "2026-02-28",
        "--compare",
        "previous_year",
        "--json",
    )
    assert as_json.exit_code == 0, as_json.stderr
    body = json.loads(as_json.stdout)
    assert body["checks"] == {"balanced": True}
    assert [c["end"] for c in body["columns"]] == ["2026-02-28", "2025-02-28"]

    as_csv = invoke(
        server, "report", "trial-balance", "--ledger", ledger_id, "--as-of", "2026-02-28", "--csv"
    )
    assert as_csv.exit_code == 0, as_csv.stderr
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert rows[0][:3] == ["section", "code", "account"]
    assert rows[-1][2] == "Total"
    assert rows[-1][3] == rows[-1][4]

    wrong = invoke(server, "report", "trial-balance", "--ledger", ledger_id, "--as-of", "nope")
    assert wrong.exit_code == 1
    assert "--as-of: not a date" in wrong.stderr

    # every asset in a reporting currency: with no CHF rate kept, one line naming the pair
    converted = invoke(
        server,
        "report",
        "balance-sheet",
        "--ledger",
        ledger_id,
        "--as-of",
        "2026-02-28",
        "--currency",
        "CHF",
    )
    assert converted.exit_code == 1
    assert converted.stderr.startswith("error: fx.rate_missing:")
    assert "USD/CHF" in converted.stderr
