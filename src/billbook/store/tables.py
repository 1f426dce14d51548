"""Table definitions. Money columns are integer micro-dollars; time columns integer epoch milliseconds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

def prefixed(table: Table, prefix: str, *names: str) -> list[Any]:
    """``table``'s columns ``names`` labelled ``<prefix>_<name>``, for a row that joins several tables."""
    return [table.c[name].label(f"{prefix}_{name}") for name in names]


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

#: 64-bit keys on PostgreSQL; SQLite's rowid alias must be declared INTEGER to autoincrement.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Micros = BigInteger
Millis = BigInteger

accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("balance", Micros, nullable=False, server_default="0"),
    Column("created_at", Millis, nullable=False),
    # The operator's sorts of the accounts list.
    Index("ix_accounts_balance", "balance", "id"),
    Index("ix_accounts_created_at", "created_at", "id"),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("id", Integer, primary_key=True),  # the wire's ak_id
    Column("access_key_id", String(64), nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    #: Public half of the api_key, used to find the row; the secret half is only stored hashed.
    Column("lookup", String(32), nullable=False, unique=True),
    Column("salt", String(32), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("revoked_at", Millis, nullable=True),
)

predictions = Table(
    "predictions",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("uuid", String(64), nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("ak_id", Integer, ForeignKey("access_keys.id"), nullable=False),
    Column("model_uuid", String(200), nullable=False),
    Column("model_type", String(100), nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
    #: After this time a prediction still ``created`` or ``processing`` has its hold expired.
    Column("hold_until", Millis, nullable=False),
    Index("ix_predictions_account_uuid", "account_id", "uuid"),
    # Only open holds are indexed: the sweeper's scan reads expired ones and nothing else.
    Index(
        "ix_predictions_open_hold_until",
        "hold_until",
        postgresql_where=text("status IN ('created', 'processing')"),
        sqlite_where=text("status IN ('created', 'processing')"),
    ),
)

orders = Table(
    "orders",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("uuid", String(32), nullable=False, unique=True),
    Column("prediction_id", BigId, ForeignKey("predictions.id"), nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("ak_id", Integer, ForeignKey("access_keys.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("price", Micros, nullable=False),
    Column("origin_price", Micros, nullable=False),
    #: The catalog version the price came from; NULL when the charge sent its price.
    Column("price_version_id", BigId, ForeignKey("model_versions.id"), nullable=True),
    #: The inputs the charge sent, as canonical JSON text (NULL when none were sent): what a retry
    #: is compared with, and what ``verify`` prices again.
    Column("inputs", Text, nullable=True),
    Column("created_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
    # Money held per account: only orders still ``pre`` are indexed.
    Index("ix_orders_account_open", "account_id", postgresql_where=text("state = 'pre'"), sqlite_where=text("state = 'pre'")),
)

billing_records = Table(
    "billing_records",
    metadata,
    #: Insertion order: the tie-breaker that makes the search order total.
    Column("id", BigId, primary_key=True),
    Column("uuid", String(32), nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("billing_type", String(16), nullable=False),
    #: Always positive, as the wire shows it.
    Column("price", Micros, nullable=False),
    #: Signed effect on the balance; the balance is the sum of these.
    Column("delta", Micros, nullable=False),
    #: The account's balance right after this record, in the ledger's write order (record id order):
    #: the running sum of ``delta`` up to and including this record.
    Column("balance_after", Micros, nullable=False),
    Column("ak_id", Integer, ForeignKey("access_keys.id"), nullable=True),
    Column("order_id", BigId, ForeignKey("orders.id"), nullable=True),
    Column("prediction_id", BigId, ForeignKey("predictions.id"), nullable=True),
    # Copies of the prediction's model and the key's public id, so filters need no join.
    Column("model_uuid", String(200), nullable=True),
    Column("access_key_id", String(64), nullable=True),
    Column("reference", String(200), nullable=True),
    Column("reason", Text, nullable=True),
    Column("created_at", Millis, nullable=False),
    Column("updated_at", Millis, nullable=False),
    Index("ix_billing_records_account_time", "account_id", "created_at", "id"),
    Index("ix_billing_records_account_type_time", "account_id", "billing_type", "created_at", "id"),
    Index("ix_billing_records_account_model_time", "account_id", "model_uuid", "created_at", "id"),
    Index("ix_billing_records_account_key_time", "account_id", "access_key_id", "created_at", "id"),
    Index("ix_billing_records_prediction", "prediction_id"),
    # The operator's search across every account walks time order (filters by type or model are
    # applied along the walk: an index per filter would cost every insert more). Built on
    # ``created_at + 0``, which only that search asks for (see store.search._time).
    Index("ix_billing_records_time", text("(created_at + 0)"), "id"),
    # Idempotency of recharges and adjustments, and at most one deduct and one refund per order.
    # On PostgreSQL the table is partitioned by month (``store.partitions``) and its primary key is
    # ``(id, created_at)``; these unique keys and the uuid's are held by ``billing_record_keys``.
    UniqueConstraint("account_id", "billing_type", "reference", name="uq_billing_records_reference"),
    UniqueConstraint("order_id", "billing_type", name="uq_billing_records_order_type"),
)

#: Each record's unique keys on PostgreSQL (empty on SQLite, whose ``billing_records`` keeps them), unpartitioned, so that a retry dated in another month
#: than the record it repeats still collides. Written in the record's transaction; kept when a
#: month is archived, so a reference or an order is never billed twice even then.
billing_record_keys = Table(
    "billing_record_keys",
    metadata,
    #: The record's id (taken by ``billing_records``, not here).
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    #: The record's partition key: a lookup through this table reads one partition.
    Column("created_at", Millis, nullable=False),
    Column("uuid", String(32), nullable=False, unique=True),
    Column("account_id", Integer, nullable=False),
    Column("billing_type", String(16), nullable=False),
    Column("reference", String(200), nullable=True),
    Column("order_id", BigInteger, nullable=True),
    UniqueConstraint("order_id", "billing_type", name="uq_billing_record_keys_order_type"),
    # Partial: a NULL never collides, so the deducts (no reference) are left out of this one.
    Index(
        "uq_billing_record_keys_reference", "account_id", "billing_type", "reference", unique=True,
        postgresql_where=text("reference IS NOT NULL"), sqlite_where=text("reference IS NOT NULL"),
    ),
)

#: Months whose records were moved out to Parquet files (``billbook archive``): what was in them,
#: so that ``verify`` still balances and reads of those months can say where they went.
billing_archives = Table(
    "billing_archives",
    metadata,
    #: ``YYYY-MM``, UTC.
    Column("month", String(7), primary_key=True),
    Column("path", Text, nullable=False),
    Column("records", BigInteger, nullable=False),
    Column("delta_sum", Micros, nullable=False),
    Column("archived_at", Millis, nullable=False),
)

#: Per archived month and account: the records' count, the sum of their deltas and the largest id.
billing_archive_accounts = Table(
    "billing_archive_accounts",
    metadata,
    Column("month", String(7), ForeignKey("billing_archives.month"), primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("records", BigInteger, nullable=False),
    Column("delta_sum", Micros, nullable=False),
    Column("max_id", BigId, nullable=False),
)

#: Per-account, per-UTC-day, per-model, per-key usage, kept in the same transaction as each record.
#: Refunds and completions are counted on the day of the deduct they belong to.
usage_daily = Table(
    "usage_daily",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("model_uuid", String(200), primary_key=True),
    Column("access_key_id", String(64), primary_key=True),
    Column("model_type", String(100), nullable=False, server_default=""),
    Column("deduct_count", BigInteger, nullable=False, server_default="0"),
    Column("deduct_amount", Micros, nullable=False, server_default="0"),
    Column("refund_count", BigInteger, nullable=False, server_default="0"),
    Column("refund_amount", Micros, nullable=False, server_default="0"),
    Column("completed_count", BigInteger, nullable=False, server_default="0"),
    Column("last_used_at", Millis, nullable=False, server_default="0"),
    Column("last_price", Micros, nullable=False, server_default="0"),
    # Spend over the last 30 days of every account (the accounts list sorted by it).
    Index("ix_usage_daily_day", "day", "account_id"),
)

#: Records per account, UTC day and type, kept in the same transaction as each insert. Gives exact
#: totals without counting rows and lets a deep page start at the right day (see ledger.search).
billing_daily = Table(
    "billing_daily",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("billing_type", String(16), primary_key=True),
    Column("count", BigInteger, nullable=False),
)

#: How many shards ``billing_daily_shards`` spreads the platform's counts over: charges of accounts
#: in different shards never wait for each other's row, and an all-time total of every account reads
#: ``SHARDS`` rows per day.
SHARDS = 16

#: Records per shard of accounts (``account_id % SHARDS``), UTC day and type: ``billing_daily``
#: summed over accounts, kept in the same transaction as each insert, so that the operator's search
#: across every account counts a range by day without reading a row per account and day.
billing_daily_shards = Table(
    "billing_daily_shards",
    metadata,
    # Day first: an every-account search reads a range of days.
    Column("day", Integer, primary_key=True),
    Column("billing_type", String(16), primary_key=True),
    Column("shard", Integer, primary_key=True),
    Column("count", BigInteger, nullable=False),
)

#: Record counts and sums of ``delta`` per account, UTC month (``YYYYMM``), type and model (``""``
#: for recharges and adjustments), kept in the same transaction as each insert: a monthly statement
#: reads a few of these rows instead of the month's records (see ledger.statements).
billing_monthly = Table(
    "billing_monthly",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("month", Integer, primary_key=True),
    Column("billing_type", String(16), primary_key=True),
    Column("model_uuid", String(200), primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("amount", Micros, nullable=False),
)

server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("salt", String(32), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", Millis, nullable=False),
)

# --- Price catalog -------------------------------------------------------------------------------

#: Immutable price versions: a model's price at a time is its latest version whose
#: ``effective_from`` is not after that time. Rows are only ever inserted.
model_versions = Table(
    "model_versions",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("model_id", String(200), nullable=False),
    Column("name", String(200), nullable=False),
    Column("type", String(100), nullable=False, server_default=""),
    Column("description", Text, nullable=False, server_default=""),
    Column("base_price", Micros, nullable=False),
    #: A JSONata expression over ``base_price`` and a request's inputs, or NULL for a flat price.
    Column("formula", Text, nullable=True),
    Column("sort_order", Integer, nullable=False, server_default="0"),
    Column("effective_from", Millis, nullable=False),
    Column("created_at", Millis, nullable=False),
    UniqueConstraint("model_id", "effective_from", name="uq_model_versions_model_effective"),
)

#: Per-account discounts, append-only: the rate in force at a time is the latest row set at or
#: before it, for the model itself (``model_id``) or else for every model (``model_id`` NULL).
account_discounts = Table(
    "account_discounts",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=False),
    Column("model_id", String(200), nullable=True),
    #: Hundredths of a percent: 1250 = 12.5 %.
    Column("rate_bp", Integer, nullable=False),
    Column("set_at", Millis, nullable=False),
    Index("ix_account_discounts_account_model", "account_id", "model_id", "set_at", "id"),
)

# --- The operator's side ------------------------------------------------------------------------

#: Named admin tokens (``read`` or ``write``), stored like API keys: a public ``lookup`` finds the row,
#: the secret half is only kept as a salted hash. ``BILLBOOK_ADMIN_TOKEN`` is not here: it is the
#: ``write`` token named ``default``, held in memory.
admin_tokens = Table(
    "admin_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("lookup", String(32), nullable=False, unique=True),
    Column("salt", String(32), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("revoked_at", Millis, nullable=True),
)

#: Every internal write, append-only, written in the write's own transaction (a refused write in a
#: transaction of its own). ``ref`` names what the write made or changed (a record's uuid, a key's
#: access_key_id): what ``verify`` joins on. ``summary`` is JSON text without secrets.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("at", Millis, nullable=False),
    Column("token_name", String(100), nullable=False),
    Column("action", String(32), nullable=False),
    Column("route", String(200), nullable=False),
    Column("account_id", Integer, nullable=True),
    Column("target", String(300), nullable=False),
    Column("ref", String(200), nullable=True),
    Column("summary", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Index("ix_audit_log_at", "at", "id"),
    Index("ix_audit_log_token_at", "token_name", "at", "id"),
    Index("ix_audit_log_account_at", "account_id", "at", "id"),
    Index("ix_audit_log_ref", "ref"),
)

#: Responses of account and key creation kept under the caller's ``Idempotency-Key``, written in
#: the creation's transaction: a retry gets the first response (a key's secret included) again.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("action", String(32), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", Millis, nullable=False),
)


# --- Events --------------------------------------------------------------------------------------

#: The outbox: one row per event, written in the transaction of the ledger change that caused it,
#: and only ever inserted. ``id`` is the order in which events are handed on (webhooks).
events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True),
    #: The public id (``evt_…``): the webhook's ``webhook-id``, the same on every retry.
    Column("uuid", String(40), nullable=False, unique=True),
    #: NULL for an event about the platform itself rather than one account.
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=True),
    Column("type", String(40), nullable=False),
    #: The event's ``data`` object as canonical JSON text; money in it is exact decimal text.
    Column("data", Text, nullable=False),
    Column("created_at", Millis, nullable=False),
    Index("ix_events_account_id", "account_id", "id"),
)


# --- Spend limits and alerts ---------------------------------------------------------------------

#: One set of limits per key (``access_key_id``) or per account (``access_key_id`` ``''``) and per
#: setter (``vocabulary.LimitSetter``); NULL: no limit in that window. The lower of the two sets applies.
spend_limits = Table(
    "spend_limits",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("access_key_id", String(64), primary_key=True),
    Column("setter", String(16), primary_key=True),
    Column("daily", Micros, nullable=True),
    Column("monthly", Micros, nullable=True),
    Column("total", Micros, nullable=True),
    Column("updated_at", Millis, nullable=False),
)

#: Each account's spend over a sliding 30 days, for the operator's list sorted by it. ``amount`` is
#: the ``usage_daily`` spend (deducts net of their refunds) of every day from ``day - 29`` on, kept
#: equal to it in the transaction of each charge and refund; ``day`` is the writer's UTC day, so
#: the figure is exact for ``day`` and for any later day until spend of a day from ``day - 29`` on
#: leaves the window, when ``ledger.operator.roll_spend`` recomputes it. Every account has a row.
account_spend = Table(
    "account_spend",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("day", Integer, nullable=False),
    Column("amount", Micros, nullable=False),
    Index("ix_account_spend_amount", "amount", "account_id"),
    Index("ix_account_spend_day", "day"),
)

#: How many accounts there are (one row, ``id`` 1), kept by ``store.accounts.insert``: the operator's
#: list gives an exact total without counting 100,000 rows.
account_count = Table(
    "account_count",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("accounts", BigInteger, nullable=False),
)

#: The UTC day through which ``account_spend`` has been rolled (one row, ``id`` 1): every figure
#: with ``day`` <= it has no spend on days from ``day - 29`` to ``rolled - 30``.
account_spend_rolled = Table(
    "account_spend_rolled",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("day", Integer, nullable=False),
)

#: Spend (deducts net of their refunds) per key (``access_key_id``) or account (``''``) and window:
#: ``period`` a ``vocabulary.LimitPeriod``, ``start`` the window's first UTC day (0 for ``total``).
#: Kept in the transaction of each charge and refund, by the deduct's ``created_at``, so a limit
#: check reads three rows per key and three per account whatever the history.
spend_windows = Table(
    "spend_windows",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("access_key_id", String(64), primary_key=True),
    Column("period", String(16), primary_key=True),
    Column("start", Integer, primary_key=True),
    Column("amount", Micros, nullable=False, server_default="0"),
    #: The highest limit alert sent for this window since it last re-armed: 0, 80 or 100 (%).
    Column("alerted", Integer, nullable=False, server_default="0"),
)

#: An account's low-balance thresholds (JSON array of micro-dollars, highest first).
alert_settings = Table(
    "alert_settings",
    metadata,
    Column("account_id", Integer, ForeignKey("accounts.id"), primary_key=True),
    Column("low_balance", Text, nullable=False, server_default="[]"),
    Column("updated_at", Millis, nullable=False),
)


# --- Webhooks ------------------------------------------------------------------------------------

#: Where events are delivered: a customer's endpoint (its account's events) or, with ``account_id``
#: NULL, an operator's platform-wide one (every account's events, and the platform's own).
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Integer, primary_key=True),
    #: The id the API shows (``we_…``).
    Column("public_id", String(40), nullable=False, unique=True),
    Column("account_id", Integer, ForeignKey("accounts.id"), nullable=True, index=True),
    Column("url", String(2048), nullable=False),
    #: The signing secret, encrypted with the server's webhook key; never stored in clear.
    Column("secret_enc", Text, nullable=False),
    #: After a rotation: the secret that still signs too, until ``previous_secret_until``.
    Column("previous_secret_enc", Text, nullable=True),
    Column("previous_secret_until", Millis, nullable=True),
    Column("created_at", Millis, nullable=False),
    #: Set when deliveries failed for too long: nothing more is sent.
    Column("disabled_at", Millis, nullable=True),
    #: Set by DELETE; the row stays so its delivery log keeps its parent.
    Column("deleted_at", Millis, nullable=True),
)

#: The event types an endpoint receives, one row each (looked up by type when an event is written).
webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("endpoint_id", Integer, ForeignKey("webhook_endpoints.id"), primary_key=True),
    Column("type", String(40), primary_key=True),
    Index("ix_webhook_subscriptions_type", "type", "endpoint_id"),
)

#: One per (endpoint, event), written in the transaction that appends the event.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("endpoint_id", Integer, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("event_id", BigId, ForeignKey("events.id"), nullable=False),
    #: ``vocabulary.DeliveryState``.
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    #: When the dispatcher next sends it (also pushed ahead while an attempt is under way, so a crash
    #: mid-attempt makes it due again).
    Column("next_attempt_at", Millis, nullable=False),
    #: Start of the retry window (creation, or the last resend).
    Column("retry_from", Millis, nullable=False),
    Column("created_at", Millis, nullable=False),
    Column("delivered_at", Millis, nullable=True),
    UniqueConstraint("endpoint_id", "event_id"),
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        "id",
        postgresql_where=text("state = 'pending'"),
        sqlite_where=text("state = 'pending'"),
    ),
)

#: Each attempt to send a delivery: the delivery log.
webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("delivery_id", BigId, ForeignKey("webhook_deliveries.id"), nullable=False),
    Column("started_at", Millis, nullable=False),
    #: NULL while under way, and for an attempt that got no response (``error`` says why).
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=True),
    Column("error", String(500), nullable=True),
    #: The start of the receiver's answer (at most 1 KB).
    Column("response_body", Text, nullable=True),
    Index("ix_webhook_attempts_delivery_id", "delivery_id", "id"),
)

#: Who runs a background job now: one row per job, held until ``expires_at`` and renewed by its
#: holder; anyone may take it once it has expired.
webhook_leases = Table(
    "webhook_leases",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("holder", String(80), nullable=True),
    Column("expires_at", Millis, nullable=False, server_default="0"),
)

#: The key that encrypts webhook secrets, where ``BILLBOOK_WEBHOOK_SECRET_KEY`` is not set.
webhook_keys = Table(
    "webhook_keys",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("key", String(200), nullable=False),
    Column("created_at", Millis, nullable=False),
)
