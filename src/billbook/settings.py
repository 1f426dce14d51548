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
    #: Per API key on the public routes, like ``600/minute`` (``N/second|minute|hour|day``); unset or
    #: ``off``: no limit. See docs/decisions/0006-rate-limiting.md.
    rate_limit: str | None = None
    #: Requests a key may send at once before the rate applies; unset: the limit's count.
    rate_limit_burst: int | None = None
    #: Redis shared by every worker for the rate limit (``redis://127.0.0.1:6379/0``); unset: each
    #: process keeps its own limit in memory.
    redis_url: str | None = None
    #: Prefix of the rate limiter's Redis keys; each key holds one time, under a hash of the key's lookup.
    rate_limit_prefix: str = "billbook:ratelimit:"
    #: When set, ``GET /metrics`` answers only ``Authorization: Bearer <this token>``.
    metrics_token: str | None = None
    #: Log lines of ``billbook serve``: ``json`` (one object per line) or ``text``.
    log_format: str = "json"
    #: One log line per request (method, path, status, duration, request id).
    access_log: bool = True


@lru_cache
def get_settings() -> Settings:
    return Settings()
