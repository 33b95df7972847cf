"""``autoledger demo generate``: a simulated company's statements and ground truth on disk."""

from pathlib import Path
from typing import Annotated

import typer

from autoledger.cli.context import console, fail
from autoledger.demo.export import FORMATS, write_company
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
