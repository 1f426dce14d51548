"""billing_daily_shards: the platform's record counts per shard of accounts, UTC day and type

The operator's search across every account counts a range from these rows (16 per day and type)
instead of summing ``billing_daily`` over every account. Back-filled from ``billing_daily``.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

#: ``tables.SHARDS`` as of this revision (a migration does not follow later changes of the code).
SHARDS = 16


def upgrade() -> None:
    op.create_table(
        "billing_daily_shards",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("billing_type", sa.String(length=16), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "billing_type", "shard", name=op.f("pk_billing_daily_shards")),
    )
    op.execute(
        "INSERT INTO billing_daily_shards (shard, day, billing_type, count) "
        f"SELECT account_id % {SHARDS}, day, billing_type, SUM(count) FROM billing_daily "
        f"GROUP BY account_id % {SHARDS}, day, billing_type"
    )


def downgrade() -> None:
    op.drop_table("billing_daily_shards")
