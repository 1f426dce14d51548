"""billing_monthly: record counts and sums per account, UTC month, type and model

The monthly statements read these rows instead of the month's records. The back-fill groups the
records already there by month with a join on a small table of month bounds (one row per month
between the oldest and the newest record), the same SQL on both databases.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from billbook.times import month_key, month_start_ms, next_month

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billing_monthly",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("billing_type", sa.String(length=16), nullable=False),
        sa.Column("model_uuid", sa.String(length=200), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_billing_monthly_account_id_accounts")),
        sa.PrimaryKeyConstraint("account_id", "month", "billing_type", "model_uuid", name=op.f("pk_billing_monthly")),
    )
    _backfill()


def _backfill() -> None:
    bind = op.get_bind()
    oldest, newest = bind.execute(sa.text("SELECT MIN(created_at), MAX(created_at) FROM billing_records")).one()
    if oldest is None:
        return
    bounds = sa.table(
        "billing_month_bounds",
        sa.column("month", sa.Integer()),
        sa.column("start_ms", sa.BigInteger()),
        sa.column("end_ms", sa.BigInteger()),
    )
    op.create_table(
        "billing_month_bounds",
        sa.Column("month", sa.Integer(), primary_key=True),
        sa.Column("start_ms", sa.BigInteger(), nullable=False),
        sa.Column("end_ms", sa.BigInteger(), nullable=False),
    )
    rows, month = [], month_key(oldest)
    while month <= month_key(newest):
        rows.append({"month": month, "start_ms": month_start_ms(month), "end_ms": month_start_ms(next_month(month))})
        month = next_month(month)
    op.bulk_insert(bounds, rows)
    op.execute(
        "INSERT INTO billing_monthly (account_id, month, billing_type, model_uuid, count, amount) "
        "SELECT r.account_id, b.month, r.billing_type, COALESCE(r.model_uuid, ''), COUNT(*), SUM(r.delta) "
        "FROM billing_records r JOIN billing_month_bounds b ON r.created_at >= b.start_ms AND r.created_at < b.end_ms "
        "GROUP BY r.account_id, b.month, r.billing_type, COALESCE(r.model_uuid, '')"
    )
    op.drop_table("billing_month_bounds")


def downgrade() -> None:
    op.drop_table("billing_monthly")
