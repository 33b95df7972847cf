"""Fixtures of the interop tests: Beancount's example generator and the hledger binary."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import service_unavailable

#: bean-example is deterministic given its seed and dates; three calendar years.
EXAMPLE_SEED = 7
EXAMPLE_BEGIN, EXAMPLE_END = "2022-01-01", "2024-12-31"


@pytest.fixture(scope="session")
def bean_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A multi-year personal ledger written by Beancount's own example generator."""
    path = tmp_path_factory.mktemp("bean") / "example.beancount"
    generator = Path(sys.executable).parent / "bean-example"
    subprocess.run(
        [
            str(generator),
            "--seed",
            str(EXAMPLE_SEED),
            "--date-begin",
            EXAMPLE_BEGIN,
            "--date-end",
            EXAMPLE_END,
            "--date-birth",
            "1980-05-12",
            "--output",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return path


@pytest.fixture(scope="session")
def hledger() -> str:
    """The hledger binary (Debian package ``hledger``); skips, or fails under
    AUTOLEDGER_REQUIRE_SERVICES=1, when it is not installed."""
    found = shutil.which("hledger")
    if found is None:
        service_unavailable("hledger is not installed (apt-get install -y hledger)")
        raise AssertionError("unreachable")
    return found


def bean_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "bean-check"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def run_hledger(binary: str, *args: str) -> str:
    done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


# The CLI tests run ``autoledger`` in-process against a database of their own.
from tests.cli.conftest import cli, migrated  # noqa: E402, F401
