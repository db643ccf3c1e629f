"""The one Settings object. Nothing else in rostersync reads the environment.

Every setting can be given as an environment variable prefixed `ROSTERSYNC_` (or in a `.env` file):
`ROSTERSYNC_DATABASE_URL`, `ROSTERSYNC_SECRET_KEYS`, … Secrets have no defaults outside development.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rostersync.errors import ConfigError
from rostersync.oneroster.outbound import OutboundPolicy


class Settings(BaseSettings):
    """rostersync's configuration, validated once at start-up."""

    model_config = SettingsConfigDict(env_prefix="ROSTERSYNC_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("var")
    # SQLite (WAL) by default; postgresql+psycopg://user@host/db at scale.
    database_url: str = ""
    # Comma-separated Fernet keys: the first encrypts, all decrypt (rotation).
    # Development makes one in data_dir; production refuses to start without them.
    secret_keys: str = Field(default="", repr=False)
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    page_size: int = 1000
    http_timeout_seconds: float = 30.0
    http_max_retries: int = 5
    # The most data rows one staff import spreadsheet may hold (rostersync.importing).
    import_max_rows: int = 5000
    # The largest staff import file (CSV or XLSX) a page or API upload may send; bigger is a 413,
    # refused while it streams (web/upload_stream.py). 5,000 rows of CSV are about 1 MB.
    max_import_bytes: int = Field(default=5 * 1024 * 1024, ge=1)
    # The largest OneRoster bundle (the zip) a district may push; bigger ones get a 413.
    push_max_bundle_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    # OneRoster bundles, pushed or synced from a file (decisions 0021 and 0022): the most entries
    # a zip may hold and the longest row, both checked before parsing; how many days an accepted
    # pushed bundle is kept (encrypted with the secret keys) before it is deleted.
    bundle_max_members: int = Field(default=50, ge=2)
    bundle_max_line_chars: int = Field(default=1024 * 1024, ge=1024)
    pushed_bundle_retention_days: int = Field(default=30, ge=1)
    # A bundle's classes and users rows the portal holds unchanged are known so from their hash,
    # not read into records (decision 0046). False reads every row, as a check.
    skip_unchanged_rows: bool = True
    # Signing in with ClassLink (OpenID Connect); see docs/decisions/0008-sign-in.md.
    classlink_issuer: str = "https://launchpad.classlink.com"
    classlink_client_id: str = ""
    classlink_client_secret: str = Field(default="", repr=False)
    classlink_userinfo_url: str = "https://nodeapi.classlink.com/v2/my/info"
    # The ClassLink OneRoster proxy and the vendor's partner key for it: vendor settings only,
    # never stored per district; a proxy district gives only its tenant id (decision 0018).
    classlink_proxy_url: str = "https://oneroster-proxy.classlink.io"
    classlink_partner_key: str = Field(default="", repr=False)
    # Clever's Secure Sync app: its client id and secret read every district that shares with
    # it (vendor settings only; a Clever district gives only its Clever district id).
    clever_client_id: str = ""
    clever_client_secret: str = Field(default="", repr=False)
    clever_api_url: str = "https://api.clever.com"
    clever_oauth_url: str = "https://clever.com"
    # Where roster requests may go (decision 0019): private, loopback and link-local addresses,
    # and plain http, are refused in production and allowed in development; set either to
    # override.
    outbound_allow_private: bool | None = None
    outbound_require_https: bool | None = None
    sso_timeout_seconds: float = 10.0
    # The portal's public address; the OIDC redirect URI is built from it, never from `Host`.
    portal_base_url: str = "http://127.0.0.1:8000"
    # Off only for plain-http loopback tests and demos: browsers and httpx drop Secure cookies.
    session_cookie_secure: bool = True
    session_max_age_seconds: int = 12 * 3600
    # Jobs (docs/decisions/0007-job-queue.md): a SQLite file in data_dir, or Redis at scale.
    queue_backend: Literal["sqlite", "redis"] = "sqlite"
    redis_url: str = Field(default="redis://127.0.0.1:6379/0", repr=False)
    queue_name: str = "rostersync"
    # A claimed sync slot whose worker stops renewing it for this long is taken to be dead.
    job_lease_seconds: int = Field(default=300, ge=2)
    job_max_retries: int = Field(default=3, ge=0)
    job_retry_delay_seconds: float = Field(default=60.0, ge=0)
    quarantine_after_failures: int = Field(default=3, ge=1)
    # Comma-separated vendor addresses told when a district is quarantined.
    vendor_alert_emails: str = ""
    # Notifications: .eml files in an outbox folder (no server) by default, SMTP in production.
    mail_backend: Literal["outbox", "smtp"] = "outbox"
    outbox_dir: Path | None = None
    mail_from: str = "rostersync@localhost"
    smtp_host: str = "localhost"
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = Field(default="", repr=False)
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = 30.0
    mail_send_attempts: int = Field(default=3, ge=1)
    mail_retry_delay_seconds: float = Field(default=2.0, ge=0)
    stale_after_days: int = Field(default=14, ge=1)
    # Staff sign-in guards (docs/decisions/0023-rate-limits-and-refusal-references.md): failed
    # tries allowed per client address and per account, for each of sign-in, invitations and
    # two-step codes ("N per M minutes"); where the counts live (empty: Redis when the queue is
    # on Redis, else memory); how long five wrong passwords lock an account (tries during a lock
    # never extend it); whether /metrics answers requests from this machine as well as vendor staff.
    rate_limit_per_address: str = "30 per 10 minutes"
    rate_limit_per_account: str = "10 per 1 hour"
    rate_limit_storage_url: str = Field(default="", repr=False)
    staff_lockout_seconds: int = Field(default=15 * 60, ge=1)
    # Staff passwords are hashed with argon2id at these costs: by default the RFC 9106 second
    # recommendation (3 passes over 64 MiB, 4 lanes), argon2-cffi's own. Raising them rehashes each
    # password at its next sign-in; lowering them is for test machines only (docs/security.md).
    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=64 * 1024, ge=8)
    password_hash_parallelism: int = Field(default=4, ge=1)
    metrics_from_loopback: bool = True
    # Roster requests (decision 0029): every worker pulling for any district draws from one
    # budget per roster-server host, counted where the sign-in budgets are (empty: Redis when the
    # queue is on Redis, else this process); the longest one request waits for its turn or for
    # the host's `Retry-After` before the run fails as a rate limit (retried later).
    roster_requests_per_second: float = Field(default=50.0, gt=0)
    roster_budget_max_wait_seconds: float = Field(default=300.0, gt=0)
    # Comma-separated domains whose hosts share one budget, e.g. "rosterserver.com" when the
    # vendor's limit spans every tenant's roster server (empty: one budget per host).
    roster_budget_shared_domains: str = ""
    # Requests one district's REST pull has in flight at once (decision 0032): a collection whose
    # first page gives a total has its other pages fetched side by side, within the budget above.
    roster_page_concurrency: int = Field(default=4, ge=1, le=32)

    @field_validator("rate_limit_per_address", "rate_limit_per_account")
    @classmethod
    def _rate_limit_readable(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate limit; write it as tries per period, for example "
                "'30 per 10 minutes' or '10 per 1 hour'"
            ) from None
        return value

    @property
    def outbound_policy(self) -> OutboundPolicy:
        """What roster requests may reach: strict in production, open in development."""
        production = self.environment == "production"
        return OutboundPolicy(
            allow_private=(
                not production
                if self.outbound_allow_private is None
                else self.outbound_allow_private
            ),
            require_https=(
                production if self.outbound_require_https is None else self.outbound_require_https
            ),
        )

    @property
    def resolved_outbox_dir(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"

    @property
    def vendor_alert_addresses(self) -> list[str]:
        return [a.strip() for a in self.vendor_alert_emails.split(",") if a.strip()]

    @model_validator(mode="after")
    def _password_memory_covers_its_lanes(self) -> Settings:
        if self.password_hash_memory_kib < 8 * self.password_hash_parallelism:
            raise ValueError(
                "password_hash_memory_kib must be at least 8 KiB per lane "
                f"({8 * self.password_hash_parallelism} for {self.password_hash_parallelism} lanes)"
            )
        return self

    @field_validator("page_size")
    @classmethod
    def _page_size_in_range(cls, value: int) -> int:
        if not 1 <= value <= 10000:
            raise ValueError("page_size must be between 1 and 10000")
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'rostersync.db'}"

    def encryption_keys(self) -> list[str]:
        """The Fernet keys, newest first. In development a key file is created on first use."""
        keys = [k.strip() for k in self.secret_keys.split(",") if k.strip()]
        if keys:
            return keys
        if self.environment == "production":
            raise ConfigError(
                "ROSTERSYNC_SECRET_KEYS is not set. Generate a key with "
                "`rostersync keys generate` and set it before starting in production."
            )
        return [_development_key(self.data_dir)]


def _development_key(data_dir: Path) -> str:
    from cryptography.fernet import Fernet

    from rostersync.store.private_files import private_dir

    path = data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    private_dir(data_dir)
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
