"""Set-based queries behind ``billbook verify``.

Each query states one ledger invariant in SQL and returns only the rows that break it, at most
``limit`` of them, so checking a ledger of millions of records costs a few scans and aggregates in
the database, never a loop over rows in Python. The rules themselves (which order state goes with
which prediction status) come from the caller; this module only knows how to ask.

Months archived to Parquet (``billbook archive``) are no longer in ``billing_records``: their
per-account sums (``billing_archive_accounts``) open each account's running balance, and the
checks of orders and rollups start at the first month still online (``online_from``). A record
online whose id is below one of its account's archived records (a month's records written after a
later month's) has no opening sum to be checked against; the archive's own check covered it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, and_, case, false, func, literal, literal_column, null, or_, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement

from billbook.store import dialect
from billbook.store.archive import archived_before
from billbook.store.tables import (
    SHARDS,
    account_count,
    account_spend,
    account_spend_rolled,
    access_keys,
    audit_log,
    account_discounts,
    accounts,
    billing_daily,
    billing_daily_shards,
    billing_monthly,
    billing_archive_accounts,
    billing_records,
    metadata,
    model_versions,
    orders,
    predictions,
    spend_windows,
    usage_daily,
)
from billbook.times import MS_PER_DAY, month_key
from billbook.vocabulary import BillingType, LimitPeriod, PredictionStatus

r = billing_records.c


def _archived() -> Any:
    """Per account with archived months: the sum of their deltas (``opening``) and their largest id."""
    a = billing_archive_accounts.c
    return (
        select(a.account_id, func.sum(a.delta_sum).label("opening"), func.max(a.max_id).label("max_id"))
        .group_by(a.account_id)
        .subquery("archived")
    )


async def online_from(conn: AsyncConnection) -> int:
    """The first millisecond still in ``billing_records`` (0 when nothing was archived)."""
    found = await archived_before(conn)
    return found[0] if found else 0


@dataclass(frozen=True, slots=True)
class BalanceMismatch:
    account_id: int
    balance: int
    records_sum: int


@dataclass(frozen=True, slots=True)
class RecordAmount:
    id: int
    uuid: str
    account_id: int
    billing_type: str
    price: int
    delta: int


@dataclass(frozen=True, slots=True)
class RecordLinks:
    """A record's links beside what its key and order say (``key_*``, ``order_*``)."""

    id: int
    uuid: str
    account_id: int
    billing_type: str
    ak_id: int | None
    access_key_id: str | None
    order_id: int | None
    prediction_id: int | None
    key_account_id: int | None
    key_access_key_id: str | None
    order_account_id: int | None
    order_prediction_id: int | None
    order_ak_id: int | None


@dataclass(frozen=True, slots=True)
class OrderFigures:
    """An order, its prediction, and the count and price range of its deducts and refunds."""

    order_id: int
    order_uuid: str
    account_id: int
    state: str
    price: int
    prediction_uuid: str
    status: str
    prediction_account_id: int
    deducts: int
    refunds: int
    deduct_min: int | None
    deduct_max: int | None
    refund_min: int | None
    refund_max: int | None


@dataclass(frozen=True, slots=True)
class LonelyPrediction:
    id: int
    uuid: str
    account_id: int
    status: str


@dataclass(frozen=True, slots=True)
class Overdraft:
    """A deduct and the running balance, in write order, right after it."""

    id: int
    uuid: str
    account_id: int
    billing_type: str
    price: int
    running: int


@dataclass(frozen=True, slots=True)
class BalanceAfter:
    """A record's ``balance_after``, the running sum at it, and its account's balance."""

    id: int
    uuid: str
    account_id: int
    balance_after: int
    running: int
    balance: int


@dataclass(frozen=True, slots=True)
class LastPrice:
    account_id: int
    day: int
    model_uuid: str
    access_key_id: str
    last_used_at: int
    last_price: int


@dataclass(frozen=True, slots=True)
class CellDifference:
    """A rollup cell as stored and as recomputed from the records; ``None`` for a side that lacks it."""

    account_id: int
    key: dict[str, Any]
    stored: dict[str, int] | None
    computed: dict[str, int] | None


