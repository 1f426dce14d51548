"""All server settings in one place, read from ``BILLBOOK_*`` environment variables.

Every format is checked here, when the settings are read, so a bad value stops ``billbook serve``
(and every operator command) before anything starts, with one line naming the variable. Command
line options override the environment through ``load_settings``, and ``billbook serve`` hands the
result to its worker processes through the environment (``as_environment``): one path for every
setting, whichever process reads it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "BILLBOOK_"
#: An admin token shorter than this is refused: it would be guessable.
MIN_ADMIN_TOKEN_LENGTH = 16
LOG_FORMATS = ("json", "text")
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")
#: ``BILLBOOK_DB_POOLER``: what sits between billbook and PostgreSQL. ``none``: billbook's own pool
#: talks to PostgreSQL; ``transaction``: a pooler in transaction mode (PgBouncer's
#: ``pool_mode = transaction``), which hands each transaction any server connection.
DB_POOLERS = ("none", "transaction")

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day|s|m|h|d)s?\s*$", re.IGNORECASE)
_PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE_OFF = ("", "off", "none", "0")
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$", re.IGNORECASE)
#: Settings whose variable is not ``BILLBOOK_<FIELD>``: the variable holds a duration (``90s``),
#: the field its number of seconds.
_DURATIONS = {
    "hold_timeout_s": "BILLBOOK_HOLD_TIMEOUT",
    "hold_sweep_interval_s": "BILLBOOK_HOLD_SWEEP_INTERVAL",
    "webhook_give_up_after_s": "BILLBOOK_WEBHOOK_GIVE_UP_AFTER",
}
_FIELDS_OF_VARIABLES = {variable: field for field, variable in _DURATIONS.items()}
#: Durations that may also be ``off``.
_MAY_BE_OFF = frozenset({"hold_sweep_interval_s"})
_URL_PASSWORD = re.compile(r"(://[^/@:]*:)[^/@]*@")

Port = Annotated[int, Field(ge=1, le=65535)]


def env_name(field: str) -> str:
    """``rate_limit`` -> ``BILLBOOK_RATE_LIMIT``; ``hold_timeout_s`` -> ``BILLBOOK_HOLD_TIMEOUT``."""
    if field in _FIELDS_OF_VARIABLES:  # a validation error names the variable it was read from
        return field
    return _DURATIONS.get(field) or ENV_PREFIX + field.upper()


def hide_password(url: str) -> str:
    """A URL safe to print: ``postgresql://user:***@host/db``. Works on text that does not parse."""
    return _URL_PASSWORD.sub(r"\1***@", url)


def read_urls(text: str | None) -> tuple[str, ...]:
    """``postgresql://a/db, postgresql://b/db`` -> the two URLs; unset or blank -> none."""
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def parse_rate(text: str | None) -> tuple[int, int] | None:
    """``600/minute`` -> (600, 60); ``1000/5m`` -> (1000, 300); unset or ``off`` -> None.

    Raises ValueError naming ``BILLBOOK_RATE_LIMIT`` for anything else (``600/min`` included).
    """
    if text is None or text.strip().lower() in _RATE_OFF:
        return None
    match = _RATE.match(text)
    if not match or int(match.group(1)) < 1:
        raise ValueError(
            f"{env_name('rate_limit')} must look like '600/minute' (N/second|minute|hour|day), got {text!r}"
        )
    period = _PERIOD_SECONDS[match.group(3)[0].lower()] * int(match.group(2) or 1)
    return int(match.group(1)), period


