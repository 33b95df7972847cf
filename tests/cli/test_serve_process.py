"""``autoledger serve`` as a real process: it becomes ready, its bootstrap key works, and
SIGTERM shuts it down cleanly."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from autoledger.cli.main import DEMO_MONTHS, DEMO_SEED
from autoledger.demo.simulator import simulate
from autoledger.kit.settings import ENV_PREFIX

AUTOLEDGER = Path(sys.executable).parent / "autoledger"
KEY = re.compile(r"al_[0-9a-f]{12}_[A-Za-z0-9]{43}")
READY_WITHIN = 30.0
STOPPED_WITHIN = 20.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_ready(base_url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited early with code {process.returncode}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"serve was not ready within {READY_WITHIN} s")


@pytest.mark.slow
def test_serve_bootstraps_loads_the_demo_company_serves_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)}
    env |= {
        "AUTOLEDGER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        "AUTOLEDGER_DATA_DIR": str(tmp_path / "data"),
        "PYTHONUNBUFFERED": "1",
    }
    migrated = subprocess.run(
        [AUTOLEDGER, "migrate"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert migrated.returncode == 0, migrated.stderr

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    stdout_path, stderr_path = tmp_path / "serve.out", tmp_path / "serve.err"
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [AUTOLEDGER, "serve", "--port", str(port), "--demo"],
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        wait_until_ready(base_url, process)

        keys = KEY.findall(stdout_path.read_text())
        assert len(keys) == 1, stdout_path.read_text()
        whoami = httpx.get(
            f"{base_url}/v1/whoami", headers={"Authorization": f"Bearer {keys[0]}"}, timeout=5.0
        )
        assert whoami.status_code == 200, whoami.text
        assert whoami.json()["tenant"]["name"] == "demo"
        assert whoami.json()["roles"] == ["admin"]

        # What `make run` shows a new user: the demo company, its books and bank lines.
        deadline = time.monotonic() + 90
        while "demo.loaded" not in stderr_path.read_text():
            assert "demo.load_failed" not in stderr_path.read_text(), stderr_path.read_text()
            assert time.monotonic() < deadline, "the demo company was not loaded in time"
            time.sleep(0.5)
        company = simulate(DEMO_SEED, DEMO_MONTHS)
        headers = {"Authorization": f"Bearer {keys[0]}"}
        banks = httpx.get(f"{base_url}/v1/bank-accounts", headers=headers, timeout=5.0).json()
        assert sorted(b["name"] for b in banks) == sorted(a.name for a in company.accounts)
        lines = 0
        for bank in banks:
            cursor = None
            while True:
                page = httpx.get(
                    f"{base_url}/v1/bank-accounts/{bank['id']}/transactions",
                    params={"limit": 1000, **({"cursor": cursor} if cursor else {})},
                    headers=headers,
                    timeout=10.0,
                ).json()
                lines += len(page["data"])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
        assert lines == sum(len(s.lines) for s in company.statements)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=STOPPED_WITHIN) == 0, stderr_path.read_text()
        # The lifespan ran to its end: the engine was disposed and the stop was logged.
        assert "service.stopped" in stderr_path.read_text()
        # The key is never written to the logs.
        assert keys[0] not in stderr_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
