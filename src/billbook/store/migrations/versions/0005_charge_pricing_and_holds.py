"""Charges priced from the catalog, and holds that expire

``orders.price_version_id``: the price version a charge was priced from (NULL when the price was
sent with the charge). ``orders.inputs``: the inputs sent with the charge, as canonical JSON text
(NULL when none were sent), so a retry is compared with what was sent and ``verify`` can price the
order again. ``predictions.hold_until``: the time after which a prediction still ``created`` or
``processing`` has its hold expired; existing rows get their ``created_at`` plus one hour.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: The default hold timeout, in milliseconds, for predictions charged before holds expired.
DEFAULT_HOLD_MS = 3_600_000
#: Only holds still open are ever swept: the index holds nothing else.
OPEN_HOLDS = "status IN ('created', 'processing')"


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: SQLite's batch mode would copy (drop and recreate) tables
    # that other tables reference, which its foreign key checks refuse once they hold rows.
    if op.get_bind().dialect.name == "sqlite":
        # Alembic adds a foreign key as a separate constraint, which SQLite has no ALTER for; SQLite
        # takes it inline in ADD COLUMN when the column's default is NULL.
        op.execute(
            "ALTER TABLE orders ADD COLUMN price_version_id INTEGER "
            "CONSTRAINT fk_orders_price_version_id_model_versions REFERENCES model_versions (id)"
        )
    else:
        op.add_column(
            "orders",
            sa.Column(
                "price_version_id",
                _BigId,
                sa.ForeignKey("model_versions.id", name="fk_orders_price_version_id_model_versions"),
                nullable=True,
            ),
        )
    op.add_column("orders", sa.Column("inputs", sa.Text(), nullable=True))
    # SQLite adds a NOT NULL column only with a default; the backfill then replaces it in every
    # row, and PostgreSQL drops it so that no prediction is ever written without its own deadline.
    op.add_column(
        "predictions", sa.Column("hold_until", sa.BigInteger(), nullable=False, server_default="0")
    )
    op.execute(f"UPDATE predictions SET hold_until = created_at + {DEFAULT_HOLD_MS}")
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("predictions", "hold_until", existing_type=sa.BigInteger(), server_default=None)
    op.create_index(
        "ix_predictions_open_hold_until",
        "predictions",
        ["hold_until"],
        postgresql_where=sa.text(OPEN_HOLDS),
        sqlite_where=sa.text(OPEN_HOLDS),
    )


def downgrade() -> None:
    op.drop_index("ix_predictions_open_hold_until", table_name="predictions")
    op.drop_column("predictions", "hold_until")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("fk_orders_price_version_id_model_versions", "orders", type_="foreignkey")
    op.drop_column("orders", "inputs")
    op.drop_column("orders", "price_version_id")
