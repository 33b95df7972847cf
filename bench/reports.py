"""Report latency on PostgreSQL: 1,000,000 entries over 10,000 accounts.

Run ``python -m bench.reports`` (or ``make bench-reports``). It creates a throw-away database
on ``BENCH_PG`` (default ``postgres@127.0.0.1:5432``, trust auth), migrates it, and
bulk-loads a ledger with COPY: a five-level chart of 10,000 accounts and ``--entries``
two-posting entries spread over three years. COPY bypasses the journal, so the report
aggregates are then built by the migration's own backfill statements (the same SQL the
0014 migration runs on existing postings); the hash chain of such a ledger is not
meaningful and is not used. Then it times, through the report service and presenter (the
request's work without HTTP), the trial balance, balance sheet and income statement — each
cold once, then ``--repeat`` times — and, for contrast, one trial balance computed the old
way (a GROUP BY over every posting).

``--write-path`` also measures the journal's group commit (``bench.ledger``'s engine
phase, 1,000 accounts) with the aggregates kept and with their upkeep switched off, in the
same process, to show what maintaining them costs.

Progress goes to stderr; the last line of stdout is one JSON object.
"""

import argparse
import asyncio
import importlib.util
import json
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import common

REPO = Path(__file__).resolve().parent.parent
MIGRATION = REPO / "src/autoledger/db/migrations/versions/20261124_0014_report_aggregates.py"
TYPES = [
    ("asset", 3000),
    ("liability", 1500),
    ("equity", 500),
    ("revenue", 1500),
    ("expense", 3500),
]
FIRST_DAY = date(2024, 1, 1)
DAYS = 3 * 365
CHUNK = 100_000


def say(message: str) -> None:
    common.say("bench.reports", message)


def backfill_statements() -> list[str]:
    spec = importlib.util.spec_from_file_location("report_aggregates_migration", MIGRATION)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {MIGRATION}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    statements: list[str] = module.backfill_statements("postgresql")
    return statements


def chart(tenant_id: uuid.UUID, ledger_id: uuid.UUID, accounts: int) -> list[tuple[Any, ...]]:
    """Per type: one root, 10 groups, 10 subgroups each, then the leaves under subgroups."""
    now = datetime.now(UTC)
    rows: list[tuple[Any, ...]] = []
    scale = accounts / sum(n for _, n in TYPES)
    for t, (type_, share) in enumerate(TYPES, start=1):
        count = max(int(share * scale), 112)
        root = uuid.uuid4()
        rows.append((root, tenant_id, ledger_id, f"{t}", type_, None, now))
        groups = []
        for g in range(10):
            group = uuid.uuid4()
            rows.append((group, tenant_id, ledger_id, f"{t}{g}", type_, root, now))
            for s in range(10):
                sub = uuid.uuid4()
                rows.append((sub, tenant_id, ledger_id, f"{t}{g}{s}", type_, group, now))
                groups.append(sub)
        for leaf in range(count - 111):
            parent = groups[leaf % len(groups)]
            rows.append((uuid.uuid4(), tenant_id, ledger_id, f"{t}-{leaf:05d}", type_, parent, now))
    return rows


