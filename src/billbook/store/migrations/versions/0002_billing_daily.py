"""billing_daily: record counts per account, UTC day and type

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_daily",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("billing_type", sa.String(length=16), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_billing_daily_account_id_accounts")),
        sa.PrimaryKeyConstraint("account_id", "day", "billing_type", name=op.f("pk_billing_daily")),
    )
    # Back-fill from the records already there (integer division: a UTC day number on both databases).
    op.execute(
        "INSERT INTO billing_daily (account_id, day, billing_type, count) "
        "SELECT account_id, CAST(created_at / 86400000 AS INTEGER), billing_type, COUNT(*) "
        "FROM billing_records GROUP BY account_id, CAST(created_at / 86400000 AS INTEGER), billing_type"
    )


def downgrade() -> None:
    op.drop_table("billing_daily")
