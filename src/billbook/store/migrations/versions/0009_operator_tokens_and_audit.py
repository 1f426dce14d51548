"""Operator side: named admin tokens with roles, the audit log, idempotent account and key
creation, and the indexes the operator's reads need

``admin_tokens``: named tokens (``read`` or ``write``), stored as salted hashes like API keys.
``audit_log``: one row per internal write (append-only), written in the write's transaction. Its
first row, ``audit.started``, records the last billing record and key that existed before the log
did, so ``verify`` asks only later ones to be audited.
``idempotency_keys``: responses of account and key creation kept under the caller's
``Idempotency-Key``. Indexes: accounts by balance and by creation time (the operator's sorts),
open orders by account (money held).

Revision ID: 0009
Revises: 0008
"""

import json
import time

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN_ORDERS = "state = 'pre'"


def upgrade() -> None:
    op.create_table(
        "admin_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("lookup", sa.String(length=32), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("name", name="uq_admin_tokens_name"),
        sa.UniqueConstraint("lookup", name="uq_admin_tokens_lookup"),
    )
    audit = op.create_table(
        "audit_log",
        sa.Column("id", _BigId, primary_key=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("token_name", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at", "id"])
    op.create_index("ix_audit_log_token_at", "audit_log", ["token_name", "at", "id"])
    op.create_index("ix_audit_log_account_at", "audit_log", ["account_id", "at", "id"])
    op.create_index("ix_audit_log_ref", "audit_log", ["ref"])
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=200), primary_key=True),
        sa.Column("action", sa.String(length=32), primary_key=True),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_accounts_balance", "accounts", ["balance", "id"])
    op.create_index("ix_accounts_created_at", "accounts", ["created_at", "id"])
    op.create_index(
        "ix_orders_account_open",
        "orders",
        ["account_id"],
        postgresql_where=sa.text(OPEN_ORDERS),
        sqlite_where=sa.text(OPEN_ORDERS),
    )
    op.create_index("ix_billing_records_time", "billing_records", [sa.text("(created_at + 0)"), "id"])
    op.create_index("ix_usage_daily_day", "usage_daily", ["day", "account_id"])
    bind = op.get_bind()
    last_record = bind.execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM billing_records")).scalar_one()
    last_key = bind.execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM access_keys")).scalar_one()
    op.bulk_insert(
        audit,
        [
            {
                "at": int(time.time() * 1000),
                "token_name": "migration",
                "action": "audit.started",
                "route": "migration 0009",
                "account_id": None,
                "target": "ledger",
                "ref": None,
                "summary": json.dumps({"last_record_id": int(last_record), "last_key_id": int(last_key)}),
                "status": 200,
            }
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_usage_daily_day", table_name="usage_daily")
    op.drop_index("ix_billing_records_time", table_name="billing_records")
    op.drop_index("ix_orders_account_open", table_name="orders")
    op.drop_index("ix_accounts_created_at", table_name="accounts")
    op.drop_index("ix_accounts_balance", table_name="accounts")
    op.drop_table("idempotency_keys")
    op.drop_table("audit_log")
    op.drop_table("admin_tokens")
