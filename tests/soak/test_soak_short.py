"""The short soak (30 s, fewer faults) end to end, as CI runs it: its own PostgreSQL, NATS,
two API servers and two workers under load and faults, then every invariant must hold."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from soak.cluster import missing_binaries

from tests.conftest import service_unavailable

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_short_soak_keeps_every_invariant_under_faults() -> None:
    missing = missing_binaries("nats")
    if missing:
        service_unavailable(f"the soak needs {', '.join(missing)}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOLEDGER_", "SOAK_"))}
    env |= {"SOAK_SECONDS": "30", "SOAK_SHORT": "1", "SOAK_CLIENTS": "6"}
    done = subprocess.run(
        [sys.executable, "-m", "soak"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.stdout.strip(), done.stderr[-4000:]
    result = json.loads(done.stdout)
    failed = {n: i for n, i in result["invariants"].items() if not i["passed"]}
    assert failed == {}, json.dumps(failed, indent=1)
    assert done.returncode == 0, done.stderr[-4000:]
    assert result["passed"]
    # The run did what it claims: load was acknowledged, each scheduled fault was injected.
    assert result["writes"]["acked"] > 50
    assert [f["fault"] for f in result["faults"]] == [
        "kill_api",
        "kill_worker",
        "restart_postgres",
        "webhook_errors",
        "stall_broker",
    ]
    assert all("error" not in f for f in result["faults"])
    assert result["invariants"]["webhooks_delivered_or_dead_lettered"]["counts"]["expected"] > 0
    # ... and the bank flows ran: statement lines imported, proposed and booked or reconciled.
    invariants = result["invariants"]
    assert invariants["statement_lines_exactly_once"]["counts"]["lines_stored"] > 0
    assert invariants["one_proposal_per_line"]["counts"]["proposals"] > 0
    assert invariants["bank_money_in_ledger_once"]["counts"]["lines_booked"] > 0
    assert invariants["reconciliation_consistent"]["counts"]["open_items"] > 0
