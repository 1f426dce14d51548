"""The billing search: filters, a total order, exact counts, and pages.

A page's ids are chosen from the ``(account_id, …, created_at, id)`` indexes (an offset walks index
entries only) and only those records are joined, in one statement. Counts come
from ``billing_daily`` for whole days and from the index for the part-days at a range's edges.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store.billing import view_query
from billbook.store.tables import billing_daily, billing_records, predictions


@dataclass(frozen=True)
class Criteria:
    account_id: int
    billing_type: str | None = None
    prediction_uuids: tuple[str, ...] = ()
    model_uuids: tuple[str, ...] = ()
    access_key_ids: tuple[str, ...] = ()
    start_ms: int | None = None
    end_ms: int | None = None
    ascending: bool = False

    @property
    def by_day(self) -> bool:
        """Whether ``billing_daily`` can count this search (it knows account, day and type only)."""
        return not (self.prediction_uuids or self.model_uuids or self.access_key_ids)


def _conditions(c: Criteria, low: int | None, high: int | None) -> list[ColumnElement[bool]]:
    r = billing_records.c
    where: list[ColumnElement[bool]] = [r.account_id == c.account_id]
    if c.billing_type is not None:
        where.append(r.billing_type == c.billing_type)
    if low is not None:
        where.append(r.created_at >= low)
    if high is not None:
        where.append(r.created_at <= high)
    if c.model_uuids:
        where.append(r.model_uuid.in_(c.model_uuids))
    if c.access_key_ids:
        where.append(r.access_key_id.in_(c.access_key_ids))
    if c.prediction_uuids:
        ids = select(predictions.c.id).where(
            predictions.c.account_id == c.account_id, predictions.c.uuid.in_(c.prediction_uuids)
        )
        where.append(r.prediction_id.in_(ids))
    return where


async def count(conn: AsyncConnection, criteria: Criteria, low: int | None, high: int | None) -> int:
    """Matching records with ``low <= created_at <= high`` (either bound may be open), by the index."""
    query = select(func.count()).select_from(billing_records).where(and_(*_conditions(criteria, low, high)))
    return int((await conn.execute(query)).scalar_one())


async def day_counts(conn: AsyncConnection, criteria: Criteria, first_day: int | None, last_day: int | None) -> list[tuple[int, int]]:
    """``(day, records)`` for days in ``[first_day, last_day]`` with any matching record, ascending."""
    d = billing_daily.c
    query = select(d.day, func.sum(d.count)).where(d.account_id == criteria.account_id)
    if criteria.billing_type is not None:
        query = query.where(d.billing_type == criteria.billing_type)
    if first_day is not None:
        query = query.where(d.day >= first_day)
    if last_day is not None:
        query = query.where(d.day <= last_day)
    rows = await conn.execute(query.group_by(d.day).order_by(d.day))
    return [(int(day), int(n)) for day, n in rows if n]


async def page(
    conn: AsyncConnection, criteria: Criteria, low: int | None, high: int | None, *, offset: int, limit: int
) -> list[dict]:
    """One page of records in ``[low, high]``, joined for rendering, in the search's order.

    The page's ids are chosen by an inner query over the index alone; only they are joined.
    """
    r = billing_records.c
    order = (r.created_at.asc(), r.id.asc()) if criteria.ascending else (r.created_at.desc(), r.id.desc())
    ids = (
        select(r.id).where(and_(*_conditions(criteria, low, high))).order_by(*order).offset(offset).limit(limit)
    ).scalar_subquery()
    query = view_query().where(r.id.in_(ids)).order_by(*order)
    return [dict(row) for row in (await conn.execute(query)).mappings()]
