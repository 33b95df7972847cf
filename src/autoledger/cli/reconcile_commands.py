"""``autoledger reconcile``, ``reconcile-report``, ``matches`` and ``reconciliations``: match a
bank account's lines to open items, review what waits, explain and sign off a statement —
all through the API (ADR 0012)."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, get_args

import typer
from rich.table import Column, Table

from autoledger.cli.context import console, fail
from autoledger.cli.ledger_commands import (
    DEFAULT_URL,
    ApiKey,
    AsJson,
    Url,
    _dump,
    _print_json,
    api_client,
)
from autoledger.reconcile.schemas import (
    BankReconciliationIn,
    BankReconciliationOut,
    MatchOut,
    MatchStatus,
    ReconciliationReportOut,
    RunOut,
)

matches = typer.Typer(help="A bank account's matches (through the API).", no_args_is_help=True)
reconciliations = typer.Typer(
    help="Sign a bank account off to a statement date (through the API).", no_args_is_help=True
)

BankAccount = Annotated[uuid.UUID, typer.Option("--bank-account", help="The bank account's id.")]
MatchId = Annotated[uuid.UUID, typer.Argument(help="The match's id.")]
_DAY = ["%Y-%m-%d"]
StatementDate = Annotated[
    datetime, typer.Option("--date", formats=_DAY, help="The statement date, YYYY-MM-DD.")
]
StatementBalance = Annotated[
    str | None,
    typer.Option(
        "--statement-balance",
        help="The statement's closing balance (default: what the imported statements state).",
        show_default=False,
    ),
]
SHOWN_ROWS = 20


def _print(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _matches_table(rows: list[MatchOut], *, title: str | None = None) -> Table:
    table = Table(
        Column("match", no_wrap=True, min_width=36),  # an id to copy, never folded
        "status",
        "rank",
        "kind",
        "confidence",
        "total",
        "explanation",
        title=title,
    )
    for row in rows:
        table.add_row(
            str(row.id),
            row.status,
            str(row.rank),
            row.kind,
            f"{row.confidence:.3f}",
            f"{row.total} {row.currency}",
            row.explanation[0] if row.explanation else "",
        )
    return table


def _threshold(run: RunOut) -> str:
    if run.threshold is None:
        return "none (nothing is reconciled on its own)"
    return f"{run.threshold:.3f} ({run.policy_source})"


def reconcile(
    bank_account: BankAccount,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Match the account's unreconciled lines against open items: reconcile the sure ones,
    list the suggestions that wait for a person."""
    with api_client(url, api_key) as client:
        run = client.reconcile_bank_account(bank_account)
        waiting = list(client.iter_matches(bank_account, "suggested"))
    if as_json:
        _print_json({"run": _dump(run), "suggestions": [_dump(m) for m in waiting]})
        return
    # The run's ``suggested_lines`` counts every line with a candidate, the reconciled ones
    # too; what waits for a person is the lines of the suggestions left.
    suggested = len({line.bank_transaction_id for match in waiting for line in match.lines})
    _print(
        f"{run.lines} lines against {run.open_items} open items: "
        f"{run.auto_reconciled} auto-reconciled, {suggested} suggested, "
        f"{run.unmatched_lines} unmatched"
    )
    _print(f"threshold: {_threshold(run)}")
    if waiting:
        console.print(_matches_table(waiting, title="suggestions waiting"))
    else:
        _print("no suggestions waiting")


def _summary(report: ReconciliationReportOut) -> list[str]:
    """statement - ledger = unbooked lines + unbooked opening - outstanding + unexplained."""
    currency = report.currency
    if report.statement_balance is None:
        statement = "none stated (pass --statement-balance)"
    else:
        source = f" ({report.statement_balance_source})" if report.statement_balance_source else ""
        statement = f"{report.statement_balance} {currency}{source}"
    period = f"{report.start} to {report.end}" if report.start else f"through {report.end}"
    lines = [
        f"bank account {report.bank_account_id}, {period}",
        f"statement balance:     {statement}",
        f"ledger balance:        {report.ledger_balance} {currency}",
        f"difference:            {report.difference or 'unknown'}",
        f"  unbooked lines:      {report.unbooked_lines.total}"
        f" ({report.unbooked_lines.count} lines)",
    ]
    if Decimal(report.unbooked_opening_balance) != 0:
        lines.append(f"  unbooked opening:    {report.unbooked_opening_balance}")
    lines += [
        f"  outstanding postings: {report.outstanding_postings.total}"
        f" ({report.outstanding_postings.count} postings)",
        f"  unexplained:         {report.unexplained or 'unknown'}",
        f"balanced:              {'yes' if report.balanced else 'no'}",
    ]
    if report.reconciled_through is not None:
        lines.append(f"reconciled through:    {report.reconciled_through}")
    return lines


