"""billing_records.balance_after: the account's balance right after each record

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: The ledger's write order is record id order, so each record's balance is the running sum of its
#: account's deltas up to its id. One set-based UPDATE on both databases (SQLite 3.33+ has
#: ``UPDATE … FROM``), whatever the number of records.
BACKFILL = (
    "UPDATE billing_records SET balance_after = running.balance "
    "FROM (SELECT id, SUM(delta) OVER (PARTITION BY account_id ORDER BY id) AS balance "
    "FROM billing_records) AS running "
    "WHERE running.id = billing_records.id"
)


def upgrade() -> None:
    op.add_column("billing_records", sa.Column("balance_after", sa.BigInteger(), nullable=True))
    op.execute(BACKFILL)
    # SQLite cannot add NOT NULL to an existing column: batch mode copies the table.
    with op.batch_alter_table("billing_records") as batch_op:
        batch_op.alter_column("balance_after", existing_type=sa.BigInteger(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("billing_records") as batch_op:
        batch_op.drop_column("balance_after")