async def _rows(conn: AsyncConnection, query: Any, limit: int, row_type: type) -> list[Any]:
    return [row_type(**row) for row in (await conn.execute(query.limit(limit))).mappings()]


async def allow_full_scans(conn: AsyncConnection) -> None:
    """``verify`` reads every row: the read transaction's OLTP planner settings (no sequential scans,
    no sorts, ``pg_transaction.PG_READ_PLANNER_SETTINGS``) would leave it nested loops over partitioned records
    that have no index by order. Restored for the rest of its transaction (PostgreSQL only)."""
    if dialect.name(conn) == dialect.POSTGRESQL:
        for setting in ("enable_seqscan", "enable_sort", "enable_bitmapscan"):
            await conn.execute(text(f"SET LOCAL {setting} = on"))


async def counts(conn: AsyncConnection) -> dict[str, int]:
    """How much was checked: accounts, records, orders."""
    query = select(
        select(func.count()).select_from(accounts).scalar_subquery().label("accounts"),
        select(func.count()).select_from(billing_records).scalar_subquery().label("records"),
        select(func.count()).select_from(orders).scalar_subquery().label("orders"),
    )
    row = (await conn.execute(query)).mappings().one()
    return {k: int(v) for k, v in row.items()}


async def balance_mismatches(conn: AsyncConnection, limit: int) -> list[BalanceMismatch]:
    """Accounts whose stored balance differs from the sum of their records' deltas."""
    sums = select(r.account_id, func.sum(r.delta).label("total")).group_by(r.account_id).subquery()
    archived = _archived()
    total = func.coalesce(sums.c.total, 0) + func.coalesce(archived.c.opening, 0)
    query = (
        select(accounts.c.id.label("account_id"), accounts.c.balance, total.label("records_sum"))
        .select_from(
            accounts.outerjoin(sums, sums.c.account_id == accounts.c.id).outerjoin(
                archived, archived.c.account_id == accounts.c.id
            )
        )
        .where(accounts.c.balance != total)
        .order_by(accounts.c.id)
    )
    return await _rows(conn, query, limit, BalanceMismatch)


def _sign_ok(types: Mapping[str, str]) -> ColumnElement[bool]:
    """``types`` maps a billing type to the sign of its delta: ``-``, ``+`` or ``±``."""
    rules = []
    for billing_type, sign in types.items():
        if sign == "-":
            rule = r.delta == -r.price
        elif sign == "+":
            rule = r.delta == r.price
        else:
            rule = or_(r.delta == r.price, r.delta == -r.price)
        rules.append(and_(r.billing_type == billing_type, rule))
    return and_(r.price >= 0, or_(*rules))


async def bad_record_amounts(conn: AsyncConnection, types: Mapping[str, str], limit: int) -> list[RecordAmount]:
    """Records of an unknown type, with a negative price, or whose delta has the wrong sign or size."""
    query = (
        select(r.id, r.uuid, r.account_id, r.billing_type, r.price, r.delta)
        .where(~_sign_ok(types))
        .order_by(r.id)
    )
    return await _rows(conn, query, limit, RecordAmount)


async def bad_record_links(conn: AsyncConnection, order_types: tuple[str, ...], limit: int) -> list[RecordLinks]:
    """Records linked to another account's key, order or prediction; records of an order type
    (deduct, refund) without an order or prediction; other records with one."""
    k, o = access_keys.alias("k"), orders.alias("o")
    needs_order = r.billing_type.in_(order_types)
    wrong_key = and_(
        r.ak_id.is_not(None),
        or_(k.c.account_id != r.account_id, func.coalesce(r.access_key_id, "") != k.c.access_key_id),
    )
    wrong_order = and_(
        r.order_id.is_not(None),
        or_(
            o.c.account_id != r.account_id,
            r.prediction_id.is_(None),
            o.c.prediction_id != r.prediction_id,
            func.coalesce(r.ak_id, -1) != o.c.ak_id,
        ),
    )
    missing = and_(needs_order, or_(r.order_id.is_(None), r.prediction_id.is_(None), r.ak_id.is_(None)))
    extra = and_(~needs_order, or_(r.order_id.is_not(None), r.prediction_id.is_not(None)))
    query = (
        select(
            r.id, r.uuid, r.account_id, r.billing_type, r.ak_id, r.access_key_id, r.order_id, r.prediction_id,
            k.c.account_id.label("key_account_id"), k.c.access_key_id.label("key_access_key_id"),
            o.c.account_id.label("order_account_id"), o.c.prediction_id.label("order_prediction_id"),
            o.c.ak_id.label("order_ak_id"),
        )
        .select_from(billing_records.outerjoin(k, k.c.id == r.ak_id).outerjoin(o, o.c.id == r.order_id))
        .where(or_(wrong_key, wrong_order, missing, extra))
        .order_by(r.id)
    )
    return await _rows(conn, query, limit, RecordLinks)


