"""``autoledger accounts|entries|ledger`` — talk to a running server through the SDK."""

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from pydantic import BaseModel, TypeAdapter, ValidationError
from rich.table import Table

from autoledger.cli.context import console, fail
from autoledger.client import ApiError, Client
from autoledger.ledger import schemas

DEFAULT_URL = "http://127.0.0.1:8000"

accounts = typer.Typer(help="Accounts of a ledger (through the API).", no_args_is_help=True)
entries = typer.Typer(help="Journal entries (through the API).", no_args_is_help=True)
ledger = typer.Typer(help="Ledgers (through the API).", no_args_is_help=True)

Url = Annotated[str, typer.Option("--url", envvar="AUTOLEDGER_URL", help="The API's base URL.")]
ApiKey = Annotated[
    str | None,
    typer.Option("--api-key", envvar="AUTOLEDGER_API_KEY", help="An API key.", show_default=False),
]
LedgerId = Annotated[uuid.UUID, typer.Option("--ledger", help="The ledger's id.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

_ENTRY_LIST = TypeAdapter(list[schemas.EntryCreate])


@contextmanager
def api_client(url: str, api_key: str | None) -> Iterator[Client]:
    """An SDK client whose API and connection errors become one line and exit 1."""
    if not api_key:
        fail("no API key: pass --api-key or set AUTOLEDGER_API_KEY")
    try:
        with Client(url, api_key) as client:
            yield client
    except ApiError as exc:
        fail(f"{exc.code}: {exc.detail or exc.title}")
    except httpx.InvalidURL as exc:
        fail(f"invalid --url {url!r}: {exc}")
    except httpx.TransportError as exc:
        fail(f"cannot reach {url}: {exc or type(exc).__name__}")


def _print_json(value: Any) -> None:
    # Plain output: rich would still rewrite ``:emoji:`` codes inside descriptions.
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _dump(model: BaseModel) -> Any:
    return model.model_dump(mode="json")


def _read_entries(path: Path) -> schemas.EntryCreate | list[schemas.EntryCreate]:
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    except ValueError as exc:
        fail(f"{path}: invalid JSON: {exc}")
    try:
        if isinstance(data, list):
            return _ENTRY_LIST.validate_python(data)
        return schemas.EntryCreate.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(part) for part in first["loc"]) or "(root)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        fail(f"{path}: invalid entry: {loc}: {first['msg']}{more}")


@accounts.command("list")
def accounts_list(
    ledger_id: LedgerId,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """List every account of a ledger."""
    with api_client(url, api_key) as client:
        rows = list(client.iter_accounts(ledger_id))
    if as_json:
        _print_json([_dump(row) for row in rows])
        return
    table = Table("code", "name", "type", "asset", "status", "id")
    for row in rows:
        table.add_row(row.code, row.name, row.type, row.asset or "*", row.status, str(row.id))
    console.print(table)


@entries.command("post")
def entries_post(
    file: Annotated[
        Path, typer.Argument(help="A JSON file: one entry object, or a list of them (a batch).")
    ],
    ledger_id: LedgerId,
    as_json: AsJson = False,
    atomic: Annotated[
        bool, typer.Option(help="A list is all or nothing (or each entry on its own).")
    ] = True,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            help="Reuse a key to make running this command again safe.", show_default=False
        ),
    ] = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Post one entry, or a batch, and print the created entry ids."""
    parsed = _read_entries(file)
    with api_client(url, api_key) as client:
        if isinstance(parsed, schemas.EntryCreate):
            entry = client.create_entry(ledger_id, parsed, idempotency_key)
            if as_json:
                _print_json(_dump(entry))
            else:
                typer.echo(str(entry.id))
            return
        if not parsed:
            fail(f"{file}: the list of entries is empty")
        result = client.create_entries_batch(
            ledger_id, parsed, atomic=atomic, idempotency_key=idempotency_key
        )
    if as_json:
        _print_json(_dump(result))
    else:
        for item in result.items:
            if item.entry is not None:
                typer.echo(str(item.entry.id))
    failures = [(item.index, item.error) for item in result.items if item.error is not None]
    if failures:
        index, error = failures[0]
        fail(
            f"{len(failures)} of {len(result.items)} entries failed; entries.{index}: "
            f"{error.code}: {error.detail}"
        )


@ledger.command("verify")
def ledger_verify(
    ledger_id: LedgerId,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
) -> None:
    """Replay the ledger's hash chain: exit 0 when intact, 1 naming the first broken entry."""
    with api_client(url, api_key) as client:
        report = client.verify_ledger(ledger_id)
    if as_json:
        _print_json(_dump(report))
    elif report.ok:
        console.print(
            f"ok: {report.records_checked} records checked, head seq {report.head_seq}",
            markup=False,
            highlight=False,
        )
    if not report.ok:
        fail(
            f"chain broken at seq {report.first_broken_seq} "
            f"(entry {report.first_broken_entry_id}): {report.reason or 'mismatch'}"
        )
