"""``autoledger export`` and ``autoledger import-journal``: a ledger as a Beancount file or an
hledger / ledger-cli journal, and back. Operator commands: they talk to the database."""

import os
import tempfile
import uuid
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from autoledger.cli.context import console, err_console, fail, run, session_scope, settings
from autoledger.interop.exporter import export_ledger
from autoledger.interop.importer import (
    ImportReport,
    JournalFormat,
    JournalRejected,
    fingerprint,
    import_journal,
    read_journal,
)
from autoledger.interop.model import Problem
from autoledger.platform.auth import service as auth

Tenant = Annotated[str, typer.Option("--tenant", help="Tenant name.")]
_SHOWN_LINES = 8


def _parse_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(f"{value!r} is not a ledger id (a UUID)")


def _format(value: str | None, path: Path) -> JournalFormat:
    if value is None:
        suffix = path.suffix.lower()
        return (
            JournalFormat.BEANCOUNT if suffix in (".beancount", ".bean") else JournalFormat.LEDGER
        )
    try:
        return JournalFormat(value.lower())
    except ValueError:
        fail(f"unknown format {value!r}; choose beancount or ledger")


def export_command(
    tenant: Tenant,
    ledger: Annotated[str, typer.Option("--ledger", help="The ledger's id.")],
    format_: Annotated[
        str, typer.Option("--format", help="beancount, or ledger (hledger / ledger-cli).")
    ],
    output: Annotated[
        Path | None, typer.Option("--output", help="File to write (default: standard output).")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Last effective date to include (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Write a ledger's chart, posted entries, prices and closing balance assertions as a
    Beancount file or an hledger / ledger-cli journal."""
    fmt = _format(format_, output or Path("-"))
    ledger_id = _parse_id(ledger)
    cutoff: date | None = None
    if as_of is not None:
        try:
            cutoff = date.fromisoformat(as_of)
        except ValueError:
            fail(f"--as-of {as_of!r} is not a date (YYYY-MM-DD)")

    async def work() -> str:
        async with session_scope(settings()) as session:
            owner = await auth.get_tenant_by_name(session, tenant)
            return await export_ledger(session, owner.id, ledger_id, fmt, as_of=cutoff)

    text = run(work)
    if output is None:
        console.out(text, end="", highlight=False)
        return
    _write_atomically(output, text)
    err_console.print(f"wrote {output}", markup=False, highlight=False)


def import_journal_command(
    file: Annotated[Path, typer.Argument(help="A Beancount file or an hledger journal.")],
    tenant: Tenant,
    format_: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="beancount, or ledger (hledger / ledger-cli); default from the file's suffix.",
        ),
    ] = None,
    ledger: Annotated[
        str | None,
        typer.Option("--ledger", help="Import into this ledger (default: a new ledger)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Name of the new ledger (default: the title).")
    ] = None,
) -> None:
    """Migrate a journal into a ledger: accounts, assets, transactions (conversions booked
    on equity conversion accounts), balance assertions checked. All or nothing; a journal
    with problems is reported line by line and nothing is written."""
    if not file.is_file():
        fail(f"{file}: no such file")
    fmt = _format(format_, file)
    ledger_id = _parse_id(ledger) if ledger is not None else None
    journal = read_journal(file, fmt)
    digest = fingerprint(file)

    async def work() -> ImportReport | JournalRejected:
        try:
            async with session_scope(settings()) as session:  # rolls back on any error
                owner = await auth.get_tenant_by_name(session, tenant)
                return await import_journal(
                    session,
                    owner.id,
                    journal,
                    digest=digest,
                    ledger_id=ledger_id,
                    ledger_name=name,
                )
        except JournalRejected as exc:
            return exc

    report = run(work)
    if isinstance(report, JournalRejected):
        for error in report.errors:
            where = error.loc.removeprefix("line ")
            err_console.print(
                f"{file.name}:{where}: {error.message}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
        fail(f"{len(report.errors)} problem(s) in {file.name}; nothing imported")
    console.print(
        f"ledger {report.ledger_id}{' (new)' if report.ledger_created else ''}: "
        f"{report.entries_created} entries, {report.entries_replayed} already imported, "
        f"{report.accounts_created} accounts, {len(report.assets_created)} assets "
        f"({', '.join(report.assets_created) or 'none'}), "
        f"{report.assertions_checked} balance assertions checked",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    for line in _ignored_summary(report.ignored, file.name):
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _ignored_summary(problems: list[Problem], source: str) -> list[str]:
    """One line per kind of ignored directive, naming the first lines."""
    by_kind: dict[str, list[Problem]] = defaultdict(list)
    for p in problems:
        by_kind[p.directive or p.message].append(p)
    out = []
    for kind, items in sorted(by_kind.items()):
        lines = ", ".join(str(p.line) for p in items[:_SHOWN_LINES])
        more = f" and {len(items) - _SHOWN_LINES} more" if len(items) > _SHOWN_LINES else ""
        out.append(
            f"ignored {len(items)} {kind} ({source} lines {lines}{more}): {items[0].message}"
        )
    return out


def _write_atomically(path: Path, text: str) -> None:
    """Write next to ``path`` and rename: a reader never sees half a file."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        fail(f"cannot write {path}: {exc}")
