"""Events: the outbox written in the transaction of each ledger change that causes one

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", _BigId, nullable=False),
        sa.Column("uuid", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_events_account_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("uuid", name="uq_events_uuid"),
    )
    op.create_index("ix_events_account_id", "events", ["account_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_account_id", table_name="events")
    op.drop_table("events")