def reconcile_report(
    bank_account: BankAccount,
    statement_date: StatementDate,
    date_from: Annotated[
        datetime | None,
        typer.Option(
            "--from",
            formats=_DAY,
            help="First day of the period (default: the day after the latest reconciliation).",
            show_default=False,
        ),
    ] = None,
    statement_balance: StatementBalance = None,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Statement against ledger balance at a date, the difference explained line by line."""
    with api_client(url, api_key) as client:
        report = client.reconciliation_report(
            bank_account,
            statement_date.date(),
            date_from=date_from.date() if date_from else None,
            statement_balance=statement_balance,
        )
    if as_json:
        _print_json(_dump(report))
        return
    for line in _summary(report):
        _print(line)
    if report.unbooked_lines.items:
        lines = Table("date", "amount", "description", "state", title="unbooked lines")
        for item in report.unbooked_lines.items[:SHOWN_ROWS]:
            lines.add_row(str(item.booking_date), item.amount, item.description, item.state)
        console.print(lines)
    if report.outstanding_postings.items:
        postings = Table("date", "amount", "description", "reference", title="outstanding postings")
        for posting in report.outstanding_postings.items[:SHOWN_ROWS]:
            postings.add_row(
                str(posting.effective_date),
                posting.amount,
                posting.description,
                posting.reference or "",
            )
        console.print(postings)
    if max(report.unbooked_lines.count, report.outstanding_postings.count) > SHOWN_ROWS:
        _print(f"only the first {SHOWN_ROWS} of each are shown (--json lists up to 500)")


_STATUSES: dict[str, MatchStatus] = {status: status for status in get_args(MatchStatus)}


def _status(value: str | None) -> MatchStatus | None:
    if value is None:
        return None
    if value not in _STATUSES:
        fail(f"unknown --status {value!r}; choose from {', '.join(_STATUSES)}")
    return _STATUSES[value]


@matches.command("list")
def matches_list(
    bank_account: BankAccount,
    status: Annotated[
        str | None,
        typer.Option(
            help=f"One of: {', '.join(_STATUSES)}.",
            show_default=False,
        ),
    ] = None,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """List the account's matches, oldest first."""
    wanted = _status(status)
    with api_client(url, api_key) as client:
        rows = list(client.iter_matches(bank_account, wanted))
    if as_json:
        _print_json([_dump(row) for row in rows])
        return
    console.print(_matches_table(rows))


def _decided(match: MatchOut, as_json: bool) -> None:
    if as_json:
        _print_json(_dump(match))
        return
    entry = match.reversal_entry_id or match.entry_id
    booked = f" (entry {entry})" if entry is not None else ""
    _print(f"match {match.id}: {match.status}{booked}")


@matches.command("accept")
def matches_accept(
    match_id: MatchId, as_json: AsJson = False, url: Url = DEFAULT_URL, api_key: ApiKey = None
) -> None:
    """Accept a suggestion: book its settlement, allocate its items, lock its lines."""
    with api_client(url, api_key) as client:
        _decided(client.accept_match(match_id), as_json)


@matches.command("reject")
def matches_reject(
    match_id: MatchId, as_json: AsJson = False, url: Url = DEFAULT_URL, api_key: ApiKey = None
) -> None:
    """Reject a match (a reconciled one is unreconciled first); it is never proposed again."""
    with api_client(url, api_key) as client:
        _decided(client.reject_match(match_id), as_json)


@matches.command("unreconcile")
def matches_unreconcile(
    match_id: MatchId, as_json: AsJson = False, url: Url = DEFAULT_URL, api_key: ApiKey = None
) -> None:
    """Reverse a reconciled match's settlement and reopen what it settled."""
    with api_client(url, api_key) as client:
        _decided(client.unreconcile_match(match_id), as_json)


def _reconciliation_line(record: BankReconciliationOut) -> str:
    reopened = f", reopened by {record.reopened_by}" if record.status == "reopened" else ""
    return (
        f"{record.statement_date}: {record.status} — statement {record.statement_balance}"
        f" = ledger {record.ledger_balance} {record.currency}"
        f" (by {record.reconciled_by}{reopened}) {record.id}"
    )


@reconciliations.command("mark")
def reconciliations_mark(
    bank_account: BankAccount,
    statement_date: StatementDate,
    statement_balance: StatementBalance = None,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Mark the account reconciled to a statement date (it must balance); locks its lines."""
    body = BankReconciliationIn(
        statement_date=statement_date.date(), statement_balance=statement_balance
    )
    with api_client(url, api_key) as client:
        record = client.mark_reconciled(bank_account, body)
    if as_json:
        _print_json(_dump(record))
    else:
        _print(_reconciliation_line(record))


@reconciliations.command("list")
def reconciliations_list(
    bank_account: BankAccount,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """List the account's reconciliations, oldest statement date first."""
    with api_client(url, api_key) as client:
        rows = client.list_reconciliations(bank_account)
    if as_json:
        _print_json([_dump(row) for row in rows])
        return
    for row in rows:
        _print(_reconciliation_line(row))


@reconciliations.command("reopen")
def reconciliations_reopen(
    reconciliation_id: Annotated[uuid.UUID, typer.Argument(help="The reconciliation's id.")],
    bank_account: BankAccount,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Reopen the latest reconciliation (admin): its lines are no longer locked."""
    with api_client(url, api_key) as client:
        record = client.reopen_reconciliation(bank_account, reconciliation_id)
    if as_json:
        _print_json(_dump(record))
    else:
        _print(_reconciliation_line(record))
