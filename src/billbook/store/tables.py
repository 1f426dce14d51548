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
