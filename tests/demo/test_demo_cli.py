"""``autoledger demo generate``: the files a user gets, byte for byte reproducible."""

import csv
import hashlib
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoledger.cli.demo_commands import demo

from .camt_schema import assert_camt053_valid

runner = CliRunner()


def _generate(out: Path, *args: str) -> None:
    result = runner.invoke(demo, ["generate", "--out", str(out), *args])
    assert result.exit_code == 0, result.output


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "company"
    _generate(out, "--seed", "4", "--months", "3", "--formats", "csv")
    return out


def test_same_seed_gives_byte_identical_files_in_every_format(tmp_path: Path) -> None:
    _generate(tmp_path / "a", "--seed", "8", "--months", "2")
    _generate(tmp_path / "b", "--seed", "8", "--months", "2")
    _generate(tmp_path / "c", "--seed", "9", "--months", "2")
    first = _tree(tmp_path / "a")
    assert first == _tree(tmp_path / "b")
    assert first != _tree(tmp_path / "c")
    extensions = {name.rsplit(".", 1)[1] for name in first if name.startswith("statements/")}
    assert extensions == {"csv", "ofx", "xml", "mt940"}
    for name, data in first.items():
        if name.endswith(".xml"):
            assert_camt053_valid(data)


def test_layout_and_manifest(generated: Path) -> None:
    files = _tree(generated)
    for name in (
        "company.json",
        "open_items.jsonl",
        "ground_truth.jsonl",
        "balances.jsonl",
        "README.txt",
        "MANIFEST.sha256",
    ):
        assert name in files
    assert "statements/operating/2025-03.csv" in files
    manifest = dict(
        reversed(line.split("  ", 1)) for line in files["MANIFEST.sha256"].decode().splitlines()
    )
    assert set(manifest) == set(files) - {"MANIFEST.sha256"}
    for name, digest in manifest.items():
        assert hashlib.sha256(files[name]).hexdigest() == digest


def _csv_rows(path: Path, layout: str) -> list[tuple[int, int]]:
    """(amount, running balance) of each row, in minor units."""

    def minor(text: str) -> int:
        return int(Decimal(text.replace(",", ".")) * 100)

    if layout == "european":
        rows = csv.DictReader(io.StringIO(path.read_bytes().decode("cp1252")), delimiter=";")
        return [(minor(r["Betrag"]), minor(r["Saldo"])) for r in rows]
    rows = csv.DictReader(io.StringIO(path.read_text("utf-8")))
    if layout == "signed":
        return [(minor(r["Amount"]), minor(r["Balance"])) for r in rows]
    return [
        (minor(r["Credit"]) if r["Credit"] else -minor(r["Debit"]), minor(r["Balance"]))
        for r in rows
    ]


def test_csv_balances_agree_with_the_true_balances(generated: Path) -> None:
    company = json.loads((generated / "company.json").read_text())
    layouts = {a["id"]: a["csv_layout"] for a in company["bank_accounts"]}
    truth = _jsonl(generated / "ground_truth.jsonl")
    lines = [r for r in truth if r["type"] == "line"]
    duplicates = [r for r in truth if r["type"] == "duplicate"]
    assert duplicates
    for balance in _jsonl(generated / "balances.jsonl"):
        account, month = str(balance["account"]), str(balance["month"])
        rows = _csv_rows(generated / "statements" / account / f"{month}.csv", layouts[account])
        own = [r for r in lines if r["account"] == account and r["statement"] == month]
        repeated = [r for r in duplicates if r["account"] == account and r["statement"] == month]
        assert len(rows) == len(own) + len(repeated)
        assert [a for a, _ in rows[len(repeated) :]] == [r["amount"] for r in own]
        if rows:
            assert rows[-1][1] == balance["closing_balance"]
        if own:
            first = rows[len(repeated)]
            assert first[1] - first[0] == balance["opening_balance"]


def test_ground_truth_covers_every_line_with_chart_accounts(generated: Path) -> None:
    truth = _jsonl(generated / "ground_truth.jsonl")
    items = {i["id"] for i in _jsonl(generated / "open_items.jsonl")}
    lines = [r for r in truth if r["type"] == "line"]
    assert len(lines) > 500
    for record in lines:
        matches = record["matches"]
        assert isinstance(matches, list)
        assert sum(m["amount"] for m in matches) == record["amount"]
        for m in matches:
            assert m["kind"] not in ("invoice", "bill") or m["id"] in items
        if any(m["kind"] == "writeoff" for m in matches):
            assert {m["kind"] for m in matches} in ({"invoice", "writeoff"}, {"bill", "writeoff"})
    writeoffs = {m["id"] for r in lines for m in r["matches"] if m["kind"] == "writeoff"}
    assert writeoffs
    assert writeoffs <= {"bank_fee", "discount", "fx_difference", "rounding"}
    where = {(r["line_id"], r["statement"]) for r in lines}
    for record in truth:
        if record["type"] == "duplicate":
            original = record["duplicate_of"]
            assert isinstance(original, dict)
            assert (original["line_id"], original["statement"]) in where
            assert original["statement"] < str(record["statement"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--formats", "csv,pdf"], "unknown format(s) pdf"),
        (["--currency", "JPY"], "currency must be one of USD, EUR, GBP"),
        (["--months", "0"], "--months and --scale must be at least 1"),
    ],
)
def test_bad_options_fail_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(demo, ["generate", "--out", str(tmp_path / "x"), *args])
    assert result.exit_code == 1
    assert message in result.output
    assert not (tmp_path / "x").exists()


def test_a_non_empty_directory_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = runner.invoke(demo, ["generate", "--out", str(tmp_path), "--months", "1"])
    assert result.exit_code == 1
    assert "is not an empty directory" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_eur_company_uses_the_european_layout(tmp_path: Path) -> None:
    _generate(tmp_path / "eur", "--currency", "eur", "--months", "1", "--formats", "csv")
    data = (tmp_path / "eur" / "statements" / "operating" / "2025-01.csv").read_bytes()
    header = data.decode("cp1252").splitlines()[0]
    assert header.startswith("Buchungstag;Valuta;")
    company = json.loads((tmp_path / "eur" / "company.json").read_text())
    assert company["currency"] == "EUR"