def _per_order() -> object:
    """Deduct and refund counts and prices of every order, one row per order that has records."""
    is_deduct, is_refund = r.billing_type == BillingType.DEDUCT, r.billing_type == BillingType.REFUND
    return (
        select(
            r.order_id,
            func.sum(case((is_deduct, 1), else_=0)).label("deducts"),
            func.sum(case((is_refund, 1), else_=0)).label("refunds"),
            func.min(case((is_deduct, r.price), else_=null())).label("deduct_min"),
            func.max(case((is_deduct, r.price), else_=null())).label("deduct_max"),
            func.min(case((is_refund, r.price), else_=null())).label("refund_min"),
            func.max(case((is_refund, r.price), else_=null())).label("refund_max"),
        )
        .where(r.order_id.is_not(None))
        .group_by(r.order_id)
        .subquery()
    )


async def bad_orders(
    conn: AsyncConnection, allowed: Mapping[str, tuple[frozenset[str], int]], limit: int
) -> list[OrderFigures]:
    """Orders that disagree with their records or their prediction.

    ``allowed`` maps each order state to the prediction statuses it may go with and the number of
    refunds it must have. An order also needs exactly one deduct, and every deduct and refund of it
    must carry the order's price.
    """
    o, p, agg = orders.c, predictions.c, _per_order()
    deducts, refunds = func.coalesce(agg.c.deducts, 0), func.coalesce(agg.c.refunds, 0)
    consistent = or_(
        false(),
        *(
            and_(o.state == state, p.status.in_(sorted(statuses)), refunds == n_refunds)
            for state, (statuses, n_refunds) in allowed.items()
        ),
    )
    prices_ok = and_(
        agg.c.deduct_min == o.price,
        agg.c.deduct_max == o.price,
        or_(refunds == 0, and_(agg.c.refund_min == o.price, agg.c.refund_max == o.price)),
    )
    query = (
        select(
            o.id.label("order_id"), o.uuid.label("order_uuid"), o.account_id, o.state, o.price,
            p.uuid.label("prediction_uuid"), p.status, p.account_id.label("prediction_account_id"),
            deducts.label("deducts"), refunds.label("refunds"),
            agg.c.deduct_min, agg.c.deduct_max, agg.c.refund_min, agg.c.refund_max,
        )
        .select_from(orders.join(predictions, p.id == o.prediction_id).outerjoin(agg, agg.c.order_id == o.id))
        .where(or_(~consistent, deducts != 1, ~func.coalesce(prices_ok, false()), p.account_id != o.account_id))
        .where(o.created_at >= await online_from(conn))
        .order_by(o.id)
    )
    return await _rows(conn, query, limit, OrderFigures)


async def predictions_without_order(conn: AsyncConnection, limit: int) -> list[LonelyPrediction]:
    """A charge writes its prediction and order together; a prediction alone is half a charge."""
    p = predictions.c
    query = (
        select(p.id, p.uuid, p.account_id, p.status)
        .select_from(predictions.outerjoin(orders, orders.c.prediction_id == p.id))
        .where(orders.c.id.is_(None))
        .order_by(p.id)
    )
    return await _rows(conn, query, limit, LonelyPrediction)


