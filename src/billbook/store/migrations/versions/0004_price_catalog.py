"""price catalog: immutable model price versions and per-account discounts

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", _BigId, nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=100), server_default="", nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("base_price", sa.BigInteger(), nullable=False),
        sa.Column("formula", sa.Text(), nullable=True),
        sa.Column("sort_order", sa.Integer(), server_default="0", nullable=False),
        sa.Column("effective_from", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("model_id", "effective_from", name="uq_model_versions_model_effective"),
    )
    op.create_table(
        "account_discounts",
        sa.Column("id", _BigId, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=True),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("set_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_discounts_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_discounts")),
    )
    op.create_index(
        "ix_account_discounts_account_model",
        "account_discounts",
        ["account_id", "model_id", "set_at", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_account_discounts_account_model", table_name="account_discounts")
    op.drop_table("account_discounts")
    op.drop_table("model_versions")
