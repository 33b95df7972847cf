"""``autoledger report KIND --ledger ID``: a ledger's reports through the API, as a table,
JSON (``--json``) or the server's CSV (``--csv``)."""

import sys
from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

import typer
from rich.table import Table

from autoledger.cli.context import console, fail
from autoledger.cli.ledger_commands import DEFAULT_URL, ApiKey, LedgerId, Url, api_client
from autoledger.client.sdk import ReportQuery
from autoledger.reports import exports


class Kind(StrEnum):
    TRIAL_BALANCE = "trial-balance"
    BALANCE_SHEET = "balance-sheet"
    INCOME_STATEMENT = "income-statement"
    CASH_FLOW = "cash-flow"
    GENERAL_LEDGER = "general-ledger"
    AGING = "aging"


class CompareTo(StrEnum):
    PREVIOUS_PERIOD = "previous_period"
    PREVIOUS_YEAR = "previous_year"


class Method(StrEnum):
    DIRECT = "direct"
    INDIRECT = "indirect"


class Side(StrEnum):
    RECEIVABLE = "receivable"
    PAYABLE = "payable"


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not a date (YYYY-MM-DD): {value!r}")


def _render(report: exports.AnyReport) -> None:
    table = exports.table_of(report)
    console.print(f"[bold]{table.title}[/bold]  {table.subtitle}", highlight=False)
    first_amount = len(table.headers) - table.amount_columns
    grid = Table(*table.headers)
    for i, column in enumerate(grid.columns):
        if i >= first_amount:
            column.justify = "right"
    for row in table.rows:
        cells = ["  " * row.depth + c if i == 2 else c for i, c in enumerate(row.cells)]
        grid.add_row(*cells, style="bold" if row.kind in ("heading", "total") else None)
    console.print(grid)


def report(
    kind: Annotated[Kind, typer.Argument(help="Which report.")],
    ledger_id: LedgerId,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Balances at (YYYY-MM-DD).")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="Period start.")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Period end.")] = None,
    compare: Annotated[CompareTo | None, typer.Option(help="Add a comparison column.")] = None,
    depth: Annotated[int | None, typer.Option(min=1, help="Chart levels to show.")] = None,
    asset: Annotated[str | None, typer.Option(help="Asset (default: base currency).")] = None,
    currency: Annotated[
        str | None, typer.Option(help="Every asset converted into this reporting currency.")
    ] = None,
    method: Annotated[Method | None, typer.Option(help="Cash flow: direct or indirect.")] = None,
    side: Annotated[Side | None, typer.Option(help="Aging: receivable or payable.")] = None,
    account: Annotated[str | None, typer.Option(help="General ledger: one account.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print the CSV download.")] = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Print a ledger's trial balance, balance sheet, income statement, cash flow, general
    ledger or aging."""
    if as_json and as_csv:
        fail("--json and --csv exclude each other")
    query = ReportQuery(
        as_of=_day(as_of, "--as-of"),
        date_from=_day(date_from, "--from"),
        date_to=_day(date_to, "--to"),
        compare=compare.value if compare else None,
        depth=depth,
        asset=asset,
        currency=currency,
        method=method.value if method else None,
        kind=side.value if side else None,
        account=account,
    )
    with api_client(url, api_key) as client:
        if as_csv:
            sys.stdout.write(client.download_report(ledger_id, kind.value, "csv", query).decode())
            return
        found: exports.AnyReport
        if kind is Kind.GENERAL_LEDGER:
            found = client.general_ledger(ledger_id, query)
        elif kind is Kind.AGING:
            found = client.aging(ledger_id, query)
        else:
            statement: Literal[
                "trial-balance", "balance-sheet", "income-statement", "cash-flow"
            ] = kind.value  # type: ignore[assignment]
            found = client.report(ledger_id, statement, query)
    if as_json:
        typer.echo(found.model_dump_json(indent=2))
        return
    _render(found)