def _running(*columns: Any) -> Any:
    """Each record with ``columns``, its account's ``running`` balance in id order (archived months'
    deltas included as the opening sum) and whether that sum is exact for it (``checked``: no
    archived record of its account has a larger id)."""
    archived = _archived()
    opening = func.coalesce(archived.c.opening, 0)
    running = (func.sum(r.delta).over(partition_by=r.account_id, order_by=r.id) + opening).label("running")
    checked = (r.id > func.coalesce(archived.c.max_id, 0)).label("checked")
    return (
        select(r.id, r.uuid, r.account_id, *columns, running, checked)
        .select_from(billing_records.outerjoin(archived, archived.c.account_id == r.account_id))
        .subquery()
    )


async def overdrawing_deducts(conn: AsyncConnection, limit: int) -> list[Overdraft]:
    """Deducts after which the account's running balance, in insertion order, was below zero.

    A charge is only taken when the balance covers it, so no deduct may leave a running balance
    under zero, even where an operator's negative adjustment took the balance below zero before.
    Each charge takes the account's balance before its records get their ids, so insertion order
    never shows a charge more money than it had.
    """
    ordered = _running(r.billing_type, r.price)
    query = (
        select(ordered.c.id, ordered.c.uuid, ordered.c.account_id, ordered.c.billing_type, ordered.c.price, ordered.c.running)
        .where(ordered.c.billing_type == BillingType.DEDUCT, ordered.c.running < 0, ordered.c.checked)
        .order_by(ordered.c.id)
    )
    return await _rows(conn, query, limit, Overdraft)


async def balance_after_mismatches(conn: AsyncConnection, limit: int) -> list[BalanceAfter]:
    """Records whose ``balance_after`` is not the running sum of their account's deltas in id order
    (the ledger's write order), and last records whose ``balance_after`` is not the account's balance.

    One pass of two window functions over the records (``from_end = 1`` is each account's newest
    record); each row carries the account's stored ``balance`` beside it."""
    from_end = func.row_number().over(partition_by=r.account_id, order_by=r.id.desc()).label("from_end")
    ordered = _running(r.balance_after, from_end)
    last = ordered.c.from_end == 1
    query = (
        select(
            ordered.c.id, ordered.c.uuid, ordered.c.account_id, ordered.c.balance_after, ordered.c.running,
            accounts.c.balance,
        )
        .select_from(ordered.join(accounts, accounts.c.id == ordered.c.account_id))
        .where(
            or_(
                and_(ordered.c.checked, ordered.c.balance_after != ordered.c.running),
                and_(last, ordered.c.balance_after != accounts.c.balance),
            )
        )
        .order_by(ordered.c.id)
    )
    return await _rows(conn, query, limit, BalanceAfter)


def _diff(stored, computed, keys: tuple[str, ...], values: tuple[str, ...], *, missing_is_zero: bool = False):  # noqa: ANN001, ANN202
    """Rows of ``stored`` and ``computed`` (same key and value columns) that differ, by one
    ``UNION ALL`` and ``GROUP BY``: each value appears as ``stored_<v>`` and ``computed_<v>``, and
    ``stored_rows``/``computed_rows`` show a key missing on one side (which differs from a row of
    zeros unless ``missing_is_zero``)."""

    def side(source, mine: str) -> object:  # noqa: ANN001
        columns = [source.c[key].label(key) for key in keys]
        for name in ("stored", "computed"):
            columns.append(literal_column("1" if name == mine else "0").label(f"{name}_rows"))
            for value in values:
                column = source.c[value] if name == mine else literal_column("0")
                columns.append(column.label(f"{name}_{value}"))
        return select(*columns)

    both = union_all(side(stored, "stored"), side(computed, "computed")).subquery()
    sums = [func.sum(both.c[col]).label(col) for col in both.c.keys() if col not in keys]
    differs = or_(
        *(
            func.sum(both.c[f"stored_{v}"]) != func.sum(both.c[f"computed_{v}"])
            for v in (values if missing_is_zero else ("rows", *values))
        )
    )
    group = [both.c[key] for key in keys]
    return select(*group, *sums).group_by(*group).having(differs).order_by(*group)


