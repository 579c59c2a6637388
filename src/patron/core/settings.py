"""Settings from the environment (``PATRON_*``) and an optional TOML file.

Read through :func:`get_settings`, never at import time, so tests and the CLI can
change the environment first.
"""

from __future__ import annotations

import os
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _config_file() -> Path | None:
    explicit = os.environ.get("PATRON_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path.cwd() / "patron.toml"
    return local if local.exists() else None


class Settings(BaseSettings):
    """Everything Patron reads from outside the code."""

    model_config = SettingsConfigDict(env_prefix="PATRON_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default_factory=lambda: Path.cwd() / "patron-data")
    database_url: str | None = None
    timezone: str = "Asia/Shanghai"
    phone_region: str = "CN"
    currency: str = "CNY"
    default_store_code: str = "MAIN"
    host: str = "127.0.0.1"
    port: int = 8000
    import_batch_rows: int = Field(default=5000, ge=1)
    # The largest file the console's import page takes (the command line takes any size).
    import_max_mb: float = Field(default=500.0, gt=0)
    bulk_max_orders: int = Field(default=1000, ge=1)
    # SQLite page cache per connection; raise it for very large loads (the benchmark data set).
    sqlite_cache_mb: int = Field(default=64, ge=2, le=65536)

    # Sign-in and sessions
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    sign_in_max_failures: int = Field(default=5, ge=1)
    sign_in_lock_minutes: int = Field(default=15, ge=1)
    password_min_length: int = Field(default=10, ge=8)
    # argon2id cost; the defaults follow RFC 9106's second recommendation (64 MiB, 3 passes)
    argon2_memory_kib: int = Field(default=65536, ge=1024)
    argon2_time_cost: int = Field(default=3, ge=1)
    # Set when the console is served over HTTPS (directly or behind a proxy): cookies get Secure.
    secure_cookies: bool = False
    # Requests per minute: sign-in attempts per address, API calls per key or session
    sign_in_rate_per_minute: int = Field(default=20, ge=1)
    api_rate_per_minute: int = Field(default=60000, ge=1)
    max_request_mb: float = Field(default=16.0, gt=0)

    # Encryption of personal data at rest (patron.core.crypto): the keyring's JSON in
    # PATRON_ENCRYPTION_KEYS, else the key file (default <data_dir>/keys.json).
    encryption_keys: SecretStr | None = None
    key_file: Path | None = None

    # Analytics: the DuckDB store (default <data_dir>/analytics.duckdb) and the nightly run,
    # at this local time (``timezone``) in the server's background thread.
    analytics_store: Path | None = None
    analytics_nightly: bool = True
    analytics_nightly_at: time = time(2, 0)
    # Every run keeps one row per customer. With this set, after each run the rows of runs
    # older than this many days are deleted, except each month's last run and the latest
    # run; None keeps every run's rows (a chain scoring a million customers nightly adds a
    # million rows a night).
    analytics_keep_days: Annotated[int, Field(ge=1)] | None = None

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        """An ISO 4217 code whose minor unit is a hundredth (money is kept as such)."""
        from babel.numbers import get_currency_precision, list_currencies

        code = value.strip().upper()
        if code not in list_currencies():
            raise ValueError(f"unknown currency {value!r}; give an ISO 4217 code such as CNY")
        if get_currency_precision(code) != 2:
            raise ValueError(f"{code} has no cents: Patron keeps amounts in hundredths")
        return code

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = _config_file()
        if config is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        """The SQLAlchemy URL: PATRON_DATABASE_URL, or SQLite in the data directory."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{self.data_dir / 'patron.db'}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def resolved_analytics_store(self) -> Path:
        return self.analytics_store or self.data_dir / "analytics.duckdb"


def normalise_database_url(url: str) -> str:
    """Send plain ``postgresql://`` URLs through psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
