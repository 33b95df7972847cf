"""``autoledger accounts|entries|ledger``: the CLI talks to a real server (``autoledger serve``
in a subprocess on a temporary SQLite file) through the sync SDK."""

import json
import os
import signal
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from autoledger.cli.main import app as cli_app
from autoledger.client import Client, EntryQuery
from autoledger.demo.export import write_company
from autoledger.demo.simulator import simulate
from autoledger.kit.settings import ENV_PREFIX
from autoledger.ledger import schemas
from tests.cli.test_serve_process import AUTOLEDGER, KEY, free_port, wait_until_ready


@dataclass(frozen=True)
class Server:
    url: str
    key: str
    database: Path

    def sdk(self) -> Client:
        return Client(self.url, self.key)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``autoledger serve`` as a process (its logs stay out of the CLI's captured output)."""
    root = tmp_path_factory.mktemp("ledger-cli")
    database = root / "server.db"
    env = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)}
    env |= {
        "AUTOLEDGER_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "AUTOLEDGER_DATA_DIR": str(root / "data"),
        "PYTHONUNBUFFERED": "1",
    }
    migrated = subprocess.run(
        [AUTOLEDGER, "migrate"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    stdout_path = root / "serve.out"
    with stdout_path.open("wb") as stdout, (root / "serve.err").open("wb") as stderr:
        process = subprocess.Popen(
            [AUTOLEDGER, "serve", "--port", str(port)], env=env, stdout=stdout, stderr=stderr
        )
    try:
        wait_until_ready(url, process)
        keys = KEY.findall(stdout_path.read_text())
        assert len(keys) == 1, stdout_path.read_text()
        yield Server(url, keys[0], database)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="module")
def ledger_id(server: Server) -> str:
    with server.sdk() as sdk:
        ledger = sdk.create_ledger(
            schemas.LedgerCreate(name="CLI", base_currency="USD", chart_template="small_business")
        )
    return str(ledger.id)


def invoke(server: Server, *args: str, **env: str) -> Result:
    environment = {"AUTOLEDGER_URL": server.url, "AUTOLEDGER_API_KEY": server.key, **env}
    return CliRunner().invoke(cli_app, list(args), env=environment)


def entry_json(amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "postings": [
            {"account": "1110", "direction": "debit", "amount": amount, "asset": "USD"},
            {"account": "4100", "direction": "credit", "amount": amount, "asset": "USD"},
        ],
        **extra,
    }


def write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / f"{uuid.uuid4().hex}.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines
    return lines[0]


def test_post_one_entry(server: Server, ledger_id: str, tmp_path: Path) -> None:
    path = write(tmp_path, entry_json("10.00", description="From the CLI"))
    result = invoke(server, "entries", "post", str(path), "--ledger", ledger_id)
    assert result.exit_code == 0, result.stderr
    created = result.stdout.split()
    assert len(created) == 1
    with server.sdk() as sdk:
        got = sdk.get_entry(created[0])
    assert got.description == "From the CLI"
    assert str(got.ledger_id) == ledger_id


def test_post_a_list_is_a_batch(server: Server, ledger_id: str, tmp_path: Path) -> None:
    path = write(tmp_path, [entry_json("1.00"), entry_json("2.00")])
    result = invoke(server, "entries", "post", str(path), "--ledger", ledger_id)
    assert result.exit_code == 0, result.stderr
    ids = result.stdout.split()
    assert len(ids) == 2
    assert all(uuid.UUID(i) for i in ids)

    as_json = invoke(server, "entries", "post", str(path), "--ledger", ledger_id, "--json")
    assert as_json.exit_code == 0, as_json.stderr
    batch = json.loads(as_json.stdout)
    assert batch["created"] == 2
    assert [item["status"] for item in batch["items"]] == ["created", "created"]


def test_post_one_entry_as_json_with_a_key_is_idempotent(
    server: Server, ledger_id: str, tmp_path: Path
) -> None:
    path = write(tmp_path, entry_json("3.00"))
    args = ["entries", "post", str(path), "--ledger", ledger_id, "--json"]
    key = f"cli-{uuid.uuid4()}"
    first = invoke(server, *args, "--idempotency-key", key)
    second = invoke(server, *args, "--idempotency-key", key)
    assert first.exit_code == second.exit_code == 0, (first.stderr, second.stderr)
    assert json.loads(first.stdout) == json.loads(second.stdout)
    assert json.loads(first.stdout)["status"] == "posted"


def test_accounts_list(server: Server, ledger_id: str) -> None:
    result = invoke(server, "accounts", "list", "--ledger", ledger_id, "--json")
    assert result.exit_code == 0, result.stderr
    accounts = json.loads(result.stdout)
    codes = [a["code"] for a in accounts]
    assert "1110" in codes
    assert "4100" in codes
    assert codes == sorted(codes)
    assert all(a["ledger_id"] == ledger_id for a in accounts)

    table = invoke(server, "accounts", "list", "--ledger", ledger_id)
    assert table.exit_code == 0, table.stderr
    assert "1110" in table.stdout


def test_ledger_verify_ok(server: Server, ledger_id: str, tmp_path: Path) -> None:
    invoke(
        server, "entries", "post", str(write(tmp_path, entry_json("4.00"))), "--ledger", ledger_id
    )
    result = invoke(server, "ledger", "verify", "--ledger", ledger_id)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("ok: ")


def test_ledger_verify_names_the_broken_entry(server: Server, tmp_path: Path) -> None:
    with server.sdk() as sdk:
        ledger = sdk.create_ledger(
            schemas.LedgerCreate(
                name="Tampered", base_currency="USD", chart_template="small_business"
            )
        )
        entry = sdk.create_entry(ledger.id, schemas.EntryCreate.model_validate(entry_json("5.00")))
    with sqlite3.connect(server.database) as db:  # behind the API's back
        db.execute("DROP TRIGGER IF EXISTS postings_guard_update")
        changed = db.execute(
            "UPDATE postings SET amount = 2500, posted_amount = 2500 WHERE entry_id IN (?, ?)",
            (entry.id.hex, str(entry.id)),
        ).rowcount
    assert changed == 2
    line = one_error_line(invoke(server, "ledger", "verify", "--ledger", str(ledger.id)))
    assert line.startswith(f"error: chain broken at seq {entry.seq} (entry {entry.id}): ")


def test_invalid_json_file(server: Server, ledger_id: str, tmp_path: Path) -> None:
    path = write(tmp_path, '{"postings": [')
    line = one_error_line(invoke(server, "entries", "post", str(path), "--ledger", ledger_id))
    assert "invalid JSON" in line


def test_not_an_entry(server: Server, ledger_id: str, tmp_path: Path) -> None:
    path = write(tmp_path, [entry_json("1.00"), {"postings": []}])
    line = one_error_line(invoke(server, "entries", "post", str(path), "--ledger", ledger_id))
    assert "invalid entry: 1.postings" in line


def test_missing_file(server: Server, ledger_id: str, tmp_path: Path) -> None:
    line = one_error_line(
        invoke(server, "entries", "post", str(tmp_path / "nope.json"), "--ledger", ledger_id)
    )
    assert "cannot read" in line


def test_api_error_is_one_line(server: Server, ledger_id: str, tmp_path: Path) -> None:
    body = entry_json("1.00")
    body["postings"][1]["amount"] = "0.99"
    line = one_error_line(
        invoke(server, "entries", "post", str(write(tmp_path, body)), "--ledger", ledger_id)
    )
    assert line.startswith("error: ledger.unbalanced: ")

    missing = one_error_line(invoke(server, "ledger", "verify", "--ledger", str(uuid.uuid4())))
    assert missing.startswith("error: ledger.not_found: ") or "not_found" in missing


def test_bad_key_and_no_key(server: Server, ledger_id: str) -> None:
    line = one_error_line(
        invoke(server, "accounts", "list", "--ledger", ledger_id, AUTOLEDGER_API_KEY="al_bad")
    )
    assert line.startswith("error: auth.")
    no_key = CliRunner().invoke(
        cli_app, ["accounts", "list", "--ledger", ledger_id], env={"AUTOLEDGER_API_KEY": ""}
    )
    assert "no API key" in one_error_line(no_key)


def test_connection_refused(server: Server, ledger_id: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    line = one_error_line(invoke(server, "ledger", "verify", "--ledger", ledger_id, "--url", url))
    assert line.startswith(f"error: cannot reach {url}")


def test_demo_load_books_a_generated_company_and_is_safe_to_rerun(
    server: Server, tmp_path: Path
) -> None:
    company = simulate(seed=11, months=2)
    write_company(company, tmp_path / "acme", formats=["csv"])
    first = invoke(server, "demo", "load", str(tmp_path / "acme"))
    assert first.exit_code == 0, first.output
    again = invoke(server, "demo", "load", str(tmp_path / "acme"))
    assert again.exit_code == 0, again.output
    assert first.stdout.split(":")[0] == again.stdout.split(":")[0]  # the same ledger

    invoices = sum(
        i.amount for i in company.open_items if i.kind == "invoice" and i.currency == "USD"
    )
    ledger_id = first.stdout.split()[1].rstrip(":")
    with server.sdk() as sdk:
        entries = list(sdk.iter_entries(ledger_id, EntryQuery()))
        receivables = next(
            a.id for a in sdk.list_accounts(ledger_id, limit=500).data if a.code == "1200"
        )
    # every open item once, plus one opening entry per currency (USD and the EUR account);
    # the bookkeeping loop books bank lines of its own meanwhile (source bank_line)
    loaded = [e for e in entries if e.source.type in ("document", "system")]
    assert len(loaded) == len(company.open_items) + 2
    invoiced = sum(
        Decimal(p.amount)
        for e in loaded
        for p in e.postings
        if p.account_id == receivables and p.direction == "debit" and p.asset == "USD"
    )
    assert invoiced == Decimal(invoices) / 100

    # Every bank line once: the overlapping days between monthly files are duplicates (a
    # re-run replays the same imports under their idempotency keys).
    with server.sdk() as sdk:
        banks = {b.name: b for b in sdk.list_bank_accounts() if b.ledger_id == uuid.UUID(ledger_id)}
        for account in company.accounts:
            truth = sorted(
                (line.booking_date, line.amount)
                for statement in company.statements
                if statement.account.id == account.id
                for line in statement.lines
            )
            scale = 10 ** (0 if account.currency == "JPY" else 2)
            stored = sorted(
                (line.booking_date, round(Decimal(line.amount) * scale))
                for line in sdk.iter_bank_transactions(banks[account.name].id)
            )
            assert stored == truth, account.id

    broken = invoke(server, "demo", "load", str(tmp_path / "missing"))
    assert broken.exit_code == 1
    assert broken.output.startswith("error: ")