def _usage_recomputed() -> object:
    d, p = billing_records.alias("d"), predictions.alias("p")
    refund = billing_records.alias("refund")
    day = (d.c.created_at // MS_PER_DAY).label("day")
    return (
        select(
            d.c.account_id,
            day,
            d.c.model_uuid,
            d.c.access_key_id,
            func.count().label("deduct_count"),
            func.sum(d.c.price).label("deduct_amount"),
            func.count(refund.c.id).label("refund_count"),
            func.coalesce(func.sum(refund.c.price), 0).label("refund_amount"),
            func.sum(case((p.c.status == PredictionStatus.COMPLETED, 1), else_=0)).label("completed_count"),
            func.max(d.c.created_at).label("last_used_at"),
        )
        .select_from(
            d.join(p, p.c.id == d.c.prediction_id).outerjoin(
                refund, and_(refund.c.order_id == d.c.order_id, refund.c.billing_type == BillingType.REFUND)
            )
        )
        .where(d.c.billing_type == BillingType.DEDUCT)
        .group_by(d.c.account_id, day, d.c.model_uuid, d.c.access_key_id)
        .subquery()
    )


USAGE_KEYS = ("account_id", "day", "model_uuid", "access_key_id")
USAGE_VALUES = ("deduct_count", "deduct_amount", "refund_count", "refund_amount", "completed_count", "last_used_at")


async def _differences(conn: AsyncConnection, query: Any, limit: int, keys: tuple[str, ...], values: tuple[str, ...]) -> list[CellDifference]:
    def side(row: Mapping[str, Any], name: str) -> dict[str, int] | None:
        return {v: row[f"{name}_{v}"] for v in values} if row[f"{name}_rows"] else None

    rows = (await conn.execute(query.limit(limit))).mappings()
    return [
        CellDifference(row["account_id"], {k: row[k] for k in keys[1:]}, side(row, "stored"), side(row, "computed"))
        for row in rows
    ]


async def usage_daily_mismatches(conn: AsyncConnection, limit: int) -> list[CellDifference]:
    """Cells of ``usage_daily`` that differ from a recomputation from the records, or are missing."""
    stored = select(usage_daily).where(usage_daily.c.day >= await online_from(conn) // MS_PER_DAY).subquery()
    return await _differences(conn, _diff(stored, _usage_recomputed(), USAGE_KEYS, USAGE_VALUES), limit, USAGE_KEYS, USAGE_VALUES)


@dataclass(frozen=True)
class SpendFigure:
    """An account's stored 30-day spend (``account_spend``) against ``usage_daily``: ``stored``
    None when the row is missing; ``left`` the spend of days that left its window before the last
    roll without it being rolled (0 when none did)."""

    account_id: int
    day: int | None
    stored: int | None
    computed: int
    left: int


async def account_spend_mismatches(conn: AsyncConnection, limit: int) -> list[SpendFigure]:
    """Accounts whose stored 30-day spend is missing, differs from their ``usage_daily`` spend from
    its ``day - 29`` on, or still counts days that left the window before the last roll."""
    a, s, u = accounts.c, account_spend.c, usage_daily.c
    rolled = func.coalesce(select(account_spend_rolled.c.day).where(account_spend_rolled.c.id == 1).scalar_subquery(), 0)
    net = func.coalesce(func.sum(u.deduct_amount - u.refund_amount), 0)
    computed = select(net).where(u.account_id == a.id, u.day >= s.day - 29).scalar_subquery()
    left = select(net).where(u.account_id == a.id, u.day.between(s.day - 29, rolled - 30)).scalar_subquery()
    figures = (
        select(a.id.label("account_id"), s.day, s.amount.label("stored"), func.coalesce(computed, 0).label("computed"),
               func.coalesce(left, 0).label("left"))
        .select_from(accounts.outerjoin(account_spend, s.account_id == a.id))
        .subquery()
    )
    f = figures.c
    query = (
        select(f.account_id, f.day, f.stored, f.computed, f.left)
        .where(or_(f.stored.is_(None), f.stored != f.computed, f.left != 0))
        .order_by(f.account_id)
    )
    return await _rows(conn, query, limit, SpendFigure)


@dataclass(frozen=True)
class AccountCount:
    stored: int | None
    counted: int


async def account_count_mismatch(conn: AsyncConnection, limit: int) -> list[AccountCount]:
    """``account_count`` when it is not the number of accounts (or is missing while accounts exist)."""
    stored = select(account_count.c.accounts).where(account_count.c.id == 1).scalar_subquery()
    counted = select(func.count()).select_from(accounts).scalar_subquery()
    row = (await conn.execute(select(stored.label("stored"), counted.label("counted")))).mappings().one()
    found = AccountCount(row["stored"], int(row["counted"]))
    # No row and no account: a table emptied whole; the next account makes the row.
    return [found][:limit] if found.stored != found.counted and (found.stored, found.counted) != (None, 0) else []


async def usage_daily_bad_last_price(conn: AsyncConnection, limit: int) -> list[LastPrice]:
    """Cells whose ``last_price`` is not the price of a deduct made at the cell's ``last_used_at``."""
    u = usage_daily.c
    newest = (
        select(r.id)
        .where(
            r.billing_type == BillingType.DEDUCT,
            r.account_id == u.account_id,
            r.model_uuid == u.model_uuid,
            r.access_key_id == u.access_key_id,
            r.created_at == u.last_used_at,
            r.price == u.last_price,
        )
        .exists()
    )
    query = (
        select(u.account_id, u.day, u.model_uuid, u.access_key_id, u.last_used_at, u.last_price)
        .where(u.deduct_count > 0, ~newest, u.day >= await online_from(conn) // MS_PER_DAY)
        .order_by(u.account_id, u.day, u.model_uuid, u.access_key_id)
    )
    return await _rows(conn, query, limit, LastPrice)


def has_billing_daily() -> bool:
    table = metadata.tables.get("billing_daily")
    return table is not None and {"account_id", "day", "billing_type", "count"} <= set(table.c.keys())


async def billing_daily_mismatches(conn: AsyncConnection, limit: int) -> list[CellDifference]:
    """Cells of ``billing_daily`` (records per account, UTC day and type) that differ from a count."""
    table = metadata.tables["billing_daily"]
    day = (r.created_at // MS_PER_DAY).label("day")
    computed = (
        select(r.account_id, day, r.billing_type, func.count().label("count"))
        .group_by(r.account_id, day, r.billing_type)
        .subquery()
    )
    stored = (
        select(table.c.account_id, table.c.day.cast(Integer).label("day"), table.c.billing_type, table.c["count"])
        .where(table.c.day >= await online_from(conn) // MS_PER_DAY)
        .subquery()
    )
    keys = ("account_id", "day", "billing_type")
    return await _differences(conn, _diff(stored, computed, keys, ("count",)), limit, keys, ("count",))


@dataclass(frozen=True, slots=True)
class ShardDifference:
    """A cell of ``billing_daily_shards`` as stored and as summed from ``billing_daily``."""

    shard: int
    day: int
    billing_type: str
    stored: int
    computed: int


async def billing_daily_shard_mismatches(conn: AsyncConnection, limit: int) -> list[ShardDifference]:
    """Cells of ``billing_daily_shards`` that differ from ``billing_daily`` summed over the shard's
    accounts (``billing_daily`` is itself checked against the records). Both keep archived days."""
    d, s = billing_daily.c, billing_daily_shards.c
    shard = d.account_id % literal_column(str(SHARDS))  # a literal: grouped by the same expression
    computed = (
        select(shard.label("shard"), d.day, d.billing_type, func.sum(d["count"]).label("count"))
        .group_by(shard, d.day, d.billing_type)
        .subquery()
    )
    stored = select(s.shard, s.day, s.billing_type, s["count"]).subquery()
    keys = ("shard", "day", "billing_type")
    query = _diff(stored, computed, keys, ("count",), missing_is_zero=True).limit(limit)
    return [
        ShardDifference(int(row["shard"]), int(row["day"]), row["billing_type"], int(row["stored_count"] or 0),
                        int(row["computed_count"] or 0))
        for row in (await conn.execute(query)).mappings()
    ]


async def billing_monthly_mismatches(conn: AsyncConnection, limit: int) -> list[CellDifference]:
    """Cells of ``billing_monthly`` (count and sum of ``delta`` per account, UTC month, type and
    model) that differ from the records."""
    month = dialect.utc_month(conn, r.created_at).label("month")
    model = func.coalesce(r.model_uuid, "").label("model_uuid")
    computed = (
        select(r.account_id, month, r.billing_type, model, func.count().label("count"), func.sum(r.delta).label("amount"))
        .group_by(r.account_id, month, r.billing_type, model)
        .subquery()
    )
    online = await online_from(conn)
    stored = select(billing_monthly).where(billing_monthly.c.month >= (month_key(online) if online else 0)).subquery()
    keys, values = ("account_id", "month", "billing_type", "model_uuid"), ("count", "amount")
    return await _differences(conn, _diff(stored, computed, keys, values), limit, keys, values)


# --- Spend windows ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpendWindowMismatch:
    account_id: int
    access_key_id: str
    period: str
    start: int
    stored: int
    computed: int


def _spend_recomputed(conn: AsyncConnection, account_subject: str) -> Any:
    """Every spend window's amount from the records, as ``ledger.limits`` keeps them: a deduct less
    its refund counts on its UTC day, in its key's and its account's (``account_subject``) daily
    window (that day), monthly window (the month's first day) and total (day 0)."""
    deduct, refund = billing_records.alias("deduct"), billing_records.alias("refund")
    day = (deduct.c.created_at // MS_PER_DAY).label("day")
    per_day = (
        select(deduct.c.account_id, deduct.c.access_key_id, day,
               func.sum(deduct.c.price - func.coalesce(refund.c.price, 0)).label("spent"))
        .select_from(deduct.outerjoin(
            refund, and_(refund.c.order_id == deduct.c.order_id, refund.c.billing_type == BillingType.REFUND)))
        .where(deduct.c.billing_type == BillingType.DEDUCT)
        .group_by(deduct.c.account_id, deduct.c.access_key_id, day)
        .subquery("per_day")
    )
    d = per_day.c
    starts = {
        LimitPeriod.DAILY: d.day,
        LimitPeriod.MONTHLY: dialect.utc_month_start_day(conn, d.day),
        LimitPeriod.TOTAL: literal(0, Integer),
    }
    fanned = union_all(*(
        select(d.account_id, subject.label("access_key_id"), literal(str(period), String).label("period"),
               start.label("start"), d.spent.label("amount"))
        for subject in (d.access_key_id, literal(account_subject, String))
        for period, start in starts.items()
    )).subquery("fanned")
    f = fanned.c
    return (
        select(f.account_id, f.access_key_id, f.period, f.start, func.sum(f.amount).label("amount"))
        .group_by(f.account_id, f.access_key_id, f.period, f.start)
        .subquery("recomputed")
    )


def _recomputable(source: Any, online_day: int) -> Any:
    """The windows a recomputation from what is online can check: a total, unless its account has
    archived records; any other window, if it begins in a month still online."""
    c = source.c
    archived = select(billing_archive_accounts.c.account_id)
    total = c.period == LimitPeriod.TOTAL
    return (
        select(c.account_id, c.access_key_id, c.period, c.start, c.amount)
        .where(or_(and_(total, c.account_id.not_in(archived)), and_(~total, c.start >= online_day)))
        .subquery()
    )


async def spend_window_mismatches(conn: AsyncConnection, account_subject: str, limit: int) -> list[SpendWindowMismatch]:
    """Windows of ``spend_windows`` whose amount differs from a recomputation from the records (a
    window missing on one side counts as zero), among those still recomputable."""
    online_day = await online_from(conn) // MS_PER_DAY
    stored = _recomputable(spend_windows, online_day)
    computed = _recomputable(_spend_recomputed(conn, account_subject), online_day)
    keys = ("account_id", "access_key_id", "period", "start")
    query = _diff(stored, computed, keys, ("amount",), missing_is_zero=True)
    return [
        SpendWindowMismatch(row.account_id, row.access_key_id, row.period, int(row.start),
                            int(row.stored_amount), int(row.computed_amount))
        for row in await conn.execute(query.limit(limit))
    ]


# --- Catalog-priced orders ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PricedOrder:
    """An order priced from the catalog, with what its charge sent (``inputs``, JSON text)."""

    order_id: int
    order_uuid: str
    account_id: int
    price: int
    origin_price: int
    price_version_id: int
    inputs: str | None
    created_at: int
    prediction_uuid: str
    model_uuid: str


async def catalog_priced_orders(conn: AsyncConnection, after_id: int, size: int) -> list[PricedOrder]:
    """Up to ``size`` catalog-priced orders after order id ``after_id``, in id order (the caller
    walks them a page at a time, so memory stays bounded whatever the ledger's size)."""
    query = (
        select(
            orders.c.id.label("order_id"),
            orders.c.uuid.label("order_uuid"),
            orders.c.account_id,
            orders.c.price,
            orders.c.origin_price,
            orders.c.price_version_id,
            orders.c.inputs,
            orders.c.created_at,
            predictions.c.uuid.label("prediction_uuid"),
            predictions.c.model_uuid,
        )
        .join(predictions, predictions.c.id == orders.c.prediction_id)
        .where(orders.c.price_version_id.is_not(None), orders.c.id > after_id)
        .order_by(orders.c.id)
        .limit(size)
    )
    return [PricedOrder(**row) for row in (await conn.execute(query)).mappings()]


async def all_versions(conn: AsyncConnection) -> list[dict]:
    """Every price version (a catalog holds few; loaded once per check)."""
    query = select(model_versions).order_by(model_versions.c.model_id, model_versions.c.effective_from)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def all_discounts(conn: AsyncConnection) -> list[dict]:
    """Every discount setting, oldest first."""
    query = select(account_discounts).order_by(account_discounts.c.set_at, account_discounts.c.id)
    return [dict(r) for r in (await conn.execute(query)).mappings()]


@dataclass(frozen=True, slots=True)
class Unaudited:
    """A change the audit log should hold and does not: ``kind`` is ``recharge``, ``adjust``,
    ``key.create`` or ``key.revoke``; ``subject`` the record's uuid or the key's access_key_id."""

    account_id: int
    kind: str
    subject: str


async def _audit_start(conn: AsyncConnection) -> tuple[int, int, int]:
    """``(last_record_id, last_key_id, at)`` from the log's first row: what existed before it."""
    import json

    query = select(audit_log.c.summary, audit_log.c.at).where(audit_log.c.action == "audit.started").order_by(audit_log.c.id).limit(1)
    row = (await conn.execute(query)).first()
    if row is None:
        return 0, 0, 0
    start = json.loads(row.summary)
    return int(start.get("last_record_id", 0)), int(start.get("last_key_id", 0)), int(row.at)


async def unaudited_changes(conn: AsyncConnection, actions: Mapping[str, tuple[str, ...]], limit: int) -> list[Unaudited]:
    """Recharges, adjustments, keys issued and keys revoked since the log began without a
    successful audit row naming them (``ref``). ``actions``: for each kind, the audit actions
    that account for it (an opening balance is audited by its account's creation)."""
    last_record, last_key, started = await _audit_start(conn)
    a, k = audit_log.c, access_keys.c

    def audited(ref: Any, kind: str) -> Any:
        return (
            select(literal_column("1"))
            .select_from(audit_log)
            .where(a.ref == ref, a.status == 200, a.action.in_(actions[kind]))
            .exists()
        )

    records = select(
        r.account_id, r.billing_type.label("kind"), r.uuid.label("subject")
    ).where(
        r.billing_type.in_((BillingType.RECHARGE, BillingType.ADJUST)), r.id > last_record,
        or_(
            and_(r.billing_type == BillingType.RECHARGE, ~audited(r.uuid, "recharge")),
            and_(r.billing_type == BillingType.ADJUST, ~audited(r.uuid, "adjust")),
        ),
    )
    issued = select(k.account_id, literal_column("'key.create'").label("kind"), k.access_key_id.label("subject")).where(
        k.id > last_key, ~audited(k.access_key_id, "key.create")
    )
    revoked = select(k.account_id, literal_column("'key.revoke'").label("kind"), k.access_key_id.label("subject")).where(
        k.revoked_at.is_not(None), k.revoked_at >= started, ~audited(k.access_key_id, "key.revoke")
    )
    query = union_all(records, issued, revoked).limit(limit)
    return [Unaudited(int(row.account_id), str(row.kind), str(row.subject)) for row in await conn.execute(query)]
