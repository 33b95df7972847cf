"""``autoledger worker``, ``autoledger events schema`` and ``autoledger dead-letters``."""

import asyncio
import json
import signal
import uuid
from pathlib import Path
from typing import Annotated, Literal

import typer
from prometheus_client import start_http_server
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.cli.context import console, fail, run, session_scope, settings
from autoledger.platform.auth import service as auth
from autoledger.platform.events import catalog, consumers
from autoledger.platform.observability.logging import configure_logging
from autoledger.runtime import Runtime

events = typer.Typer(help="The event catalog.", no_args_is_help=True)
dead_letters = typer.Typer(help="Events consumers gave up on.", no_args_is_help=True)

CATALOG_PATH = Path("docs/events/catalog.json")


def worker(
    metrics_port: Annotated[
        int, typer.Option(help="Serve Prometheus metrics on this port (0: off).")
    ] = 0,
    relay: Annotated[bool, typer.Option(help="Run the outbox relay in this worker.")] = True,
    consumers_on: Annotated[
        bool,
        typer.Option("--consumers/--no-consumers", help="Run the registered consumers."),
    ] = True,
) -> None:
    """Run the event worker: outbox relay, consumers and webhook delivery, until SIGTERM."""
    config = settings()
    configure_logging(config.log_level, config.log_format)

    async def work() -> None:
        runtime = Runtime.build(
            config, with_worker=True, relay=relay, consumers=None if consumers_on else []
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await runtime.start()
        if metrics_port:
            start_http_server(metrics_port, addr=config.host, registry=runtime.metrics.registry)
        try:
            await stop.wait()
        finally:
            await runtime.stop()

    run(work)


def render_catalog() -> str:
    return json.dumps(catalog.json_schema(), indent=2, sort_keys=True) + "\n"


@events.command("schema")
def events_schema(
    output: Annotated[
        Path | None, typer.Option(help=f"Write here (e.g. {CATALOG_PATH}) instead of stdout.")
    ] = None,
    check: Annotated[
        bool, typer.Option(help="Exit 1 if OUTPUT differs from the catalog (CI).")
    ] = False,
) -> None:
    """Export the event catalog: the CloudEvents envelope and a JSON Schema per event type."""
    text = render_catalog()
    if output is None:
        if check:
            fail("--check needs --output")
        typer.echo(text, nl=False)
        return
    if check:
        current = output.read_text() if output.exists() else ""
        if current != text:
            fail(f"{output} is out of date; run: autoledger events schema --output {output}")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    console.print(f"wrote {len(catalog.catalog())} event types to {output}")


async def _tenant_id(session: AsyncSession, name: str | None) -> uuid.UUID | None:
    return None if name is None else (await auth.get_tenant_by_name(session, name)).id


@dead_letters.command("list")
def dead_letters_list(
    tenant: Annotated[str | None, typer.Option(help="Tenant name (default: all).")] = None,
    consumer: Annotated[str | None, typer.Option(help="Only this consumer.")] = None,
    status: Annotated[
        Literal["dead", "replayed", "all"], typer.Option(help="dead, replayed or all.")
    ] = "dead",
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
) -> None:
    """List dead letters, oldest first."""

    async def work() -> None:
        async with session_scope(settings()) as session:
            rows = await consumers.list_dead_letters(
                session,
                await _tenant_id(session, tenant),
                status=None if status == "all" else status,
                consumer=consumer,
                limit=limit,
            )
        table = Table("id", "consumer", "event type", "attempts", "status", "error")
        for r in rows:
            table.add_row(str(r.id), r.consumer, r.event_type, str(r.attempts), r.status, r.error)
        console.print(table)

    run(work)


@dead_letters.command("replay")
def dead_letters_replay(
    dead_letter_id: Annotated[uuid.UUID, typer.Argument(help="Dead letter id.")],
) -> None:
    """Put a dead letter's event back on the bus (through the outbox)."""

    async def work() -> None:
        async with session_scope(settings()) as session:
            letter = await consumers.replay(session, None, dead_letter_id)
        console.print(f"replayed {letter.id} (event {letter.event_id}, {letter.event_type})")

    run(work)
