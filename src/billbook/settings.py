"""All server settings in one place, read from ``BILLBOOK_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BILLBOOK_", extra="ignore")

    #: SQLAlchemy URL without a driver: ``sqlite:///billbook.db`` or ``postgresql://user@host/db``.
    database_url: str = "sqlite:///billbook.db"
    #: Token for the internal routes; when unset, one is made on first start and kept hashed.
    admin_token: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    #: Connections per process in the PostgreSQL pool.
    pool_size: int = 20
    #: Request bodies larger than this are refused with 413.
    max_body_bytes: int = 1_048_576


@lru_cache
def get_settings() -> Settings:
    return Settings()
