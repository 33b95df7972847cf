"""The one configuration object, read once from ``AUTOLEDGER_*`` variables and passed down."""

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from autoledger.kit.errors import ConfigurationError

ENV_PREFIX = "AUTOLEDGER_"

_DRIVER_ALIASES = {
    "sqlite://": "sqlite+aiosqlite://",
    "postgresql://": "postgresql+asyncpg://",
    "postgres://": "postgresql+asyncpg://",
}
_SUPPORTED_DRIVERS = ("sqlite+aiosqlite://", "postgresql+asyncpg://")


class Settings(BaseSettings):
    """Every knob of an autoledger process. Invalid values fail at start, naming the setting."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    database_url: str = "sqlite+aiosqlite:///./var/autoledger.db"
    # The schema owner, for migrations and cross-tenant system work (relay, consumers,
    # authentication lookups); ``database_url`` is then the row-level-security role of the
    # request path. Unset: one URL for both (ADR 0009).
    system_database_url: str | None = None
    data_dir: Path = Path("./var")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)

    bus: Literal["inprocess", "nats", "pubsub"] = "inprocess"
    # Envelope encryption (ADR 0006): the key-encryption key's provider.
    key_provider: Literal["local", "gcp-kms"] = "local"
    local_kek_path: Path | None = None  # default: <data_dir>/kek.key, created 0600
    kms_key_name: str | None = None  # projects/P/locations/L/keyRings/R/cryptoKeys/K
    kms_endpoint: str | None = None  # host:port of a KMS-compatible endpoint (tests)

    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"
    otlp_endpoint: str | None = None
    service_name: str = "autoledger"

    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Statement imports (ADR 0010): the largest file (also once decompressed), the size up
    # to which the request itself imports it (larger ones go to a worker: 202), and where
    # original files are kept (default <data_dir>/objects).
    import_max_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    import_inline_max_bytes: int = Field(default=2 * 1024 * 1024, ge=0)
    object_store_dir: Path | None = None
    max_page_size: int = Field(default=500, ge=1, le=10_000)
    api_key_cache_seconds: float = Field(default=5.0, ge=0)

    idempotency_retention_hours: int = Field(default=24, ge=24, le=24 * 90)
    idempotency_lease_seconds: int = Field(default=60, ge=1, le=3600)
    writer_max_group: int = Field(default=512, ge=1, le=10_000)
    writer_max_queue: int = Field(default=20_000, ge=1)
    pending_expiry_interval_seconds: float = Field(default=5.0, gt=0)

    # Event backbone (ADR 0005). The namespace prefixes every stream, subject, topic and
    # subscription, so several deployments (or test runs) can share one broker.
    bus_namespace: str = Field(default="autoledger", pattern=r"^[a-z][a-z0-9_-]{0,40}$")
    nats_url: str = "nats://127.0.0.1:4222"
    nats_dedup_window_seconds: float = Field(default=120.0, gt=0)
    pubsub_project: str = Field(default="autoledger-local", min_length=6, max_length=30)
    pubsub_emulator_host: str | None = None
    embedded_worker: bool = True
    # The in-process bus keeps deliveries in memory: on start, events published this recently
    # are delivered again (consumers' inbox drops the ones they had applied).
    inprocess_redeliver_seconds: float = Field(default=300.0, ge=0)
    relay_batch_size: int = Field(default=1000, ge=1, le=10_000)
    relay_idle_seconds: float = Field(default=0.05, gt=0)
    relay_lease_seconds: float = Field(default=30.0, gt=0)
    consumer_max_attempts: int = Field(default=8, ge=1, le=100)
    consumer_backoff_base_seconds: float = Field(default=1.0, gt=0)
    consumer_backoff_max_seconds: float = Field(default=300.0, gt=0)
    consumer_prefetch: int = Field(default=64, ge=1, le=10_000)
    consumer_ack_wait_seconds: float = Field(default=30.0, gt=0)
    outbox_max_lag: int = Field(default=100_000, ge=1)
    outbox_retention_hours: int = Field(default=24, ge=1)
    inbox_retention_hours: int = Field(default=24 * 7, ge=1)
    webhook_allow_private_targets: bool = False
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_concurrency: int = Field(default=16, ge=1, le=1000)
    webhook_retry_hours: float = Field(default=24.0, gt=0)
    webhook_disable_after_hours: float = Field(default=24.0, gt=0)

    # Abuse limits (ADR 0007): per-key token bucket, in Redis when a URL is set.
    redis_url: str | None = None
    rate_limit_per_second: float = Field(default=200.0, gt=0)
    rate_limit_burst: int = Field(default=400, ge=1)
    json_max_depth: int = Field(default=32, ge=2, le=1000)
    request_timeout_seconds: float = Field(default=30.0, gt=0)
    db_statement_timeout_seconds: float = Field(default=30.0, gt=0)
    cors_origins: list[str] = Field(default_factory=list)

    bootstrap_tenant: str = "demo"
    require_services: bool = False

    @field_validator("database_url", "system_database_url")
    @classmethod
    def _normalize_database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for alias, driver in _DRIVER_ALIASES.items():
            if value.startswith(alias):
                value = driver + value[len(alias) :]
        if not value.startswith(_SUPPORTED_DRIVERS):
            raise ValueError(
                "must be sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST/DB"
            )
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Read the environment once; turn a validation failure into one line naming the setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ENV_PREFIX + ".".join(str(part) for part in first["loc"]).upper()
        raise ConfigurationError(name, first["msg"]) from None
