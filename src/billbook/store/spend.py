"""Each account's stored 30-day spend (``account_spend``), what keeps it exact, and what reads it.

``amount`` is the ``usage_daily`` spend of every day from ``day - 29`` on (future days included,
as the operator's ``spend_30d`` counts them). A change of spend adds to it in the same
transaction, under the account's lock; when the writer's UTC day is past the row's ``day`` the
figure is recomputed for the writer's day instead (at most one account's 30 days of cells, once a
day per account). A figure stays exact for every later day until a day of its window falls out,
which ``roll`` repairs for the accounts that had spend on that day. Rows whose ``day`` is after
the reader's are recomputed by the reader (a clock ahead, or a read of the past).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, bindparam, case, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect
from billbook.store.tables import account_spend, account_spend_rolled, accounts, usage_daily

#: Days in the window, its last day included.
WINDOW_DAYS = 30
_COLUMNS = ("account_id", "day", "amount")
s, u = account_spend.c, usage_daily.c


def _window_sum(account_id: Any, last_day: Any) -> Any:
    """Spend of one account from ``last_day - 29`` on, from its ``usage_daily`` cells (primary key)."""
    return (
        select(func.coalesce(func.sum(u.deduct_amount - u.refund_amount), 0))
        .where(u.account_id == account_id, u.day >= last_day - (WINDOW_DAYS - 1))
        .scalar_subquery()
    )


@lru_cache
def _upsert(dialect_name: str) -> Any:
    """Add a change made on the row's own day; otherwise recompute the window of the later of the
    row's day and the writer's (the change's cells are written first, in the same transaction)."""
    statement = dialect.many_rows_insert(dialect_name, account_spend, _COLUMNS)
    new = statement.excluded
    later = dialect.greatest(dialect_name)(s.day, new.day)
    # Named as text inside the subquery: SQLAlchemy does not correlate a subquery of ON CONFLICT's
    # SET with the row being updated (it would add the tables to the subquery's FROM).
    row_day, row_id = literal_column("account_spend.day"), literal_column("account_spend.account_id")
    later_in_sql = dialect.greatest(dialect_name)(row_day, literal_column("excluded.day"))
    same_day = case((new.day == s.day, s.amount + new.amount), else_=_window_sum(row_id, later_in_sql))
    return statement.on_conflict_do_update(index_elements=["account_id"], set_={"amount": same_day, "day": later})


def changes(cells: Iterable[Mapping[str, Any]], today: int) -> list[dict[str, int]]:
    """Per account, the spend ``cells`` (``usage.add``'s arguments) add to the window ending on
    ``today``: the rows of ``add``."""
    delta: dict[int, int] = defaultdict(int)
    for cell in cells:
        net = cell.get("deduct_amount", 0) - cell.get("refund_amount", 0)
        if net or cell.get("deduct_count", 0) or cell.get("refund_count", 0):
            delta[cell["account_id"]] += net if cell["day"] >= today - (WINDOW_DAYS - 1) else 0
    return [{"account_id": a, "day": today, "amount": n} for a, n in sorted(delta.items())]


async def add(conn: AsyncConnection, rows: list[dict[str, int]]) -> None:
    """Apply ``changes`` (after the cells they come from are written)."""
    await dialect.execute_many(conn, _upsert(dialect.name(conn)), rows, _COLUMNS)


async def insert_account(conn: AsyncConnection, account_id: int, today: int) -> None:
    """A new account's row: no spend."""
    await conn.execute(account_spend.insert().values(account_id=account_id, day=today, amount=0))


# --- reads ----------------------------------------------------------------------------------------


async def rolled(conn: AsyncConnection) -> int:
    """The day the figures were last rolled to (see ``tables.account_spend_rolled``)."""
    value = (await conn.execute(select(account_spend_rolled.c.day).where(account_spend_rolled.c.id == 1))).scalar()
    return int(value) if value is not None else 0


def unsettled(rolled_day: int, today: int) -> Any:
    """Ids of the accounts whose figure may not be exact on ``today``: those with spend cells on a
    day that left the window after ``rolled_day``, and those whose figure is of a later day."""
    later = select(s.account_id.label("account_id")).where(s.day > today)
    first_left, last_left = rolled_day - WINDOW_DAYS + 1, today - WINDOW_DAYS
    if first_left > last_left:
        return later
    left = select(u.account_id.label("account_id")).where(u.day.between(first_left, last_left))
    return later.union(left)


async def unsettled_ids(conn: AsyncConnection, today: int) -> set[int]:
    return {int(r[0]) for r in await conn.execute(unsettled(await rolled(conn), today))}


# --- the roll -------------------------------------------------------------------------------------


async def to_roll(conn: AsyncConnection, rolled_day: int, today: int) -> list[int]:
    """Accounts with spend cells on a day that left the window after ``rolled_day`` whose figure
    is of a day before ``today`` (by the ``usage_daily`` day index)."""
    first_left, last_left = max(rolled_day - WINDOW_DAYS + 1, 0), today - WINDOW_DAYS
    if first_left > last_left:
        return []
    left = select(u.account_id).where(u.day.between(first_left, last_left)).distinct().subquery()
    query = (
        select(s.account_id)
        .select_from(account_spend.join(left, left.c.account_id == s.account_id))
        .where(s.day < today)
        .order_by(s.account_id)
    )
    return [int(r[0]) for r in await conn.execute(query)]


async def recompute(conn: AsyncConnection, account_ids: Collection[int], today: int) -> None:
    """Set the accounts' figures to their exact spend on ``today`` (their rows locked by the caller,
    through ``accounts``, as a charge locks them), unless already of a later day."""
    if not account_ids:
        return
    statement = (
        update(account_spend)
        .where(dialect.one_of(conn, s.account_id, account_ids), s.day < today)
        .values(amount=_window_sum(s.account_id, today), day=today)
    )
    await conn.execute(statement)


async def set_rolled(conn: AsyncConnection, today: int) -> None:
    """Mark the figures rolled through ``today`` (never backwards)."""
    t = account_spend_rolled.c
    statement = dialect.insert_for(dialect.name(conn), account_spend_rolled).values(id=1, day=today)
    statement = statement.on_conflict_do_update(
        index_elements=["id"], set_={"day": dialect.greatest(dialect.name(conn))(t.day, statement.excluded.day)}
    )
    await conn.execute(statement)


async def rebuild(conn: AsyncConnection, today: int) -> None:
    """Every account's figure recomputed for ``today`` and the roll marked there: the back-fill of a
    new table, and of a database loaded in bulk (``bench``)."""
    await conn.execute(account_spend.delete())
    query = select(accounts.c.id, bindparam("today", today, type_=Integer), _window_sum(accounts.c.id, today))
    await conn.execute(account_spend.insert().from_select(list(_COLUMNS), query))
    await set_rolled(conn, today)
