"""``autoledger worker``, ``events schema`` and ``dead-letters`` from the command line."""

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from autoledger.kit.clock import utcnow
from autoledger.kit.settings import ENV_PREFIX
from autoledger.platform.auth import service as auth
from autoledger.platform.events.envelope import make_event
from autoledger.platform.events.tables import DeadLetter
from tests.cli.conftest import Cli, assert_one_line_error, in_database
from tests.cli.test_serve_process import AUTOLEDGER
from tests.platform.events.support import _Ping


async def test_events_schema_writes_and_checks_the_catalog(cli: Cli, tmp_path: Path) -> None:
    target = tmp_path / "catalog.json"
    written = await cli("events", "schema", "--output", str(target))
    assert written.exit_code == 0, written.output
    assert '"ledger.entry.posted.v1"' in target.read_text()
    assert (await cli("events", "schema", "--output", str(target), "--check")).exit_code == 0
    target.write_text("{}\n")
    stale = await cli("events", "schema", "--output", str(target), "--check")
    assert_one_line_error(stale, "error: ")
    assert "out of date" in stale.output


async def test_dead_letters_list_and_replay(migrated: Cli) -> None:
    async def seed(session: object) -> tuple[uuid.UUID, uuid.UUID]:
        tenant = await auth.create_tenant(session, "acme")  # type: ignore[arg-type]
        event = make_event(
            event_type="test.ping.v1",
            tenant_id=tenant.id,
            subject="pings/1",
            data=_Ping(n=1),
            ordering_key="k",
        )
        letter = DeadLetter(
            tenant_id=tenant.id,
            consumer="test.broken",
            event_id=event.id,
            event_type=event.type,
            body=event.to_json(),
            error="RuntimeError: boom",
            attempts=8,
            status="dead",
            created_at=utcnow(),
        )
        session.add(letter)  # type: ignore[attr-defined]
        await session.commit()  # type: ignore[attr-defined]
        return letter.id, event.id

    letter_id, event_id = await in_database(migrated.settings, seed)
    listed = await migrated("dead-letters", "list", "--tenant", "acme")
    assert listed.exit_code == 0, listed.output
    assert "test.broken" in listed.output
    replayed = await migrated("dead-letters", "replay", str(letter_id))
    assert replayed.exit_code == 0, replayed.output
    assert str(event_id) in replayed.output
    again = await migrated("dead-letters", "replay", str(letter_id))
    assert_one_line_error(again, "error: events.dead_letter_replayed")
    unknown = await migrated("dead-letters", "list", "--tenant", "nobody")
    assert unknown.exit_code == 1


@pytest.mark.slow
def test_worker_runs_until_sigterm_and_exits_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env |= {
        "AUTOLEDGER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'worker.db'}",
        "AUTOLEDGER_DATA_DIR": str(tmp_path / "data"),
        "AUTOLEDGER_LOG_FORMAT": "json",
        "PYTHONUNBUFFERED": "1",
    }
    migrated = subprocess.run(
        [AUTOLEDGER, "migrate"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert migrated.returncode == 0, migrated.stderr
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen([AUTOLEDGER, "worker"], env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 30
        while "worker.started" not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, log.read_text()
        assert "worker.stopped" in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
