"""``autoledger`` — serve, migrate, tenants, keys; accounts, entries, ledger (via the API)."""

import logging
import signal
import sys
import threading
import time
import uuid
from pathlib import Path
from types import FrameType
from typing import Annotated, NoReturn

import httpx
import structlog
import typer
import uvicorn
from rich.table import Table

from autoledger.cli import (
    audit_commands,
    banking_commands,
    close_commands,
    demo_commands,
    event_commands,
    interop_commands,
    ledger_commands,
    reconcile_commands,
    report_commands,
)
from autoledger.cli.context import console, fail, run, session_scope, settings
from autoledger.client import Client
from autoledger.db import migrate as migrations
from autoledger.demo.export import FORMATS, write_company
from autoledger.demo.loader import load
from autoledger.demo.simulator import simulate
from autoledger.kit.errors import describe
from autoledger.platform.auth import service as auth
from autoledger.platform.auth.roles import Role
from autoledger.platform.observability.logging import configure_logging

DEMO_SEED, DEMO_MONTHS = 1, 12

app = typer.Typer(
    name="autoledger",
    help="The open backend for autonomous finance operations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
tenants = typer.Typer(help="Manage tenants.", no_args_is_help=True)
keys = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(tenants, name="tenants")
app.add_typer(keys, name="keys")
app.add_typer(ledger_commands.accounts, name="accounts")
app.add_typer(ledger_commands.entries, name="entries")
app.add_typer(ledger_commands.ledger, name="ledger")
app.add_typer(event_commands.events, name="events")
app.add_typer(event_commands.dead_letters, name="dead-letters")
app.add_typer(audit_commands.audit_app, name="audit")
app.add_typer(demo_commands.demo, name="demo")
app.add_typer(banking_commands.bank_accounts, name="bank-accounts")
app.add_typer(reconcile_commands.matches, name="matches")
app.add_typer(reconcile_commands.reconciliations, name="reconciliations")
app.add_typer(close_commands.periods, name="periods")
app.command("reconcile")(reconcile_commands.reconcile)
app.command("reconcile-report")(reconcile_commands.reconcile_report)
app.command("import")(banking_commands.import_file)
app.command()(event_commands.worker)
app.command("export")(interop_commands.export_command)
app.command("import-journal")(interop_commands.import_journal_command)
app.command("report")(report_commands.report)


@app.command()
def migrate(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
) -> None:
    """Bring the database schema to the latest (or given) migration."""
    config = settings()
    configure_logging("warning", config.log_format)
    try:
        migrations.upgrade(config, revision)
    except Exception as exc:  # alembic raises many types; the user needs one line
        fail(f"migration failed: {exc}")
    console.print(
        f"database at revision {migrations.head_revision() if revision == 'head' else revision}"
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [AUTOLEDGER_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [AUTOLEDGER_PORT].")] = None,
    bootstrap: Annotated[
        bool | None,
        typer.Option(
            help="Create the bootstrap tenant and an admin key on first start "
            "(default: on for the embedded SQLite database, off otherwise)."
        ),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            help="When this start creates the bootstrap tenant, fill it with a simulated "
            "company (a year of books and bank statements; `make run` does)."
        ),
    ] = False,
) -> None:
    """Serve the HTTP API (embedded mode: SQLite file and in-process bus by default)."""
    config = settings()
    configure_logging(config.log_level, config.log_format)
    key = None
    if bootstrap if bootstrap is not None else config.is_sqlite:
        key = run(lambda: _bootstrap(config.bootstrap_tenant))
    if key is not None and demo:
        url = f"http://{host or config.host}:{port or config.port}"
        threading.Thread(
            target=_seed_demo, args=(url, key, config.data_dir / "demo"), daemon=True
        ).start()
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.run(
        "autoledger.api.main:create_app_from_env",
        factory=True,
        host=host or config.host,
        port=port or config.port,
        workers=config.workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=20,
    )


def _stopped(_signum: int, _frame: FrameType | None) -> NoReturn:
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it to this, the handler it found
    # installed. A stop asked for by the platform (Cloud Run, Kubernetes, systemd) is a clean
    # exit: status 0, not death by signal.
    sys.exit(0)


def _seed_demo(url: str, key: str, directory: Path) -> None:
    """Generate the demo company and load it through the API once the server is up."""
    log = structlog.get_logger("autoledger.demo")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        if not directory.exists() or not any(directory.iterdir()):
            write_company(simulate(DEMO_SEED, DEMO_MONTHS), directory, list(FORMATS))
        with Client(url, key, timeout=120.0) as api:
            report = load(api, directory)
        log.info(
            "demo.loaded",
            ledger_id=report.ledger_id,
            statements=report.statements,
            bank_lines=report.lines_new,
            open_items=report.open_items,
        )
    except Exception as exc:  # the server runs on; the demo can be loaded by hand
        log.error("demo.load_failed", error=describe(exc), hint="autoledger demo load")


async def _bootstrap(tenant_name: str) -> str | None:
    config = settings()
    async with session_scope(config) as session:
        created = await auth.bootstrap_tenant(session, tenant_name)
    if created is not None:
        console.print(
            f"Created tenant [bold]{tenant_name}[/] and an admin API key (shown once, store it now):"
        )
        console.print(created, markup=False, highlight=False, soft_wrap=True)
    return created


@tenants.command("create")
def tenants_create(
    name: Annotated[str, typer.Argument(help="Tenant name: lowercase, digits, '-'.")],
) -> None:
    """Create a tenant."""

    async def work() -> None:
        async with session_scope(settings()) as session:
            tenant = await auth.create_tenant(session, name)
        console.print(f"{tenant.id}\t{tenant.name}", markup=False, highlight=False)

    run(work)


@tenants.command("list")
def tenants_list() -> None:
    """List tenants."""

    async def work() -> None:
        async with session_scope(settings()) as session:
            rows = await auth.list_tenants(session)
        table = Table("id", "name", "created")
        for tenant in rows:
            table.add_row(str(tenant.id), tenant.name, tenant.created_at.isoformat())
        console.print(table)

    run(work)


def _parse_roles(values: list[str]) -> list[Role]:
    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    try:
        return [Role(name) for name in names]
    except ValueError:
        fail(f"unknown role in {names}; choose from {', '.join(r.value for r in Role)}")


@keys.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant name.")],
    roles: Annotated[
        list[str],
        typer.Option(
            help="Roles: admin, accountant, approver, viewer, auditor, agent "
            "(repeat or comma-separate)."
        ),
    ],
    name: Annotated[str, typer.Option(help="A label for the key.")] = "cli",
) -> None:
    """Create an API key and print it (once: only its hash is stored)."""
    wanted = _parse_roles(roles)
    if not wanted:
        fail("give at least one role")

    async def work() -> None:
        async with session_scope(settings()) as session:
            owner = await auth.get_tenant_by_name(session, tenant)
            _, full_key = await auth.create_api_key(session, owner.id, name=name, roles=wanted)
        console.print(full_key, markup=False, highlight=False, soft_wrap=True)

    run(work)