async def load(url: str, entries: int, accounts: int) -> tuple[uuid.UUID, uuid.UUID]:
    import asyncpg

    from autoledger.db import migrate
    from autoledger.db.engine import create_engine, create_sessionmaker
    from autoledger.kit.settings import Settings
    from autoledger.ledger import service
    from autoledger.platform.auth import service as auth

    settings = Settings(database_url=url)
    await migrate.upgrade_async(settings)
    engine = create_engine(settings)
    try:
        async with create_sessionmaker(engine)() as session:
            tenant = await auth.create_tenant(session, "bench")
            ledger = await service.create_ledger(
                session, tenant.id, name="bench", base_currency="USD", metadata={}
            )
            await session.commit()
            tenant_id, ledger_id = tenant.id, ledger.id
    finally:
        await engine.dispose()
    now = datetime.now(UTC)
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = chart(tenant_id, ledger_id, accounts)
        await conn.copy_records_to_table(
            "accounts",
            records=[
                (
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    f"Account {r[3]}",
                    r[4],
                    r[5],
                    None,
                    False,
                    False,
                    None,
                    "active",
                    "{}",
                    r[6],
                )
                for r in rows
            ],
            columns=[
                "id",
                "tenant_id",
                "ledger_id",
                "code",
                "name",
                "type",
                "parent_id",
                "asset",
                "debits_must_not_exceed_credits",
                "credits_must_not_exceed_debits",
                "balance_limit",
                "status",
                "metadata",
                "created_at",
            ],
        )
        ids = [r[0] for r in rows]
        say(f"chart: {len(ids):,} accounts; loading {entries:,} entries with COPY")
        rng = random.Random(7)
        started = time.perf_counter()
        for first in range(0, entries, CHUNK):
            batch, postings = [], []
            for seq in range(first + 1, min(first + CHUNK, entries) + 1):
                entry_id = uuid.uuid4()
                day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
                debit, credit = rng.sample(ids, 2)
                amount = rng.randint(1, 9_999_999)
                batch.append(
                    (
                        entry_id,
                        tenant_id,
                        ledger_id,
                        seq,
                        "posted",
                        day,
                        now,
                        "",
                        "{}",
                        "api",
                        "bench",
                    )
                )
                postings.append(
                    (
                        entry_id,
                        0,
                        tenant_id,
                        ledger_id,
                        debit,
                        "USD",
                        "debit",
                        amount,
                        amount,
                        day,
                        seq,
                    )
                )
                postings.append(
                    (
                        entry_id,
                        1,
                        tenant_id,
                        ledger_id,
                        credit,
                        "USD",
                        "credit",
                        amount,
                        amount,
                        day,
                        seq,
                    )
                )
            await conn.copy_records_to_table(
                "journal_entries",
                records=batch,
                columns=[
                    "id",
                    "tenant_id",
                    "ledger_id",
                    "seq",
                    "status",
                    "effective_date",
                    "recorded_at",
                    "description",
                    "metadata",
                    "source_type",
                    "actor",
                ],
            )
            await conn.copy_records_to_table(
                "postings",
                records=postings,
                columns=[
                    "entry_id",
                    "index",
                    "tenant_id",
                    "ledger_id",
                    "account_id",
                    "asset",
                    "direction",
                    "amount",
                    "posted_amount",
                    "effective_date",
                    "seq",
                ],
            )
            done = first + len(batch)
            say(f"  {done:,} entries ({done / (time.perf_counter() - started):,.0f}/s)")
        started = time.perf_counter()
        for statement in backfill_statements():
            await conn.execute(statement)
        say(
            f"aggregates built by the migration's backfill in {time.perf_counter() - started:.1f} s"
        )
        await conn.execute("ANALYZE")
        return tenant_id, ledger_id
    finally:
        await conn.close()


