"""Demo company generation throughput (``make bench-demo``).

Simulates a company large enough for about ``LINES`` bank lines (default 1,000,000; the
issue's target is under 2 minutes on a 2-core machine) and writes it to a temporary
directory in ``FORMATS`` (default ``csv``). Reported: lines, seconds for the simulation, for
writing, in total, and lines/s. Progress on stderr; the last stdout line is one JSON object.
"""

import argparse
import json
import math
import os
import platform
import tempfile
import time
from pathlib import Path

from autoledger.demo.export import write_company
from autoledger.demo.simulator import simulate
from bench.common import say

#: bank lines a 12-month company has per unit of ``--scale`` (measured; used to pick scale)
LINES_PER_SCALE_YEAR = 2700


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=int(os.environ.get("LINES", 1_000_000)))
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--formats", default=os.environ.get("FORMATS", "csv"))
    args = parser.parse_args()
    scale = max(1, math.ceil(args.lines * 12 / args.months / LINES_PER_SCALE_YEAR))
    formats = args.formats.split(",")
    say("demo", f"simulating {args.months} months at scale {scale}")
    started = time.perf_counter()
    company = simulate(args.seed, args.months, scale=scale)
    simulated = time.perf_counter()
    lines = sum(len(s.lines) for s in company.statements)
    say("demo", f"{lines} lines in {simulated - started:.1f}s; writing {args.formats}")
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        files = write_company(company, Path(tmp) / "company", formats)
        written = time.perf_counter()
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    total = written - started
    print(
        json.dumps(
            {
                "bench": "demo",
                "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
                "months": args.months,
                "scale": scale,
                "formats": formats,
                "lines": lines,
                "files": len(files),
                "bytes": size,
                "simulate_seconds": round(simulated - started, 2),
                "write_seconds": round(written - simulated, 2),
                "total_seconds": round(total, 2),
                "lines_per_second": round(lines / total),
                "target_met": lines >= 1_000_000 and total < 120,
            }
        )
    )


if __name__ == "__main__":
    main()