@keys.command("list")
def keys_list(tenant: Annotated[str, typer.Option(help="Tenant name.")]) -> None:
    """List a tenant's API keys (never their secrets)."""

    async def work() -> None:
        async with session_scope(settings()) as session:
            owner = await auth.get_tenant_by_name(session, tenant)
            rows = await auth.list_api_keys(session, owner.id)
        table = Table("id", "name", "prefix", "roles", "last used", "revoked")
        for key in rows:
            revoked = key.revoked_at.isoformat() if key.revoked_at else ""
            used = key.last_used_at.isoformat() if key.last_used_at else ""
            table.add_row(str(key.id), key.name, key.prefix, ",".join(key.roles), used, revoked)
        console.print(table)

    run(work)


@keys.command("revoke")
def keys_revoke(
    tenant: Annotated[str, typer.Option(help="Tenant name.")],
    key_id: Annotated[str, typer.Argument(help="The key's id.")],
) -> None:
    """Revoke an API key."""
    try:
        parsed = uuid.UUID(key_id)
    except ValueError:
        fail(f"{key_id!r} is not a key id (a UUID)")

    async def work() -> None:
        async with session_scope(settings()) as session:
            owner = await auth.get_tenant_by_name(session, tenant)
            await auth.revoke_api_key(session, owner.id, parsed)
        console.print(f"revoked {parsed}")

    run(work)


def main() -> None:
    app()
