"""Billing records partitioned by month on PostgreSQL; their unique keys in ``billing_record_keys``;
archived months in ``billing_archives``

PostgreSQL: ``billing_records`` becomes ``PARTITION BY RANGE (created_at)`` with one partition per
UTC month from the oldest record's month (not before 2000-01; at least a year back) to twelve
months ahead, and a DEFAULT
partition (records before 2000-01 stay there). Rows are copied in one statement, then the indexes are built. A unique constraint on a
partitioned table must include the partition key, which would let a retry in another month slip
past it, so the three unique keys (``uuid``; ``account_id, billing_type, reference``;
``order_id, billing_type``) move to ``billing_record_keys``, one narrow row per record, written in
the record's transaction. The primary key becomes ``(id, created_at)``; ids still come from the one
sequence. SQLite keeps its plain table and constraints; ``billing_record_keys`` and
``billing_archives`` exist there too, and stay empty (SQLite never partitions nor archives).

Revision ID: 0011
Revises: 0010
"""

import time

import sqlalchemy as sa
from alembic import op

from billbook.store import partitions

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD = "billing_records_unpartitioned"
INDEXES = {
    "ix_billing_records_account_time": "account_id, created_at, id",
    "ix_billing_records_account_type_time": "account_id, billing_type, created_at, id",
    "ix_billing_records_account_model_time": "account_id, model_uuid, created_at, id",
    "ix_billing_records_account_key_time": "account_id, access_key_id, created_at, id",
    "ix_billing_records_prediction": "prediction_id",
    "ix_billing_records_time": "(created_at + 0), id",
}
FOREIGN_KEYS = {
    "account_id": "accounts",
    "ak_id": "access_keys",
    "order_id": "orders",
    "prediction_id": "predictions",
}
KEY_COLUMNS = "id, created_at, uuid, account_id, billing_type, reference, order_id"


def _archives_table() -> None:
    op.create_table(
        "billing_archives",
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("delta_sum", sa.BigInteger(), nullable=False),
        sa.Column("archived_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "billing_archive_accounts",
        sa.Column("month", sa.String(7), sa.ForeignKey("billing_archives.month"), primary_key=True),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id"), primary_key=True),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("delta_sum", sa.BigInteger(), nullable=False),
        sa.Column("max_id", _BigId, nullable=False),
    )


def _keys_table() -> None:
    op.create_table(
        "billing_record_keys",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("uuid", sa.String(32), nullable=False, unique=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("billing_type", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.Column("order_id", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("order_id", "billing_type", name="uq_billing_record_keys_order_type"),
    )
    # Partial: a NULL never collides in a unique index, so leaving out the deducts (which have no
    # reference) changes nothing but the size. Looked up with ``reference = :x`` only.
    op.create_index(
        "uq_billing_record_keys_reference", "billing_record_keys", ["account_id", "billing_type", "reference"],
        unique=True, postgresql_where=sa.text("reference IS NOT NULL"), sqlite_where=sa.text("reference IS NOT NULL"),
    )


def _partition() -> None:
    bind = op.get_bind()
    op.execute(f"ALTER TABLE billing_records RENAME TO {OLD}")
    op.execute(f"CREATE TABLE billing_records (LIKE {OLD} INCLUDING DEFAULTS) PARTITION BY RANGE (created_at)")
    op.execute("ALTER SEQUENCE billing_records_id_seq OWNED BY billing_records.id")
    op.execute(f"CREATE TABLE {partitions.DEFAULT} PARTITION OF billing_records DEFAULT")
    floor = partitions.Month.parse(partitions.FLOOR).start_ms
    oldest = bind.execute(sa.text(f"SELECT min(created_at) FROM {OLD} WHERE created_at >= {floor}")).scalar()
    now = partitions.Month.of_ms(int(time.time() * 1000))
    # Every month from the oldest record's on (older ones, before FLOOR, stay in the default).
    back = now.plus(-partitions.BACK_MONTHS)
    month = min(partitions.Month.of_ms(oldest), back) if oldest is not None else back
    while month <= now.plus(partitions.AHEAD_MONTHS):
        low, high = month.start_ms, month.end_ms
        op.execute(f"CREATE TABLE {month.table} PARTITION OF billing_records FOR VALUES FROM ({low}) TO ({high})")
        month = month.plus(1)
    op.execute(f"INSERT INTO billing_records SELECT * FROM {OLD}")
    op.execute(f"INSERT INTO billing_record_keys ({KEY_COLUMNS}) SELECT {KEY_COLUMNS} FROM {OLD}")
    op.execute(f"DROP TABLE {OLD}")
    op.execute("ALTER TABLE billing_records ADD CONSTRAINT pk_billing_records PRIMARY KEY (id, created_at)")
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON billing_records ({columns})")
    for column, table in FOREIGN_KEYS.items():
        op.execute(
            f"ALTER TABLE billing_records ADD CONSTRAINT fk_billing_records_{column}_{table}"
            f" FOREIGN KEY ({column}) REFERENCES {table} (id)"
        )
    op.execute("ANALYZE billing_records")


def upgrade() -> None:
    _archives_table()
    _keys_table()  # SQLite keeps its constraints on billing_records: the table stays empty there
    if op.get_bind().dialect.name != "sqlite":
        _partition()


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        raise NotImplementedError("partitioned history is not taken back; restore a backup taken before 0011")
    op.drop_table("billing_record_keys")
    op.drop_table("billing_archive_accounts")
    op.drop_table("billing_archives")
