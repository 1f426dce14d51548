"""Queries on billing records: append-only inserts (with their daily count and monthly sums) and the joined view the API renders."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, Table, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect
from billbook.store.rows import NEW_RECORD_COLUMNS, NewRecord, Record, RecordView
from billbook.store.tables import (
    SHARDS,
    access_keys,
    billing_daily,
    billing_daily_shards,
    billing_monthly,
    billing_record_keys,
    billing_records,
    orders,
    predictions,
    prefixed,
)
from billbook.times import MS_PER_DAY, month_key
from billbook.vocabulary import BillingType


async def insert_many(conn: AsyncConnection, records: Sequence[NewRecord]) -> list[int]:
    """Append records and count them in ``billing_daily``; returns their ids in the order given.

    Ids are assigned in the order given, and the ledger's write order is record id order: the caller
    holds the accounts' locks and computes each ``balance_after`` walking ``records`` in this order."""
    if not records:
        return []
    rows = [
        {c: getattr(record, c) for c in NEW_RECORD_COLUMNS} | {"updated_at": record.created_at} for record in records
    ]
    by_uuid = dict(await dialect.insert_returning(conn, billing_records, rows, ("uuid", "id")))
    ids = [int(by_uuid[record.uuid]) for record in records]
    if dialect.partitioned_records(conn):
        keys = [
            {c: getattr(record, c) for c in _KEY_COLUMNS[1:]} | {"id": record_id}
            for record, record_id in zip(records, ids, strict=True)
        ]
        await dialect.execute_many(conn, _keys_insert(), keys, _KEY_COLUMNS)
    per_day = Counter((r.account_id, r.created_at // MS_PER_DAY, r.billing_type) for r in records)
    counts = [{"account_id": a, "day": d, "billing_type": t, "count": n} for (a, d, t), n in sorted(per_day.items())]
    await _add_counts(conn, billing_daily, _COUNT_KEY, _COUNT, counts)
    await _add_shards(conn, per_day)
    await _add_monthly(conn, records)
    return ids


async def insert(conn: AsyncConnection, record: NewRecord) -> Record:
    """Append one record; see ``insert_many``."""
    (record_id,) = await insert_many(conn, [record])
    return Record(id=record_id, updated_at=record.created_at, **{c: getattr(record, c) for c in NEW_RECORD_COLUMNS})


_KEY_COLUMNS = ("id", "created_at", "uuid", "account_id", "billing_type", "reference", "order_id")


@lru_cache
def _keys_insert() -> Any:
    """The records' unique keys (PostgreSQL, see ``tables.billing_record_keys``): a duplicate
    fails the transaction as the unique constraints of an unpartitioned table would."""
    return dialect.many_rows_insert(dialect.POSTGRESQL, billing_record_keys, _KEY_COLUMNS)


@lru_cache
def _add_upsert(dialect_name: str, table: Table, key: tuple[str, ...], added: tuple[str, ...]) -> Any:
    """``INSERT`` rows of ``key`` and ``added`` columns into ``table``; on a conflict on ``key``,
    each ``added`` column is added to the stored one. Built once per dialect and table."""
    statement = dialect.many_rows_insert(dialect_name, table, key + added)
    return statement.on_conflict_do_update(
        index_elements=list(key), set_={c: table.c[c] + statement.excluded[c] for c in added}
    )


async def _add_counts(conn: AsyncConnection, table: Table, key: tuple[str, ...], added: tuple[str, ...], rows: list[dict]) -> None:
    """``table.added += row.added`` for each row's ``key``, the row made if missing: one statement."""
    await dialect.execute_many(conn, _add_upsert(dialect.name(conn), table, key, added), rows, key + added)


_COUNT_KEY = ("account_id", "day", "billing_type")
_SHARD_KEY = ("day", "billing_type", "shard")
_MONTHLY_KEY = ("account_id", "month", "billing_type", "model_uuid")
_COUNT = ("count",)
_COUNT_AMOUNT = ("count", "amount")


async def _add_shards(conn: AsyncConnection, per_day: Counter) -> None:
    """The platform's counts per shard of accounts, day and type. The rows are shared by the
    accounts of a shard, whose locks do not cover them: they are written in key order, so two
    transactions wait for each other at most, never deadlock."""
    shards: Counter = Counter()
    for (account_id, day, billing_type), n in per_day.items():
        shards[(day, billing_type, account_id % SHARDS)] += n
    rows = [{"day": d, "billing_type": t, "shard": s, "count": n} for (d, t, s), n in sorted(shards.items())]
    await _add_counts(conn, billing_daily_shards, _SHARD_KEY, _COUNT, rows)


async def _add_monthly(conn: AsyncConnection, records: Sequence[NewRecord]) -> None:
    """Count and sum the records per account, UTC month (of ``created_at``), type and model."""
    sums: dict[tuple[int, int, str, str], list[int]] = {}
    for r in records:
        cell = sums.setdefault((r.account_id, month_key(r.created_at), r.billing_type, r.model_uuid or ""), [0, 0])
        cell[0] += 1
        cell[1] += r.delta
    rows = [
        {"account_id": a, "month": m, "billing_type": t, "model_uuid": u, "count": n, "amount": amount}
        for (a, m, t, u), (n, amount) in sorted(sums.items())
    ]
    await _add_counts(conn, billing_monthly, _MONTHLY_KEY, _COUNT_AMOUNT, rows)


def _record(row: Any) -> Record:
    return Record(**row)


def _keyed(conn: AsyncConnection, *where: Any) -> Select:
    """Records found by their unique keys: on PostgreSQL through ``billing_record_keys`` (whose
    unique indexes answer), then each record by ``(id, created_at)`` in its one partition."""
    if not dialect.partitioned_records(conn):
        return select(billing_records).where(*(w(billing_records.c) for w in where))
    k = billing_record_keys.c
    return (
        select(billing_records)
        .select_from(billing_record_keys)
        .join(billing_records, (billing_records.c.id == k.id) & (billing_records.c.created_at == k.created_at))
        .where(*(w(k) for w in where))
    )


async def by_reference(
    conn: AsyncConnection, account_id: int, billing_type: BillingType, reference: str
) -> Record | None:
    query = _keyed(
        conn,
        lambda c: c.account_id == account_id,
        lambda c: c.billing_type == billing_type,
        lambda c: c.reference == reference,
    )
    row = (await conn.execute(query)).mappings().first()
    return _record(row) if row else None


async def archived_key_at(
    conn: AsyncConnection, account_id: int, billing_type: BillingType, reference: str
) -> int | None:
    """The time of the record that holds ``reference`` when only its key is left (the record's
    month was archived); ``None`` otherwise, and always on SQLite (which never archives)."""
    if not dialect.partitioned_records(conn):
        return None
    k = billing_record_keys.c
    query = select(k.created_at).where(k.account_id == account_id, k.billing_type == billing_type, k.reference == reference)
    return (await conn.execute(query)).scalar()


_VIEWED = (
    "id", "uuid", "billing_type", "price", "delta", "balance_after", "access_key_id", "created_at", "updated_at",
    "account_id",
)


def view_query(records: Any = billing_records, source: Any = None) -> Select:
    """Each record with its key's name, order and prediction, as the wire shows them: the fields
    of ``RecordView``, in its order (rows are made from them positionally). ``records``: the table,
    or a subquery with its columns (a search's page, looked up record by record) reached from
    ``source``."""
    joined = (
        (records if source is None else source)
        .outerjoin(access_keys, access_keys.c.id == records.c.ak_id)
        .outerjoin(orders, orders.c.id == records.c.order_id)
        .outerjoin(predictions, predictions.c.id == records.c.prediction_id)
    )
    return select(
        *(records.c[name] for name in _VIEWED),
        access_keys.c.name.label("access_key_name"),
        *prefixed(orders, "order", "uuid", "state", "price", "origin_price", "ak_id", "updated_at", "price_version_id"),
        *prefixed(predictions, "prediction", "uuid", "model_uuid", "status"),
    ).select_from(joined)


async def views_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> list[RecordView]:
    """Joined views of the given record ids, in the order of ``ids``."""
    if not ids:
        return []
    if dialect.partitioned_records(conn):
        # Each record in its own partition: ``(id, created_at)`` from the keys, not ``id`` alone in all.
        k = billing_record_keys.c
        chosen = select(k.id, k.created_at).where(dialect.one_of(conn, k.id, ids))
        where = tuple_(billing_records.c.id, billing_records.c.created_at).in_(chosen)
    else:
        where = billing_records.c.id.in_(ids)
    rows = (await conn.execute(view_query().where(where))).mappings()
    by_id = {row["id"]: RecordView(**row) for row in rows}
    return [by_id[i] for i in ids if i in by_id]


async def deducts_for_orders(conn: AsyncConnection, order_ids: Sequence[int]) -> dict[int, Record]:
    """The ``deduct`` record of each order, by order id."""
    if not order_ids:
        return {}
    query = _keyed(
        conn, lambda c: dialect.one_of(conn, c.order_id, order_ids), lambda c: c.billing_type == BillingType.DEDUCT
    )
    return {row["order_id"]: _record(row) for row in (await conn.execute(query)).mappings()}


async def record_for_order(conn: AsyncConnection, order_id: int, billing_type: BillingType) -> Record | None:
    query = _keyed(conn, lambda c: c.order_id == order_id, lambda c: c.billing_type == billing_type)
    row = (await conn.execute(query)).mappings().first()
    return _record(row) if row else None
