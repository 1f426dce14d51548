"""The operator's accounts list at scale: each account's stored 30-day spend, and a trigram search
of account names

``account_spend``: one row per account, ``amount`` the ``usage_daily`` spend of every day from
``day - 29`` on (see ``store.spend``), back-filled for the day of the migration, which
``account_spend_rolled`` records as rolled. ``account_count``: the number of accounts, for the
list's total. Names: an index on ``lower(name)`` (by code point:
``COLLATE "C"`` on PostgreSQL) for queries shorter than a trigram; on PostgreSQL a ``pg_trgm`` GIN
index on ``lower(name)``, without a pending list (a search would read all of it); the extension is
created if missing; a server without it, or a role that may not create it, keeps the search
without the index: correct, and as slow as before; on
SQLite an FTS5 ``trigram`` table over ``accounts.name`` kept in step by triggers, filled here.

Revision ID: 0012
Revises: 0011
"""

import logging
import time

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

MS_PER_DAY = 86_400_000
FTS = "accounts_name_fts"
log = logging.getLogger("billbook.migrations")


def _spend() -> None:
    op.create_table(
        "account_spend",
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("accounts.id", name="fk_account_spend_account_id_accounts"), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name="pk_account_spend"),
    )
    op.create_table(
        "account_spend_rolled",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_account_spend_rolled"),
    )
    today = int(time.time() * 1000) // MS_PER_DAY
    op.execute(
        sa.text(
            "INSERT INTO account_spend (account_id, day, amount) SELECT a.id, :today,"
            " COALESCE((SELECT SUM(u.deduct_amount - u.refund_amount) FROM usage_daily u"
            " WHERE u.account_id = a.id AND u.day >= :first), 0) FROM accounts a"
        ).bindparams(today=today, first=today - 29)
    )
    op.execute(sa.text("INSERT INTO account_spend_rolled (id, day) VALUES (1, :today)").bindparams(today=today))
    op.create_index("ix_account_spend_amount", "account_spend", ["amount", "account_id"])
    op.create_index("ix_account_spend_day", "account_spend", ["day"])
    op.create_table(
        "account_count",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("accounts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_account_count"),
    )
    op.execute("INSERT INTO account_count (id, accounts) SELECT 1, COUNT(*) FROM accounts")


def _postgresql_names() -> None:
    op.execute('CREATE INDEX ix_accounts_name_lower ON accounts ((lower(name) COLLATE "C"))')
    bind = op.get_bind()
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        savepoint.rollback()
        log.warning("pg_trgm is not available (%s): the accounts search works without its index", exc.orig)
        return
    savepoint.commit()
    # Without the pending list: names change rarely, and a search would scan the list whole.
    op.execute("CREATE INDEX ix_accounts_name_trgm ON accounts USING gin (lower(name) gin_trgm_ops) WITH (fastupdate = off)")


def _sqlite_names() -> None:
    op.execute("CREATE INDEX ix_accounts_name_lower ON accounts (lower(name))")
    op.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5(name, content='accounts', content_rowid='id', tokenize='trigram')")
    op.execute(
        f"CREATE TRIGGER {FTS}_insert AFTER INSERT ON accounts BEGIN"
        f" INSERT INTO {FTS} (rowid, name) VALUES (new.id, new.name); END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS}_delete AFTER DELETE ON accounts BEGIN"
        f" INSERT INTO {FTS} ({FTS}, rowid, name) VALUES ('delete', old.id, old.name); END"
    )
    op.execute(
        f"CREATE TRIGGER {FTS}_update AFTER UPDATE OF name ON accounts BEGIN"
        f" INSERT INTO {FTS} ({FTS}, rowid, name) VALUES ('delete', old.id, old.name);"
        f" INSERT INTO {FTS} (rowid, name) VALUES (new.id, new.name); END"
    )
    op.execute(f"INSERT INTO {FTS} ({FTS}) VALUES ('rebuild')")


def upgrade() -> None:
    _spend()
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_names()
    else:
        _sqlite_names()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_accounts_name_trgm")
    else:
        for suffix in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {FTS}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")
    op.drop_index("ix_accounts_name_lower", table_name="accounts")
    op.drop_index("ix_account_spend_day", table_name="account_spend")
    op.drop_index("ix_account_spend_amount", table_name="account_spend")
    op.drop_table("account_count")
    op.drop_table("account_spend_rolled")
    op.drop_table("account_spend")