async def time_reports(
    url: str, tenant_id: uuid.UUID, ledger_id: uuid.UUID, repeat: int
) -> dict[str, Any]:
    from sqlalchemy import text

    from autoledger.db.engine import create_engine, create_sessionmaker
    from autoledger.kit.settings import Settings
    from autoledger.ledger.tables import Posting
    from autoledger.reports import presenter, service
    from autoledger.reports.periods import Compare
    from autoledger.reports.service import ReportQuery

    engine = create_engine(Settings(database_url=url))
    sessionmaker = create_sessionmaker(engine)
    as_of = FIRST_DAY + timedelta(days=DAYS - 20)  # mid-month: months plus days
    queries = {
        "trial_balance": (service.trial_balance, ReportQuery(as_of=as_of)),
        "balance_sheet": (
            service.balance_sheet,
            ReportQuery(as_of=as_of, compare=Compare.PREVIOUS_YEAR),
        ),
        "income_statement": (
            service.income_statement,
            ReportQuery(date_to=as_of, compare=Compare.PREVIOUS_PERIOD),
        ),
    }
    out: dict[str, Any] = {"as_of": as_of.isoformat()}
    try:
        for name, (build, query) in queries.items():
            samples = []
            lines = 0
            for _ in range(repeat + 1):
                started = time.perf_counter()
                async with sessionmaker() as session:
                    view = await build(session, tenant_id, ledger_id, query)
                    amount = await presenter.formatter(session, tenant_id, view.asset)
                    body = presenter.statement_out(view, amount).model_dump_json()
                samples.append(time.perf_counter() - started)
                lines = sum(len(s.lines) for s in view.report.sections)
                assert view.report.checks.get("balanced", True), name
            out[name] = {
                "cold_ms": round(samples[0] * 1000, 1),
                "p50_ms": round(statistics.median(samples[1:]) * 1000, 1),
                "max_ms": round(max(samples[1:]) * 1000, 1),
                "lines": lines,
                "bytes": len(body),
            }
            say(f"{name}: {out[name]}")
        started = time.perf_counter()
        async with sessionmaker() as session:
            await session.execute(
                text(
                    "SELECT account_id, direction, sum(posted_amount) FROM postings"
                    " WHERE ledger_id = :l AND effective_date <= :d GROUP BY 1, 2"
                ),
                {"l": ledger_id, "d": as_of},
            )
        out["full_scan_trial_balance_ms"] = round((time.perf_counter() - started) * 1000, 1)
        say(
            f"full scan of {Posting.__tablename__} for a trial balance: {out['full_scan_trial_balance_ms']} ms"
        )
    finally:
        await engine.dispose()
    return out


async def write_path(seconds: float) -> dict[str, Any]:
    """Group commit with and without aggregate upkeep (bench.ledger's engine phase)."""
    from autoledger.ledger.repository import LedgerRepository
    from bench import ledger as ledger_bench

    kept = LedgerRepository.add_posted_totals
    out: dict[str, Any] = {}

    async def skip(self: LedgerRepository, rows: Any) -> None:
        del self, rows

    for label, method in (("without_aggregates", skip), ("with_aggregates", kept)):
        LedgerRepository.add_posted_totals = method  # type: ignore[method-assign]
        try:
            async with common.throwaway_database("autoledger_bench_reports_w") as (url, _):
                fixture = await ledger_bench.prepare(url)
                result = await ledger_bench.bench_engine(fixture, 20, seconds)
        finally:
            LedgerRepository.add_posted_totals = kept  # type: ignore[method-assign]
        out[label] = {
            k: result[k]
            for k in (
                "engine_group_entries_per_s",
                "engine_group_ms_per_txn",
                "engine_writer_entries_per_s",
            )
        }
        say(f"write path {label}: {out[label]}")
    return out


async def main(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "bench": "reports",
        "entries": args.entries,
        "accounts": args.accounts,
    }
    async with common.throwaway_database("autoledger_bench_reports") as (url, version):
        result["machine"] = common.machine_info(version)
        started = time.perf_counter()
        tenant_id, ledger_id = await load(url, args.entries, args.accounts)
        result["load_seconds"] = round(time.perf_counter() - started, 1)
        result["reports"] = await time_reports(url, tenant_id, ledger_id, args.repeat)
    if args.write_path:
        result["write_path"] = await write_path(args.writer_seconds)
    result["target_ms"] = 2000
    result["ok"] = all(
        result["reports"][name]["max_ms"] < 2000 and result["reports"][name]["cold_ms"] < 2000
        for name in ("trial_balance", "balance_sheet", "income_statement")
    )
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--entries", type=int, default=1_000_000)
    p.add_argument("--accounts", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--write-path", action="store_true", help="also time group commit")
    p.add_argument("--writer-seconds", type=float, default=5.0)
    return p.parse_args(argv)


def run(argv: list[str] | None = None) -> None:
    result = asyncio.run(main(parse_args(argv)))
    sys.stdout.write(json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    run()
