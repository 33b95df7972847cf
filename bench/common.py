"""What every benchmark shares: the machine it ran on and a throw-away PostgreSQL database."""

import os
import platform
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg


def say(bench: str, message: str) -> None:
    print(f"[{bench} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine_info(pg_version: str) -> dict[str, Any]:
    model = platform.processor() or "unknown"
    mem_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "postgresql": pg_version,
    }


@asynccontextmanager
async def throwaway_database(prefix: str) -> AsyncIterator[tuple[str, str]]:
    """A fresh database on ``BENCH_PG`` (default postgres@127.0.0.1:5432), dropped after;
    yields its SQLAlchemy URL and the server version."""
    base = os.environ.get("BENCH_PG", "postgres@127.0.0.1:5432")
    admin_dsn = f"postgresql://{base}/postgres"
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        version = str(await conn.fetchval("show server_version"))
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield f"postgresql+asyncpg://{base}/{name}", version
    finally:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]
