"""The billing search: filters, a total order, exact counts, and pages.

A page's ids are chosen from the ``(account_id, …, created_at, id)`` indexes (an offset walks index
entries only) and only those records are joined, in one statement. Counts come
from ``billing_daily`` for whole days and from the index for the part-days at a range's edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect
from billbook.store.billing import view_query
from billbook.store.rows import RecordView
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


@dataclass(frozen=True)
class _Shape:
    """Which filters a statement has; one statement is built per shape and dialect."""

    dialect: str
    billing_type: bool
    low: bool
    high: bool
    models: bool
    keys: bool
    predictions: bool
    ascending: bool = False


def _shape(conn: AsyncConnection, c: Criteria, low: int | None, high: int | None) -> _Shape:
    return _Shape(
        dialect.name(conn), c.billing_type is not None, low is not None, high is not None,
        bool(c.model_uuids), bool(c.access_key_ids), bool(c.prediction_uuids), c.ascending,
    )


def _params(c: Criteria, low: int | None, high: int | None) -> dict[str, Any]:
    return {
        "account_id": c.account_id,
        "billing_type": c.billing_type,
        "low": low,
        "high": high,
        "models": list(c.model_uuids),
        "keys": list(c.access_key_ids),
        "predictions": list(c.prediction_uuids),
    }


def _conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    r = billing_records.c
    where: list[ColumnElement[bool]] = [r.account_id == bindparam("account_id")]
    if shape.billing_type:
        where.append(r.billing_type == bindparam("billing_type"))
    if shape.low:
        where.append(r.created_at >= bindparam("low"))
    if shape.high:
        where.append(r.created_at <= bindparam("high"))
    if shape.models:
        where.append(dialect.among(shape.dialect, r.model_uuid, "models"))
    if shape.keys:
        where.append(dialect.among(shape.dialect, r.access_key_id, "keys"))
    if shape.predictions:
        ids = select(predictions.c.id).where(
            predictions.c.account_id == bindparam("account_id"), dialect.among(shape.dialect, predictions.c.uuid, "predictions")
        )
        where.append(r.prediction_id.in_(ids))
    return where


@lru_cache(maxsize=512)
def _count_statement(shape: _Shape) -> Any:
    return select(func.count()).select_from(billing_records).where(and_(*_conditions(shape)))


async def count(conn: AsyncConnection, criteria: Criteria, low: int | None, high: int | None) -> int:
    """Matching records with ``low <= created_at <= high`` (either bound may be open), by the index."""
    statement = _count_statement(_shape(conn, criteria, low, high))
    rows = await dialect.fetch(conn, statement, _params(criteria, low, high))
    return int(next(iter(rows[0].values())))


@lru_cache(maxsize=16)
def _day_counts_statement(dialect_name: str, billing_type: bool, first: bool, last: bool) -> Any:
    d = billing_daily.c
    query = select(d.day, func.sum(d.count).label("n")).where(d.account_id == bindparam("account_id"))
    if billing_type:
        query = query.where(d.billing_type == bindparam("billing_type"))
    if first:
        query = query.where(d.day >= bindparam("first"))
    if last:
        query = query.where(d.day <= bindparam("last"))
    return query.group_by(d.day).order_by(d.day)


@lru_cache(maxsize=16)
def _day_total_statement(dialect_name: str, billing_type: bool, first: bool, last: bool) -> Any:
    inner = _day_counts_statement(dialect_name, billing_type, first, last).subquery()
    return select(func.coalesce(func.sum(inner.c.n), 0).label("n"))


async def day_total(conn: AsyncConnection, criteria: Criteria, first_day: int | None, last_day: int | None) -> int:
    """Records in days ``[first_day, last_day]``, summed in the database (no row per day)."""
    statement = _day_total_statement(
        dialect.name(conn), criteria.billing_type is not None, first_day is not None, last_day is not None
    )
    params = {"account_id": criteria.account_id, "billing_type": criteria.billing_type, "first": first_day, "last": last_day}
    return int((await dialect.fetch(conn, statement, params))[0]["n"])


async def day_counts(conn: AsyncConnection, criteria: Criteria, first_day: int | None, last_day: int | None) -> list[tuple[int, int]]:
    """``(day, records)`` for days in ``[first_day, last_day]`` with any matching record, ascending."""
    statement = _day_counts_statement(
        dialect.name(conn), criteria.billing_type is not None, first_day is not None, last_day is not None
    )
    params = {"account_id": criteria.account_id, "billing_type": criteria.billing_type, "first": first_day, "last": last_day}
    return [(int(row["day"]), int(row["n"])) for row in await dialect.fetch(conn, statement, params) if row["n"]]


@lru_cache(maxsize=512)
def _page_statement(shape: _Shape) -> Any:
    r = billing_records.c
    order = (r.created_at.asc(), r.id.asc()) if shape.ascending else (r.created_at.desc(), r.id.desc())
    ids = (
        select(r.id)
        .where(and_(*_conditions(shape)))
        .order_by(*order)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
    ).scalar_subquery()
    return view_query().where(r.id.in_(ids)).order_by(*order)


async def page(
    conn: AsyncConnection, criteria: Criteria, low: int | None, high: int | None, *, offset: int, limit: int
) -> list[RecordView]:
    """One page of records in ``[low, high]``, joined for rendering, in the search's order.

    The page's ids are chosen by an inner query over the index alone; only they are joined.
    """
    statement = _page_statement(_shape(conn, criteria, low, high))
    params = _params(criteria, low, high) | {"offset": offset, "limit": limit}
    return [RecordView(**row) for row in await dialect.fetch(conn, statement, params)]
