"""``autoledger demo generate``: a simulated company's statements and ground truth on disk;
``autoledger demo load``: such a company into a tenant, through the API."""

from pathlib import Path
from typing import Annotated

import typer

from autoledger.cli.context import console, fail
from autoledger.cli.ledger_commands import DEFAULT_URL, ApiKey, Url, api_client
from autoledger.demo.export import FORMATS, write_company
from autoledger.demo.loader import DemoDataError, load
from autoledger.demo.simulator import CURRENCIES, simulate

demo = typer.Typer(help="The demo company simulator.", no_args_is_help=True)


@demo.callback()
def _group() -> None:
    """The demo company simulator (a group, so that ``demo generate`` keeps its name)."""


@demo.command("generate")
def generate(
    out: Annotated[Path, typer.Option(help="Output directory (new or empty).")],
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 1,
    months: Annotated[int, typer.Option(help="Calendar months to simulate.")] = 12,
    currency: Annotated[str, typer.Option(help="Base currency: USD, EUR or GBP.")] = "USD",
    scale: Annotated[int, typer.Option(help="Multiply counterparties and volume.")] = 1,
    formats: Annotated[
        str, typer.Option(help=f"Statement formats, comma-separated: {','.join(FORMATS)}.")
    ] = ",".join(FORMATS),
) -> None:
    """Simulate a company and write its statements, open items and ground truth to OUT."""
    wanted = [f.strip() for f in formats.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown or not wanted:
        fail(
            f"unknown format(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}"
        )
    currency = currency.upper()
    if currency not in CURRENCIES:
        fail(f"currency must be one of {', '.join(CURRENCIES)}, not {currency!r}")
    if months < 1 or scale < 1:
        fail("--months and --scale must be at least 1")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        fail(f"{out} exists and is not an empty directory")
    company = simulate(seed, months, currency=currency, scale=scale)
    try:
        files = write_company(company, out, wanted)
    except OSError as exc:
        fail(f"cannot write {out}: {exc}")
    lines = sum(len(s.lines) for s in company.statements)
    console.print(
        f"{company.name}: {lines} bank lines, {len(company.open_items)} open items, "
        f"{len(files)} files in {out}",
        markup=False,
        highlight=False,
    )


@demo.command("load")
def load_command(
    directory: Annotated[Path, typer.Argument(help="A directory `demo generate` wrote.")],
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Load a generated company into the key's tenant through the API: ledger and chart,
    opening balances, open invoices and bills, bank accounts and their statements. Safe to
    re-run."""
    try:
        with api_client(url, api_key) as api:
            report = load(api, directory)
    except DemoDataError as exc:
        fail(str(exc))
    console.print(
        f"ledger {report.ledger_id}: {report.accounts_created} accounts added, "
        f"{report.opening_entries} opening entries, {report.open_items} open items; "
        f"{report.bank_accounts} bank accounts, {report.statements} statements imported "
        f"({report.lines_new} new lines, {report.lines_duplicate} duplicates)"
    )
