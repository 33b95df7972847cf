"""``autoledger periods``: a ledger's periods, their close checklist, close (acknowledging
failing items), year-end closing entries and reopen — all through the API (ADR 0018)."""

import uuid
from datetime import datetime
from typing import Annotated, get_args

import typer

from autoledger.cli.context import console, fail
from autoledger.cli.ledger_commands import (
    DEFAULT_URL,
    ApiKey,
    AsJson,
    LedgerId,
    Url,
    _dump,
    _print_json,
    api_client,
)
from autoledger.close.schemas import Acknowledgeable, ChecklistOut, PeriodClose, PeriodReopen
from autoledger.ledger.schemas import PeriodCreate, PeriodOut

periods = typer.Typer(
    help="A ledger's periods: checklist, close, reopen (through the API).", no_args_is_help=True
)

PeriodId = Annotated[uuid.UUID, typer.Argument(help="The period's id.")]
Reason = Annotated[
    str | None, typer.Option("--reason", help="Why (stored with the close or reopen).")
]
_DAY = ["%Y-%m-%d"]
ACKNOWLEDGEABLE = get_args(Acknowledgeable)


def _print(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _period_line(period: PeriodOut) -> str:
    line = f"{period.id}  {period.name}  {period.start_date}..{period.end_date}  {period.status}"
    if period.status == "closed":
        line += f" by {period.closed_by} at {period.closed_at}"
    elif period.reopened_at is not None:
        line += f" (reopened by {period.reopened_by} at {period.reopened_at})"
    for ack in period.acknowledgements:
        line += f"\n  acknowledged {ack.code} by {ack.acknowledged_by}: {ack.reason or '-'}"
    return line


def _checklist_lines(found: ChecklistOut) -> list[str]:
    lines = [f"checklist at {found.period_end}: {'passed' if found.passed else 'failing'}"]
    for item in found.items:
        mark = "ok  " if item.passed else "FAIL"
        note = "" if item.passed or not item.acknowledgeable else " (may be acknowledged)"
        lines.append(f"  {mark} {item.code}: {item.title}{note}")
        if not item.passed:
            lines.extend(f"       {key}: {value}" for key, value in item.evidence.items())
    return lines


@periods.command("list")
def periods_list(
    ledger: LedgerId, as_json: AsJson = False, url: Url = DEFAULT_URL, api_key: ApiKey = None
) -> None:
    """List the ledger's periods, oldest first."""
    with api_client(url, api_key) as client:
        rows = client.list_periods(ledger)
    if as_json:
        _print_json([_dump(row) for row in rows])
        return
    for row in rows:
        _print(_period_line(row))


@periods.command("create")
def periods_create(
    ledger: LedgerId,
    name: Annotated[str, typer.Option("--name", help="e.g. 'Jan 2026'.")],
    start: Annotated[datetime, typer.Option("--start", formats=_DAY, help="First day.")],
    end: Annotated[datetime, typer.Option("--end", formats=_DAY, help="Last day.")],
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Create a period (admin)."""
    body = PeriodCreate(name=name, start_date=start.date(), end_date=end.date())
    with api_client(url, api_key) as client:
        period = client.create_period(ledger, body)
    if as_json:
        _print_json(_dump(period))
    else:
        _print(_period_line(period))


@periods.command("checklist")
def periods_checklist(
    period_id: PeriodId,
    ledger: LedgerId,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """What closing the period checks, with the evidence; exit 2 when an item fails."""
    with api_client(url, api_key) as client:
        found = client.period_checklist(ledger, period_id)
    if as_json:
        _print_json(_dump(found))
    else:
        for line in _checklist_lines(found):
            _print(line)
    if not found.passed:
        raise typer.Exit(2)


@periods.command("close")
def periods_close(
    period_id: PeriodId,
    ledger: LedgerId,
    acknowledge: Annotated[
        list[str] | None,
        typer.Option(
            "--acknowledge",
            help=f"A failing item to close over (repeatable): {', '.join(ACKNOWLEDGEABLE)}.",
        ),
    ] = None,
    reason: Reason = None,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Close the period (admin): its checklist must pass or its failing items be
    acknowledged; a period that ends a fiscal year gets its closing entry first."""
    unknown = sorted(set(acknowledge or []) - set(ACKNOWLEDGEABLE))
    if unknown:
        fail(f"cannot acknowledge {', '.join(unknown)}: only {', '.join(ACKNOWLEDGEABLE)}")
    try:
        body = PeriodClose.model_validate({"acknowledge": acknowledge or [], "reason": reason})
    except ValueError as exc:
        fail(str(exc).splitlines()[-1].strip())
    with api_client(url, api_key) as client:
        period = client.close_period(ledger, period_id, body)
    if as_json:
        _print_json(_dump(period))
    else:
        _print(_period_line(period))


@periods.command("closing-entries")
def periods_closing_entries(
    period_id: PeriodId,
    ledger: LedgerId,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Move the fiscal year's revenue and expense into retained earnings (admin; the
    period must end a fiscal year and be open). Idempotent."""
    with api_client(url, api_key) as client:
        result = client.book_closing_entries(ledger, period_id)
    if as_json:
        _print_json(_dump(result))
        return
    booked = "booked " + str(result.booked_entry_id) if result.booked_entry_id else "nothing new"
    _print(
        f"fiscal year {result.fiscal_year_start}..{result.fiscal_year_end}: {booked};"
        f" {len(result.entries)} closing entr{'y' if len(result.entries) == 1 else 'ies'}"
    )


@periods.command("reopen")
def periods_reopen(
    period_id: PeriodId,
    ledger: LedgerId,
    reason: Reason = None,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Reopen a closed period (admin; audited). Its closing entry stays."""
    with api_client(url, api_key) as client:
        period = client.reopen_period(ledger, period_id, PeriodReopen(reason=reason))
    if as_json:
        _print_json(_dump(period))
    else:
        _print(_period_line(period))
