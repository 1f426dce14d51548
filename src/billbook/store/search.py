"""The billing search: filters, a total order, exact counts, and pages.

A page's ids are chosen from the ``(account_id, …, created_at, id)`` indexes (an offset walks index
entries only) and only those records are joined, in one statement. Counts come
from ``billing_daily`` for whole days and from the index for the part-days at a range's edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, and_, any_, bindparam, func, literal_column, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect
from billbook.store.archive import newest_month, watched
from billbook.store.billing import view_query
from billbook.store.rows import RecordView
from billbook.store.tables import billing_daily, billing_daily_shards, billing_records, predictions, usage_daily
from billbook.vocabulary import BillingType


@dataclass(frozen=True)
class Criteria:
    """``account_id`` ``None``: every account (the operator's search); the same statements without
    the account, walking the ``(…, created_at, id)`` indexes that lack it."""

    account_id: int | None
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
    #: A single model or key is compared with ``=``: an index scan can then walk
    #: ``(account_id, model_uuid, created_at, id)`` in order, which ``= ANY(list)`` cannot.
    one_model: bool = False
    one_key: bool = False
    #: No account filter: the operator's search across every account.
    every_account: bool = False
    #: Refunds of a model or key: the few records of a type, found through the type's index
    #: (a model's or key's index would walk its deducts too, which statistics taken before a bulk
    #: load cannot tell apart).
    by_type: bool = False


def _shape(conn: AsyncConnection, c: Criteria, low: int | None, high: int | None) -> _Shape:
    return _Shape(
        dialect.name(conn), c.billing_type is not None, low is not None, high is not None,
        bool(c.model_uuids), bool(c.access_key_ids), bool(c.prediction_uuids), c.ascending,
        len(set(c.model_uuids)) == 1, len(set(c.access_key_ids)) == 1, c.account_id is None,
        c.billing_type == BillingType.REFUND and bool(c.model_uuids or c.access_key_ids),
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
        "model": c.model_uuids[0] if c.model_uuids else None,
        "key": c.access_key_ids[0] if c.access_key_ids else None,
    }


def _conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    r = billing_records.c
    by_prediction = shape.predictions and shape.dialect == dialect.POSTGRESQL
    # ``account_id + 0`` still filters by the account but cannot lead an index: the records of the
    # chosen predictions are then found by ``prediction_id``, never by walking the whole account.
    account = (r.account_id + literal_column("0")) if by_prediction else r.account_id
    where: list[ColumnElement[bool]] = [] if shape.every_account else [account == bindparam("account_id")]
    if shape.billing_type:
        where.append(r.billing_type == bindparam("billing_type"))
    for bounded in (r.created_at, _time(shape)) if shape.every_account else (r.created_at,):
        if shape.low:
            where.append(bounded >= bindparam("low"))
        if shape.high:
            where.append(bounded <= bindparam("high"))
    # ``model_uuid || ''`` still filters by the model but cannot lead an index (see ``by_type``).
    unindexed = shape.by_type and shape.dialect == dialect.POSTGRESQL
    model = (r.model_uuid + literal_column("''")) if unindexed else r.model_uuid
    key = (r.access_key_id + literal_column("''")) if unindexed else r.access_key_id
    if shape.one_model:
        where.append(model == bindparam("model"))
    elif shape.models:
        where.append(dialect.among(shape.dialect, model, "models"))
    if shape.one_key:
        where.append(key == bindparam("key"))
    elif shape.keys:
        where.append(dialect.among(shape.dialect, key, "keys"))
    if shape.predictions:
        p = predictions.c
        owner = (p.account_id + literal_column("0")) if by_prediction else p.account_id
        chosen = [dialect.among(shape.dialect, p.uuid, "predictions")]
        if not shape.every_account:
            chosen.append(owner == bindparam("account_id"))
        ids = select(p.id).where(*chosen)
        if by_prediction:
            # The predictions' ids as one array, found first (an InitPlan): the records are then
            # looked up by ``prediction_id``, whatever the statistics say of the account's size.
            where.append(r.prediction_id == any_(func.array(ids.scalar_subquery())))
        else:
            where.append(r.prediction_id.in_(ids))
    return where or [true()]


def _predictions_cte(shape: _Shape) -> Any:
    """The few records of the chosen predictions (at most a hundred predictions), fetched first
    and kept apart (MATERIALIZED) so that ordering them is a sort of those rows, never a walk of
    the account's records in time order."""
    r = billing_records.c
    return (
        select(r.id, r.created_at).where(and_(*_conditions(shape))).cte("chosen").prefix_with("MATERIALIZED", dialect="postgresql")
    )


def _filter_index_order(shape: _Shape) -> tuple[Any, ...]:
    """The order a count asks its rows in: only an index led by ``account_id`` and the equality
    filters, then ``(created_at, id)``, gives it without a sort.

    With stale statistics (a bulk load since the last ANALYZE) every index of the account looks
    equally cheap, and the planner may otherwise count through one that matches ``account_id``
    alone (the reference constraint's) and filter every record of the account. With sorts disabled
    for reads (``pg_transaction.PG_READ_PLANNER_SETTINGS``) the index that bounds the time range is the cheap
    plan left."""
    r = billing_records.c
    if shape.every_account:
        return (_time(shape), r.id)
    if shape.billing_type:
        return (r.billing_type, r.created_at, r.id)
    return (r.created_at, r.id)


def _time(shape: _Shape) -> Any:
    """``created_at`` as the search orders and bounds by it. Across every account it is
    ``created_at + 0``, the expression ``ix_billing_records_time`` is built on: that index then
    serves the operator's search alone, and one account's search, whatever the statistics say,
    can never walk every account's records through it."""
    r = billing_records.c
    return (r.created_at + literal_column("0")) if shape.every_account else r.created_at


@lru_cache(maxsize=512)
def _count_statement(shape: _Shape) -> Any:
    r = billing_records.c
    where = and_(*_conditions(shape))
    if shape.dialect != dialect.POSTGRESQL:
        return select(func.count()).select_from(billing_records).where(where)
    if shape.predictions:
        return select(func.count()).select_from(_predictions_cte(shape))
    ordered = select(r.id).where(where).order_by(*_filter_index_order(shape)).subquery("matching")
    return select(func.count()).select_from(ordered)


@lru_cache(maxsize=64)
def _usage_total_statement(
    dialect_name: str, models: bool, keys: bool, first: bool, last: bool, deducts: bool, refunds: bool, every_account: bool = False,
    one_model: bool = False, one_key: bool = False,
) -> Any:
    """One model or key is compared with ``=``: a generic plan then reads it in the primary key's
    index condition, where ``= ANY(list)`` is a filter on every row of the account."""
    u = usage_daily.c
    counted = (
        (u.deduct_count + u.refund_count) if deducts and refunds else u.deduct_count if deducts else u.refund_count
    )
    query = select(func.coalesce(func.sum(counted), 0).label("n"))
    if not every_account:
        query = query.where(u.account_id == bindparam("account_id"))
    if one_model:
        query = query.where(u.model_uuid == bindparam("model"))
    elif models:
        query = query.where(dialect.among(dialect_name, u.model_uuid, "models"))
    if one_key:
        query = query.where(u.access_key_id == bindparam("key"))
    elif keys:
        query = query.where(dialect.among(dialect_name, u.access_key_id, "keys"))
    if first:
        query = query.where(u.day >= bindparam("first"))
    if last:
        query = query.where(u.day <= bindparam("last"))
    return query


async def usage_total(
    conn: AsyncConnection, criteria: Criteria, first_day: int | None, last_day: int | None, *, deducts: bool, refunds: bool
) -> int:
    """Deduct and/or refund records of the criteria's models and keys, from ``usage_daily``.

    The rollup counts a refund on its deduct's day, so by day it is exact for deducts only; over
    all days it is exact for both (every deduct and refund record is counted once, under the
    record's model and key)."""
    statement = _usage_total_statement(
        dialect.name(conn), bool(criteria.model_uuids), bool(criteria.access_key_ids),
        first_day is not None, last_day is not None, deducts, refunds, criteria.account_id is None,
        len(set(criteria.model_uuids)) == 1, len(set(criteria.access_key_ids)) == 1,
    )
    params = {
        "account_id": criteria.account_id, "models": list(criteria.model_uuids), "keys": list(criteria.access_key_ids),
        "model": criteria.model_uuids[0] if criteria.model_uuids else None,
        "key": criteria.access_key_ids[0] if criteria.access_key_ids else None,
        "first": first_day, "last": last_day,
    }
    return int((await dialect.fetch(conn, statement, params))[0]["n"])


async def count(conn: AsyncConnection, criteria: Criteria, low: int | None, high: int | None) -> int:
    """Matching records with ``low <= created_at <= high`` (either bound may be open), by the index."""
    statement = _count_statement(_shape(conn, criteria, low, high))
    rows = await dialect.fetch(conn, statement, _params(criteria, low, high))
    return int(next(iter(rows[0].values())))


def _day_filters(d: Any, every_account: bool, billing_type: bool, first: bool, last: bool) -> list[Any]:
    where = [] if every_account else [d.account_id == bindparam("account_id")]
    if billing_type:
        where.append(d.billing_type == bindparam("billing_type"))
    if first:
        where.append(d.day >= bindparam("first"))
    if last:
        where.append(d.day <= bindparam("last"))
    return where


@lru_cache(maxsize=16)
def _day_counts_statement(dialect_name: str, billing_type: bool, first: bool, last: bool, every_account: bool = False) -> Any:
    """Records per day: of one account from ``billing_daily``; of every account from its shards
    (``billing_daily_shards``, a fixed number of rows per day however many accounts there are).

    Unordered (``day_counts`` orders them). Across every account the days are grouped by
    ``day + 0``: the primary key's order is then of no use, so a year of shard rows is read by one
    sequential scan and hashed, not fetched one by one through the index (a third of the time)."""
    d = billing_daily_shards.c if every_account else billing_daily.c
    day = (d.day + literal_column("0")) if every_account else d.day
    where = _day_filters(d, every_account, billing_type, first, last)
    return select(day.label("day"), func.sum(d.count).label("n")).where(*where).group_by(day)


@lru_cache(maxsize=16)
def _day_total_statement(dialect_name: str, billing_type: bool, first: bool, last: bool, every_account: bool = False) -> Any:
    """Records in a range of days, one sum (no row per day: across every account and all time
    that is one sequential scan of the shards)."""
    d = billing_daily_shards.c if every_account else billing_daily.c
    where = _day_filters(d, every_account, billing_type, first, last)
    return select(func.coalesce(func.sum(d.count), 0).label("n")).where(*where)


async def day_total(conn: AsyncConnection, criteria: Criteria, first_day: int | None, last_day: int | None) -> int:
    """Records in days ``[first_day, last_day]``, summed in the database (no row per day)."""
    statement = _day_total_statement(
        dialect.name(conn), criteria.billing_type is not None, first_day is not None, last_day is not None,
        criteria.account_id is None,
    )
    params = {"account_id": criteria.account_id, "billing_type": criteria.billing_type, "first": first_day, "last": last_day}
    return int((await dialect.fetch(conn, statement, params))[0]["n"])


async def day_counts(conn: AsyncConnection, criteria: Criteria, first_day: int | None, last_day: int | None) -> list[tuple[int, int]]:
    """``(day, records)`` for days in ``[first_day, last_day]`` with any matching record, ascending."""
    statement = _day_counts_statement(
        dialect.name(conn), criteria.billing_type is not None, first_day is not None, last_day is not None,
        criteria.account_id is None,
    )
    params = {"account_id": criteria.account_id, "billing_type": criteria.billing_type, "first": first_day, "last": last_day}
    rows = await dialect.fetch(conn, statement, params)
    return sorted((int(row["day"]), int(row["n"])) for row in rows if row["n"])


@lru_cache(maxsize=512)
def _page_statement(shape: _Shape) -> Any:
    r = billing_records.c
    time = _time(shape)
    order = (time.asc(), r.id.asc()) if shape.ascending else (time.desc(), r.id.desc())
    if shape.predictions and shape.dialect == dialect.POSTGRESQL:
        chosen = _predictions_cte(shape)
        inner = (chosen.c.created_at, chosen.c.id)
        chosen_order = tuple(c.asc() for c in inner) if shape.ascending else tuple(c.desc() for c in inner)
        chosen_ids = select(chosen.c.id).order_by(*chosen_order).offset(bindparam("offset")).limit(bindparam("limit"))
        chosen_times = select(chosen.c.created_at).order_by(*chosen_order).offset(bindparam("offset")).limit(bindparam("limit"))
        # The page's ids and times as arrays (InitPlans): the records are then fetched by primary
        # key, in the partitions of those times only (and put in order by ``page``).
        return view_query().where(
            r.id == any_(func.array(chosen_ids.scalar_subquery())),
            r.created_at == any_(func.array(chosen_times.scalar_subquery())),
        )
    if shape.dialect == dialect.POSTGRESQL:
        return _page_by_lookups(shape, order)
    chosen = select(r.id).where(and_(*_conditions(shape))).order_by(*order).offset(bindparam("offset")).limit(bindparam("limit"))
    return view_query().where(r.id.in_(chosen.scalar_subquery())).order_by(*order)


def _page_by_lookups(shape: _Shape, order: tuple[Any, ...]) -> Any:
    """PostgreSQL: the page's ``(id, created_at)`` chosen first from the index alone (a
    MATERIALIZED CTE: its plan is its own, an index walk in the search's order), then each record
    looked up by primary key in a LATERAL subquery (``LIMIT 1`` keeps it one: never flattened into
    a join the planner could turn round). Each lookup's ``created_at`` prunes the partitions at run
    time, so a page reads one partition per record, not every month's index twice as ``= ANY``
    arrays did. Put in order by ``page``."""
    r = billing_records.c
    chosen = (
        select(r.id, r.created_at)
        .where(and_(*_conditions(shape)))
        .order_by(*order)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
        .cte("chosen")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    record = (
        select(billing_records)
        .where(r.id == chosen.c.id, r.created_at == chosen.c.created_at)
        .limit(1)
        .lateral("record")
    )
    return view_query(record, chosen.join(record, true()))


@lru_cache(maxsize=64)
def _first_page_statement(shape: _Shape, first: bool, last: bool, archive: bool) -> Any:
    total = _day_total_statement(shape.dialect, shape.billing_type, first, last, shape.every_account).scalar_subquery()
    statement = _page_statement(shape).add_columns(total.label("total"))
    return statement.add_columns(newest_month().label("archived_month")) if archive else statement


def _view_total(*values: Any) -> tuple[RecordView, int, None]:
    return RecordView(*values[:-1]), values[-1], None


def _view_total_month(*values: Any) -> tuple[RecordView, int, str | None]:
    return RecordView(*values[:-2]), values[-2], values[-1]


@dataclass(frozen=True)
class FirstPage:
    total: int
    items: list[RecordView]
    #: The newest archived month the statement's snapshot holds (None: none, or never archived).
    archived_month: str | None


async def first_page(
    conn: AsyncConnection, criteria: Criteria, first_day: int | None, last_day: int | None, *, limit: int
) -> FirstPage:
    """The first page of a search that the daily counts answer whole (its range starts and ends on
    UTC days, or is open) and its total, in one statement: one round trip instead of two, and one
    snapshot by construction. Every row carries the total; no row means no matching record. Where
    history can be archived the rows also carry the newest archived month, so that the boundary
    the criteria assumed is checked in the same statement (an empty page asks for it on its own)."""
    archive = watched(conn)
    shape = _shape(conn, criteria, criteria.start_ms, criteria.end_ms)
    params = _params(criteria, criteria.start_ms, criteria.end_ms) | {
        "offset": 0, "limit": limit, "first": first_day, "last": last_day,
    }
    statement = _first_page_statement(shape, first_day is not None, last_day is not None, archive)
    rows = await dialect.fetch_rows(conn, statement, params, _view_total_month if archive else _view_total)
    if not rows:
        month = (await dialect.fetch(conn, select(newest_month().label("m")), {}))[0]["m"] if archive else None
        return FirstPage(0, [], month)
    views = [view for view, _, _ in rows]
    views.sort(key=lambda v: (v.created_at, v.id), reverse=not shape.ascending)
    return FirstPage(int(rows[0][1]), views, rows[0][2])


async def page(
    conn: AsyncConnection, criteria: Criteria, low: int | None, high: int | None, *, offset: int, limit: int
) -> list[RecordView]:
    """One page of records in ``[low, high]``, joined for rendering, in the search's order.

    The page's ids are chosen by an inner query over the index alone; only they are joined.
    """
    shape = _shape(conn, criteria, low, high)
    params = _params(criteria, low, high) | {"offset": offset, "limit": limit}
    views = await dialect.fetch_rows(conn, _page_statement(shape), params, RecordView)
    views.sort(key=lambda v: (v.created_at, v.id), reverse=not shape.ascending)
    return views
