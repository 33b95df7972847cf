"""Settings come from ``AUTOLEDGER_*`` variables; a bad value fails with one line naming it."""

import os
from pathlib import Path

import pytest

from autoledger.kit.errors import ConfigurationError
from autoledger.kit.settings import ENV_PREFIX, Settings, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start every test from no autoledger configuration at all (CI sets some)."""
    for name in os.environ:
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


def test_defaults_run_embedded_on_a_local_sqlite_file() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///./var/autoledger.db"
    assert settings.is_sqlite
    assert settings.data_dir == Path("./var")
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.workers == 1
    assert settings.bus == "inprocess"
    assert settings.log_level == "info"
    assert settings.log_format == "json"
    assert settings.otlp_endpoint is None
    assert settings.require_services is False


def test_settings_are_read_from_prefixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOLEDGER_PORT", "9001")
    monkeypatch.setenv("AUTOLEDGER_LOG_LEVEL", "debug")
    monkeypatch.setenv("AUTOLEDGER_DATA_DIR", "/srv/autoledger")
    monkeypatch.setenv("AUTOLEDGER_REQUIRE_SERVICES", "1")
    settings = load_settings()
    assert settings.port == 9001
    assert settings.log_level == "debug"
    assert settings.data_dir == Path("/srv/autoledger")
    assert settings.require_services is True


def test_unprefixed_variables_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/db")
    settings = load_settings()
    assert settings.port == 8000
    assert settings.is_sqlite


def test_explicit_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOLEDGER_PORT", "9001")
    assert load_settings(port=9002).port == 9002


def test_settings_are_immutable() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("given", "normalized"),
    [
        ("postgres://u:p@db:5432/ledger", "postgresql+asyncpg://u:p@db:5432/ledger"),
        ("postgresql://u@db/ledger", "postgresql+asyncpg://u@db/ledger"),
        ("postgresql+asyncpg://u@db/ledger", "postgresql+asyncpg://u@db/ledger"),
        ("sqlite:///data/ledger.db", "sqlite+aiosqlite:///data/ledger.db"),
        ("sqlite+aiosqlite:///data/ledger.db", "sqlite+aiosqlite:///data/ledger.db"),
    ],
)
def test_database_urls_are_normalized_to_async_drivers(
    monkeypatch: pytest.MonkeyPatch, given: str, normalized: str
) -> None:
    monkeypatch.setenv("AUTOLEDGER_DATABASE_URL", given)
    settings = load_settings()
    assert settings.database_url == normalized
    assert settings.is_sqlite is normalized.startswith("sqlite")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AUTOLEDGER_PORT", "abc"),
        ("AUTOLEDGER_PORT", "70000"),
        ("AUTOLEDGER_DATABASE_URL", "mysql://x"),
        ("AUTOLEDGER_DATABASE_URL", "postgresql+psycopg://u@db/ledger"),
        ("AUTOLEDGER_LOG_LEVEL", "loud"),
        ("AUTOLEDGER_WORKERS", "0"),
        ("AUTOLEDGER_API_KEY_CACHE_SECONDS", "-1"),
    ],
)
def test_an_invalid_value_is_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert caught.value.setting == variable
    assert message.startswith(f"invalid setting {variable}: ")
    assert "\n" not in message
    assert len(message) < 200


def test_an_invalid_database_url_does_not_echo_its_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTOLEDGER_DATABASE_URL", "mysql://ledger:hunter2@db/ledger")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)


def test_settings_built_in_code_validate_too() -> None:
    with pytest.raises(ValueError, match="database_url"):
        Settings(database_url="mysql://x")