def parse_duration(text: str | int | None, variable: str, *, may_be_off: bool = False) -> int | None:
    """``90s``, ``15m``, ``1h``, ``2d`` -> seconds (at least one); an int is seconds already; with
    ``may_be_off``, ``off`` (or None) -> None.

    Raises ValueError naming ``variable`` for anything else (``1 hour``, ``90``, ``0s``)."""
    if may_be_off and (text is None or (isinstance(text, str) and text.strip().lower() == "off")):
        return None
    if isinstance(text, int) and not isinstance(text, bool):
        seconds = text
    else:
        match = _DURATION.match(text) if isinstance(text, str) else None
        seconds = int(match.group(1)) * _PERIOD_SECONDS[match.group(2).lower()] if match else 0
    if seconds < 1:
        forms = "90s, 15m or 1h (s, m, h or d)" + (" or off" if may_be_off else "")
        raise ValueError(f"{variable} must be a duration like {forms}, got {text!r}")
    return seconds


class Settings(BaseSettings):
    # populate_by_name: a duration is set in code by its field (``hold_timeout_s=90``), in the
    # environment by its variable (``BILLBOOK_HOLD_TIMEOUT=90s``).
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True)

    #: SQLAlchemy URL without a driver: ``sqlite:///billbook.db`` or ``postgresql://user@host/db``.
    database_url: str = "sqlite:///billbook.db"
    #: Token for the internal routes; when unset, one is made on first start and kept hashed.
    #: Surrounding white space is dropped (secrets mounted from files often end in a newline); a
    #: token shorter than 16 characters is refused.
    admin_token: str | None = None
    #: Interface and TCP port ``billbook serve`` listens on.
    host: str = "127.0.0.1"
    port: Port = 8000
    #: Worker processes of ``billbook serve``.
    workers: int = Field(default=1, ge=1)
    #: Connections per process in the PostgreSQL pool.
    pool_size: int = Field(default=20, ge=1)
    #: ``none`` or ``transaction``: a transaction-mode pooler (PgBouncer) is in front of PostgreSQL,
    #: so nothing may outlive a transaction on a server connection (prepared statements, settings).
    #: See docs/decisions/0027-connection-pooler.md.
    db_pooler: str = "none"
    #: Streaming replicas (comma-separated PostgreSQL URLs) that serve customer reads; unset: the
    #: primary serves everything. See docs/decisions/0028-read-replicas.md.
    read_database_url: str | None = None
    #: ``BILLBOOK_REPLICA_MAX_LAG_MS``: a replica serves a read only while everything committed on the
    #: primary more than this many milliseconds ago has been replayed there; past it, the primary does.
    replica_max_lag_ms: int = Field(default=1_000, ge=100)
    #: Request bodies larger than this are refused with 413.
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    #: Per API key on the public routes, like ``600/minute`` (``N/second|minute|hour|day``); unset or
    #: ``off``: no limit. See docs/decisions/0006-rate-limiting.md.
    rate_limit: str | None = None
    #: Requests a key may send at once before the rate applies; unset: the limit's count.
    rate_limit_burst: int | None = Field(default=None, ge=1)
    #: Redis shared by every worker for the rate limit (``redis://127.0.0.1:6379/0``); unset: each
    #: process keeps its own limit in memory.
    redis_url: str | None = None
    #: Prefix of the rate limiter's Redis keys; each key holds one time, under a hash of the key's lookup.
    rate_limit_prefix: str = "billbook:ratelimit:"
    #: Log lines of ``billbook serve``: ``json`` (one object per line) or ``text``.
    log_format: str = "json"
    #: One log line per request (method, path, status, duration, request id).
    access_log: bool = True
    #: FastAPI's OpenTelemetry instrumentation (traces, metrics and logs to the providers configured
    #: in the process, e.g. by ``opentelemetry-instrument``). Off by default: billbook's own
    #: Prometheus metrics and access lines cover a request, and asking the providers whether they
    #: are configured is a measurable part of each small request.
    opentelemetry: bool = False
    #: When set, ``GET /metrics`` answers only requests with ``Authorization: Bearer <this token>``
    #: (the figures show business volume); unset: ``/metrics`` is open, for a quick start. Surrounding
    #: white space is dropped, as for the admin token.
    metrics_token: str | None = None
    #: When set, ``/metrics`` is served on this port only (e.g. one reachable from the monitoring
    #: network alone) instead of next to the API.
    metrics_port: Port | None = None
    #: ``BILLBOOK_HOLD_TIMEOUT``: how long a charge holds its price when it does not say
    #: (``hold_timeout_s``); a prediction still ``created`` or ``processing`` after it is moved to
    #: ``timeout`` and refunded by the sweeper. A duration: ``90s``, ``15m``, ``1h``, ``2d``.
    hold_timeout_s: int = Field(default=3_600, validation_alias=_DURATIONS["hold_timeout_s"])
    #: ``BILLBOOK_HOLD_SWEEP_INTERVAL``: how often each server process looks for expired holds;
    #: ``off`` (None): never, when ``billbook holds expire`` runs from cron instead.
    hold_sweep_interval_s: int | None = Field(default=30, validation_alias=_DURATIONS["hold_sweep_interval_s"])
    #: Key(s) that encrypt webhook signing secrets in the database: Fernet keys (32 url-safe base64
    #: bytes each, ``billbook webhooks new-key`` prints one), comma-separated; the first encrypts,
    #: every one decrypts (to change keys, put the new one first). Unset: a key is made on first
    #: start and kept in the database (see docs/decisions/0023-webhook-delivery.md).
    webhook_secret_key: str | None = None
    #: Let webhook URLs resolve to private, loopback, link-local or other non-global addresses
    #: (refused by default: a customer's URL must not reach the server's own network).
    webhook_allow_private: bool = False
    #: Run the webhook dispatcher inside ``billbook serve`` (one is active per database whatever the
    #: number of processes); false: leave it to ``billbook webhooks dispatch``.
    webhook_dispatch: bool = True
    #: Seconds between the dispatcher's looks for due deliveries when it has nothing to send.
    webhook_poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    #: Seconds before the first retry of a failed delivery; each later one waits twice as long (with
    #: jitter), up to ``webhook_retry_max_s``.
    webhook_retry_base_s: float = Field(default=5.0, gt=0, le=10)
    webhook_retry_max_s: float = Field(default=3_600.0, gt=0)
    #: ``BILLBOOK_WEBHOOK_GIVE_UP_AFTER``: how long a delivery is retried before its endpoint is
    #: disabled (a duration; default ``3d``).
    webhook_give_up_after_s: int = Field(default=259_200, validation_alias=_DURATIONS["webhook_give_up_after_s"])
    #: Seconds a receiver has to answer one delivery.
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)
    #: Who issues statements and receipts: printed at the top of every PDF document.
    operator_name: str = Field(default="billbook", min_length=1, max_length=200)
    #: The issuer's postal address under its name; lines separated by newlines (or by ``\n``
    #: written out, for one-line environment files).
    operator_address: str = Field(default="", max_length=1000)

    @field_validator("admin_token", "metrics_token")
    @classmethod
    def _strip_secret(cls, value: str | None) -> str | None:
        """An empty or blank token is the same as no token."""
        return (value or "").strip() or None

    @field_validator("admin_token")
    @classmethod
    def _long_enough(cls, value: str | None) -> str | None:
        if value is not None and len(value) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(
                f"{env_name('admin_token')} must be at least {MIN_ADMIN_TOKEN_LENGTH} characters,"
                f" got {len(value)}"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        from sqlalchemy.engine import make_url

        expected = "like sqlite:///billbook.db or postgresql://user@host/db"
        try:
            backend = make_url(value).get_backend_name()
        except Exception:  # noqa: BLE001 - every parse failure reads the same to the operator
            raise ValueError(
                f"{env_name('database_url')} is not a database URL {expected}, got {hide_password(value)!r}"
            ) from None
        if backend not in DATABASE_SCHEMES:
            raise ValueError(
                f"{env_name('database_url')} must start with sqlite:// or postgresql://,"
                f" got {hide_password(value)!r}"
            )
        return value

    @field_validator("db_pooler")
    @classmethod
    def _pooler(cls, value: str) -> str:
        if value not in DB_POOLERS:
            raise ValueError(f"{env_name('db_pooler')} must be none or transaction, got {value!r}")
        return value

    @field_validator("read_database_url")
    @classmethod
    def _replica_urls(cls, value: str | None) -> str | None:
        from sqlalchemy.engine import make_url

        for url in read_urls(value):
            try:
                backend = make_url(url).get_backend_name()
            except Exception:  # noqa: BLE001 - every parse failure reads the same to the operator
                backend = None
            if backend not in ("postgresql", "postgres"):
                raise ValueError(
                    f"{env_name('read_database_url')} must be PostgreSQL URLs separated by commas,"
                    f" got {hide_password(url)!r}"
                )
        return value

    @property
    def read_database_urls(self) -> tuple[str, ...]:
        """The replicas' URLs, in the order given."""
        return read_urls(self.read_database_url)

    @field_validator("rate_limit")
    @classmethod
    def _rate_format(cls, value: str | None) -> str | None:
        parse_rate(value)
        return value

    @field_validator("webhook_secret_key")
    @classmethod
    def _fernet_keys(cls, value: str | None) -> str | None:
        value = (value or "").strip() or None
        if value is not None:
            from billbook.ledger.webhook_secrets import check_keys

            check_keys(value, env_name("webhook_secret_key"))
        return value

    @field_validator("hold_timeout_s", "hold_sweep_interval_s", "webhook_give_up_after_s", mode="before")
    @classmethod
    def _duration(cls, value: str | int | None, info: ValidationInfo) -> int | None:
        field = info.field_name or ""
        return parse_duration(value, env_name(field), may_be_off=field in _MAY_BE_OFF)

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value not in LOG_FORMATS:
            raise ValueError(f"{env_name('log_format')} must be json or text, got {value!r}")
        return value

    def as_environment(self) -> dict[str, str]:
        """These settings as ``BILLBOOK_*`` variables: how ``billbook serve`` hands them to workers."""
        env = {}
        for name, value in self.model_dump().items():
            if name in _DURATIONS:
                env[env_name(name)] = "off" if value is None else f"{value}s"
            elif value is not None:
                env[env_name(name)] = str(value).lower() if isinstance(value, bool) else str(value)
        return env

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied and checked again; raises ``SettingsError``."""
        try:
            return type(self)(**(self.model_dump() | changes))
        except ValidationError as exc:
            raise SettingsError(describe(exc)) from None


class SettingsError(ValueError):
    """Settings that cannot be used; the message is one line naming the variable or option."""


#: Values of these settings are never repeated in a message.
_SECRET_FIELDS = frozenset(
    {"admin_token", "metrics_token", "redis_url", "database_url", "read_database_url", "webhook_secret_key"}
)


def describe(error: ValidationError, options: Mapping[str, str] | None = None) -> str:
    """The first problem of ``error`` as one line. ``options`` maps a field set on the command line to
    the option that set it, so the line names what the person typed (``--db``), not the variable."""
    problem = error.errors()[0]
    field = str(problem["loc"][0]) if problem["loc"] else ""
    name = (options or {}).get(field) or env_name(field)
    cause = problem.get("ctx", {}).get("error")
    if isinstance(cause, ValueError):  # one of the validators above: its message names the variable
        return str(cause).replace(env_name(field), name, 1)
    detail = problem["msg"][0].lower() + problem["msg"][1:]
    if field in _SECRET_FIELDS:
        return f"{name}: {detail}"
    return f"{name}: {detail}, got {problem.get('input')!r}"


def load_settings(options: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from the environment, with ``overrides`` (values given on a command line, ``None``:
    not given) taking precedence. Raises ``SettingsError`` with one line naming what is wrong."""
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise SettingsError(describe(exc, {k: v for k, v in (options or {}).items() if k in given})) from None


@lru_cache
def get_settings() -> Settings:
    return Settings()
