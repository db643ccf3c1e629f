"""The one Settings object. Nothing else in rostersync reads the environment.

Every setting can be given as an environment variable prefixed `ROSTERSYNC_` (or in a `.env` file):
`ROSTERSYNC_DATABASE_URL`, `ROSTERSYNC_SECRET_KEYS`, … Secrets have no defaults outside development.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rostersync.errors import ConfigError


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

    path = data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
