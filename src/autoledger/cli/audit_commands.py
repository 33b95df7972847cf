"""``autoledger audit verify`` and ``autoledger audit export``: the operator's view of the
audit log (the system role, so every tenant's chain is reachable)."""

import sys
import uuid
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from autoledger.cli.context import console, fail, run, session_scope, settings
from autoledger.platform.audit import service as audit
from autoledger.platform.auth import service as auth

audit_app = typer.Typer(
    help="The audit log: verify its hash chains, export it.", no_args_is_help=True
)


@audit_app.command("verify")
def verify(
    tenant: Annotated[
        str | None, typer.Option(help="Tenant name (default: every tenant with a chain).")
    ] = None,
) -> None:
    """Replay audit chains; exit 1 naming the first broken record."""

    async def work() -> list[tuple[str, audit.VerifyReport]]:
        async with session_scope(settings()) as session:
            if tenant is not None:
                owner = await auth.get_tenant_by_name(session, tenant)
                names = {owner.id: owner.name}
                ids: list[uuid.UUID] = [owner.id]
            else:
                names = {t.id: t.name for t in await auth.list_tenants(session)}
                ids = list(await audit.chained_tenants(session))
            return [(names.get(t, str(t)), await audit.verify(session, t)) for t in ids]

    for name, report in run(work):
        if not report.ok:
            record = f" (record {report.first_broken_id})" if report.first_broken_id else ""
            fail(
                f"audit chain of tenant {name} is broken at seq {report.first_broken_seq}"
                f"{record}: {report.reason}"
            )
        console.print(
            f"{name}: ok, {report.records_checked} records, head seq {report.head_seq}",
            markup=False,
            highlight=False,
        )


@audit_app.command("export")
def export(
    tenant: Annotated[str, typer.Option(help="Tenant name.")],
    output: Annotated[
        Path | None, typer.Option(help="Write JSON lines to this file (default: stdout).")
    ] = None,
    after_seq: Annotated[int, typer.Option(help="Only records after this seq.")] = 0,
) -> None:
    """Write a tenant's audit records as JSON lines, oldest first (for retention elsewhere)."""

    async def write_to(sink: BinaryIO) -> int:
        count = 0
        async with session_scope(settings()) as session:
            owner = await auth.get_tenant_by_name(session, tenant)
            async for row in audit.stream_records(
                session, owner.id, audit.AuditFilter(), after_seq=after_seq
            ):
                sink.write(audit.json_line(row))
                count += 1
        return count

    if output is None:
        run(lambda: write_to(sys.stdout.buffer))
        return
    try:
        with output.open("wb") as sink:
            count = run(lambda: write_to(sink))
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror or exc}")
    console.print(f"exported {count} records to {output}", markup=False, highlight=False)
