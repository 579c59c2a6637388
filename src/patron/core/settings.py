"""Settings from the environment (``PATRON_*``) and an optional TOML file.

Read through :func:`get_settings`, never at import time, so tests and the CLI can
change the environment first.
"""

from __future__ import annotations

import os
from datetime import time
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

MessageChannel = Literal["email", "sms", "wechat"]


class MessageCap(BaseModel):
    """At most ``limit`` marketing messages to one customer over ``days`` calendar days in the
    customer's zone (today and the days before), on ``channel`` or on every channel."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(ge=0)
    days: int = Field(ge=1, le=366)
    channel: MessageChannel | None = None


class QuietHours(BaseModel):
    """No marketing message on ``channel`` (every channel when None) from ``start`` to
    ``end`` local time; ``start`` after ``end`` spans midnight."""

    model_config = ConfigDict(extra="forbid")

    start: time
    end: time
    channel: MessageChannel | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


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
    # Look-ups of a customer or member by phone or card, per store-bound key or session
    lookup_rate_per_minute: int = Field(default=600, ge=1)
    max_request_mb: float = Field(default=16.0, gt=0)
    # Addresses (or networks, CIDR) of the reverse proxies in front of Patron: only a request
    # arriving from one of them has its X-Forwarded-For read, for the caller's address (the
    # sign-in rate limit, the audit log). None by default: the connection's address is it.
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()

    # Encryption of personal data at rest (patron.core.crypto): the keyring's JSON in
    # PATRON_ENCRYPTION_KEYS, else the key file (default <data_dir>/keys.json).
    encryption_keys: SecretStr | None = None
    key_file: Path | None = None

    # Analytics: the DuckDB store (default <data_dir>/analytics.duckdb) and the nightly run,
    # at this local time (``timezone``) in the server's background thread.
    analytics_store: Path | None = None
    analytics_nightly: bool = True
    analytics_nightly_at: time = time(2, 0)
    # ``patron nightly``, ``patron import`` and ``patron analytics`` run at this nice value
    # (0: as started), so on a machine shared with the server the tills come first.
    batch_nice: int = Field(default=10, ge=0, le=19)
    # Every run keeps one row per customer. With this set, after each run the rows of runs
    # older than this many days are deleted, except each month's last run and the latest
    # run; None keeps every run's rows (a chain scoring a million customers nightly adds a
    # million rows a night).
    analytics_keep_days: Annotated[int, Field(ge=1)] | None = None
    # ``--engine spark``: the master (``spark://host:7077`` for a standalone cluster) and the
    # directory, on a path every Spark worker can read, where a run leaves the store's tables
    # as Parquet for the cluster (default: beside the store). See docs/operations.md.
    spark_master: str = "local[2]"
    spark_shared_dir: Path | None = None

    # Privacy: a data-subject request is due this many working days (the chain's business
    # calendar, public holidays and adjusted working days included) after it is received;
    # reminders list open requests due within ``privacy_remind_days`` calendar days.
    privacy_request_working_days: int = Field(default=15, ge=1, le=90)
    privacy_remind_days: int = Field(default=3, ge=0, le=30)

    # Messages (patron.engagement). Each channel's adapter; "file" writes every message to
    # <data_dir>/outbox (or ``outbox_dir``) and sends nothing, so nothing leaves by accident.
    email_channel: Literal["file", "smtp"] = "file"
    sms_channel: Literal["file", "aliyun", "tencent", "webhook"] = "file"
    wechat_channel: Literal["file", "wechat"] = "file"
    outbox_dir: Path | None = None
    # Links in messages (one-click unsubscribe) start with this address of the server.
    public_url: str = "http://127.0.0.1:8000"
    # E-mail over SMTP: "starttls" upgrades a plain connection (port 587), "tls" connects
    # over TLS (port 465). ``smtp_ca_file`` trusts a private CA besides the system's.
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_ca_file: Path | None = None
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    email_from: str = "Patron <noreply@localhost>"
    # Bounces come back to ``bounces+<message token>@domain`` when this is "bounces@domain".
    email_bounce_address: str | None = None
    unsubscribe_mailto: str | None = None
    # SMS through Aliyun (Dysms), Tencent Cloud or any HTTP endpoint (signed like a webhook).
    aliyun_sms_endpoint: str = "https://dysmsapi.aliyuncs.com"
    aliyun_access_key_id: str | None = None
    aliyun_access_key_secret: SecretStr | None = None
    aliyun_sms_sign_name: str | None = None
    tencent_sms_endpoint: str = "https://sms.tencentcloudapi.com"
    tencent_sms_region: str = "ap-guangzhou"
    tencent_secret_id: str | None = None
    tencent_secret_key: SecretStr | None = None
    tencent_sms_app_id: str | None = None
    tencent_sms_sign_name: str | None = None
    sms_webhook_url: str | None = None
    sms_webhook_secret: SecretStr | None = None
    # SMS replies ("回复TD退订") come to /hooks/sms/<this>/aliyun or …/replies; unset, refused.
    sms_inbound_token: SecretStr | None = None
    # The privacy notice in force, recorded with each consent given through Patron's screens.
    consent_notice_version: str = "1"
    # Campaigns need a chain manager's approval before they send.
    campaign_approval: bool = True
    # ``patron serve`` sends scheduled campaigns whose time has come (one process of several,
    # by a leader lock), looking every ``campaign_poll_s`` seconds; false: cron runs
    # ``patron campaigns send-due``.
    campaign_scheduler: bool = True
    campaign_poll_s: float = Field(default=30.0, gt=0)
    # WeChat: template messages of an official account, or subscribe messages of a
    # mini-program, to the customer's openid under ``wechat_app_id``.
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_app_id: str | None = None
    wechat_app_secret: SecretStr | None = None
    wechat_message_kind: Literal["template", "subscribe"] = "template"
    # Dispatch: "embedded" runs it in a thread of ``patron serve``; "queue" leaves it to
    # ``patron worker`` processes (PostgreSQL); "off" sends nothing.
    dispatch: Literal["embedded", "queue", "off"] = "embedded"
    dispatch_batch: int = Field(default=50, ge=1, le=1000)
    dispatch_threads: int = Field(default=4, ge=1, le=64)
    dispatch_poll_s: float = Field(default=1.0, gt=0)
    # Journeys' scheduler (docs/journeys.md): inside ``patron serve`` ("embedded"), or
    # ``patron journeys run`` from cron or the job queue ("queue"), or not at all ("off").
    journeys: Literal["embedded", "queue", "off"] = "embedded"
    journeys_poll_s: float = Field(default=60.0, gt=0)
    dispatch_max_attempts: int = Field(default=6, ge=1)
    dispatch_retry_base_s: float = Field(default=30.0, gt=0)
    dispatch_retry_max_s: float = Field(default=3600.0, gt=0)
    # A claim not finished in this time is taken back (its worker was killed).
    dispatch_lease_s: float = Field(default=120.0, gt=0)
    # A message not sent within this time of being due is skipped, never sent late.
    message_max_lateness_hours: float = Field(default=24.0, gt=0)
    # Messages per second per provider (smtp, aliyun, tencent, webhook, wechat, file);
    # a provider left out is not limited.
    provider_rates: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: {
            "smtp": 20.0,
            "aliyun": 100.0,
            "tencent": 100.0,
            "webhook": 100.0,
            "wechat": 100.0,
        }
    )
    message_caps: list[MessageCap] = Field(
        default_factory=lambda: [
            MessageCap(limit=2, days=7),
            MessageCap(limit=1, days=1, channel="sms"),
        ]
    )
    quiet_hours: list[QuietHours] = Field(
        default_factory=lambda: [QuietHours(start=time(21, 0), end=time(8, 0), channel="sms")]
    )
    # Events (docs/events.md): behaviour and domain events older than this many days move
    # from the operational database to the analytics store in the nightly run.
    events_keep_days: int = Field(default=90, ge=1)
    # Outgoing webhooks: how long one request may take, how long a claimed delivery is held,
    # and whether http:// endpoints and private addresses (127.0.0.1, 10.x …) may be called —
    # for a receiver on the same machine, and the tests (None: only when PATRON_ENV=test).
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    webhook_lease_s: float = Field(default=120.0, gt=0)
    webhook_allow_private: bool | None = None

    # The job queue of ``patron worker`` (Procrastinate): its PostgreSQL database (default:
    # the operational one) and the schema that holds its tables.
    queue_url: str | None = None
    queue_schema: str = Field(default="patron_queue", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    queue_name: str = Field(default="patron_messages", pattern=r"^[A-Za-z0-9_.-]{1,100}$")

    # Operations (docs/operations.md): /metrics answers only a request carrying this token
    # (``Authorization: Bearer …``; unset: /metrics is refused); logs as JSON lines.
    metrics_token: SecretStr | None = None
    log_format: Literal["text", "json"] = "text"

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> object:
        """A comma-separated list (environment) or a list (TOML) of addresses or networks."""
        if value is None:
            return ()
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ValueError("give addresses or networks, separated by commas")
        networks = []
        for item in items:
            text = str(item).strip()
            if not text:
                continue
            try:
                networks.append(ip_network(text, strict=False))
            except ValueError:
                raise ValueError(f"{text!r} is not an IP address or network") from None
        return tuple(networks)

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

    @property
    def webhooks_may_call_private(self) -> bool:
        if self.webhook_allow_private is None:
            return self.env == "test"
        return self.webhook_allow_private

    @property
    def resolved_outbox_dir(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"


def normalise_database_url(url: str) -> str:
    """Send plain ``postgresql://`` URLs through psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
