"""Spend limits, the spend rollup they are checked against, and low-balance alert thresholds

The rollup is filled from ``usage_daily``, which already holds deducts and their refunds per key and
UTC day of the deduct: every key's and account's day, month and total windows.

Revision ID: 0007
Revises: 0006
"""

from collections import defaultdict
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _month_start(day: int) -> int:
    """The first UTC day (days since the epoch) of the month holding ``day``."""
    date = datetime.fromtimestamp(day * 86_400, tz=UTC)
    return (date.replace(day=1) - datetime(1970, 1, 1, tzinfo=UTC)).days


def upgrade() -> None:
    op.create_table(
        "spend_limits",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("access_key_id", sa.String(length=64), nullable=False),
        sa.Column("setter", sa.String(length=16), nullable=False),
        sa.Column("daily", sa.BigInteger(), nullable=True),
        sa.Column("monthly", sa.BigInteger(), nullable=True),
        sa.Column("total", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_spend_limits_account_id_accounts"),
        sa.PrimaryKeyConstraint("account_id", "access_key_id", "setter", name="pk_spend_limits"),
    )
    windows = op.create_table(
        "spend_windows",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("access_key_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("start", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("alerted", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_spend_windows_account_id_accounts"),
        sa.PrimaryKeyConstraint("account_id", "access_key_id", "period", "start", name="pk_spend_windows"),
    )
    op.create_table(
        "alert_settings",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("low_balance", sa.Text(), server_default="[]", nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_alert_settings_account_id_accounts"),
        sa.PrimaryKeyConstraint("account_id", name="pk_alert_settings"),
    )
    rows = op.get_bind().execute(
        sa.text(
            "SELECT account_id, access_key_id, day, SUM(deduct_amount - refund_amount) AS spent"
            " FROM usage_daily GROUP BY account_id, access_key_id, day"
        )
    )
    totals: dict[tuple, int] = defaultdict(int)
    for account_id, key, day, spent in rows:
        for subject in (key, ""):
            totals[(account_id, subject, "daily", day)] += int(spent)
            totals[(account_id, subject, "monthly", _month_start(day))] += int(spent)
            totals[(account_id, subject, "total", 0)] += int(spent)
    op.bulk_insert(
        windows,
        [
            {"account_id": a, "access_key_id": k, "period": p, "start": s, "amount": v, "alerted": 0}
            for (a, k, p, s), v in totals.items()
        ],
    )


def downgrade() -> None:
    op.drop_table("alert_settings")
    op.drop_table("spend_windows")
    op.drop_table("spend_limits")
