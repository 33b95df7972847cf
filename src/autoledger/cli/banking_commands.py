"""``autoledger import FILE``: a statement file into a bank account, with progress and a
summary; ``autoledger bank-accounts``: the tenant's bank accounts. Both go through the API."""

import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from autoledger.banking.schemas import BankAccountCreate, ImportOut
from autoledger.cli.context import console, err_console, fail
from autoledger.cli.ledger_commands import (
    DEFAULT_URL,
    ApiKey,
    AsJson,
    Url,
    _dump,
    _print_json,
    api_client,
)
from autoledger.client.sdk import ApiError, Client

bank_accounts = typer.Typer(help="Bank accounts (through the API).", no_args_is_help=True)
POLL_SECONDS = 0.5
SHOWN_REJECTIONS = 20


def import_file(
    file: Annotated[Path, typer.Argument(help="CSV, OFX/QFX, CAMT.053 or MT940 (gzip/zip too).")],
    bank_account: Annotated[
        uuid.UUID | None,
        typer.Option("--bank-account", help="Default: the account the statement names."),
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help="CSV: a saved profile's name, or a profile as JSON.")
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid lines, report the rest.")
    ] = False,
    accept_unbalanced: Annotated[
        bool,
        typer.Option("--accept-unbalanced", help="Import a statement that does not balance."),
    ] = False,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Import a bank statement file; prints new, duplicate and rejected line counts."""
    try:
        content = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    with api_client(url, api_key) as client:
        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed} lines"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=as_json,
        )
        with progress:
            task = progress.add_task(f"uploading {file.name}", total=None)
            try:
                result = client.import_statement(
                    bank_account,
                    file.name,
                    content,
                    profile=profile,
                    skip_invalid=skip_invalid,
                    accept_unbalanced=accept_unbalanced,
                )
            except ApiError as exc:
                failed = exc.body.get("import") if isinstance(exc.body, dict) else None
                if failed is None:
                    raise
                result = ImportOut.model_validate(failed)
            progress.update(task, description=f"importing {file.name}")
            result = _wait(client, result, lambda n: progress.update(task, completed=n))
    if as_json:
        _print_json(_dump(result))
    else:
        _summary(result)
    if result.status != "completed":
        raise typer.Exit(1)


def _wait(client: Client, result: ImportOut, show: Any) -> ImportOut:
    while result.status in {"queued", "processing"}:
        time.sleep(POLL_SECONDS)
        result = client.get_import(result.id)
        show(result.processed_lines)
    return result


def _summary(result: ImportOut) -> None:
    counts = result.counts
    console.print(
        f"{result.filename or result.id} ({result.format}): {result.status} — "
        f"{counts.new} new, {counts.duplicate} duplicate, {counts.rejected} rejected",
        markup=False,
        highlight=False,
    )
    for check in result.statements:
        if check.balanced is not None:
            verdict = "balances" if check.balanced else "DOES NOT BALANCE"
            console.print(
                f"  statement {check.index}: {check.opening_balance} + {check.lines_sum}"
                f" → {check.closing_balance}: {verdict}",
                markup=False,
                highlight=False,
            )
    for warning in result.warnings:
        console.print(f"  warning: {warning}", markup=False, highlight=False)
    if result.rejected:
        table = Table("line", "field", "reason", title="rejected lines")
        for line in result.rejected[:SHOWN_REJECTIONS]:
            table.add_row(str(line.line), line.field, line.reason)
        console.print(table)
        hidden = counts.rejected - min(len(result.rejected), SHOWN_REJECTIONS)
        if hidden > 0:
            console.print(f"  … and {hidden} more (--json lists them)", markup=False)
    if result.error is not None:
        err_console.print(
            f"error: {result.error.code}: {result.error.detail}", markup=False, highlight=False
        )


@bank_accounts.command("list")
def list_bank_accounts(
    as_json: AsJson = False, url: Url = DEFAULT_URL, api_key: ApiKey = None
) -> None:
    """List the tenant's bank accounts."""
    with api_client(url, api_key) as client:
        rows = client.list_bank_accounts()
    if as_json:
        _print_json([_dump(row) for row in rows])
        return
    table = Table("name", "currency", "account number", "institution", "id")
    for row in rows:
        table.add_row(
            row.name, row.currency, row.account_number or "", row.institution or "", str(row.id)
        )
    console.print(table)


@bank_accounts.command("create")
def create_bank_account(
    ledger: Annotated[uuid.UUID, typer.Option("--ledger", help="The ledger's id.")],
    gl_account: Annotated[str, typer.Option("--gl-account", help="Ledger account id or code.")],
    name: Annotated[str, typer.Option(help="A name for the account.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code.")],
    account_number: Annotated[
        str | None, typer.Option("--account-number", help="IBAN or the bank's number.")
    ] = None,
    institution: Annotated[str | None, typer.Option(help="The bank.")] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Register a bank account booked on a ledger account; prints its id."""
    try:
        body = BankAccountCreate(
            ledger_id=ledger,
            gl_account=gl_account,
            name=name,
            currency=currency.upper(),
            account_number=account_number,
            institution=institution,
        )
    except ValueError as exc:
        fail(str(exc).splitlines()[0] if str(exc) else "invalid bank account")
    with api_client(url, api_key) as client:
        created = client.create_bank_account(body)
    console.print(str(created.id), markup=False, highlight=False)
