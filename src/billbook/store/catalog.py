"""Queries on the price catalog: model price versions (insert-only) and account discounts.

Each read for a batch is one statement over the whole batch, so pricing 1,000 charges costs the
same number of round trips as pricing one.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store.tables import account_discounts, model_versions

_NEWEST_FIRST = (model_versions.c.effective_from.desc(), model_versions.c.id.desc())


async def insert_version(conn: AsyncConnection, row: dict) -> int:
    result = await conn.execute(model_versions.insert().values(**row).returning(model_versions.c.id))
    return int(result.scalar_one())


async def version_at(conn: AsyncConnection, model_id: str, at: int) -> dict | None:
    """The version of ``model_id`` in force at ``at``: the latest whose ``effective_from <= at``."""
    query = (
        select(model_versions)
        .where(model_versions.c.model_id == model_id, model_versions.c.effective_from <= at)
        .order_by(*_NEWEST_FIRST)
        .limit(1)
    )
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


async def version_with_effective_from(conn: AsyncConnection, model_id: str, effective_from: int) -> dict | None:
    query = select(model_versions).where(
        model_versions.c.model_id == model_id, model_versions.c.effective_from == effective_from
    )
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


async def has_model(conn: AsyncConnection, model_id: str) -> bool:
    query = select(model_versions.c.id).where(model_versions.c.model_id == model_id).limit(1)
    return (await conn.execute(query)).first() is not None


async def catalog_at(conn: AsyncConnection, at: int) -> list[dict]:
    """Every model's version in force at ``at``, in catalog order (``sort_order``, then model id)."""
    latest = (
        select(model_versions.c.model_id, func.max(model_versions.c.effective_from).label("effective_from"))
        .where(model_versions.c.effective_from <= at)
        .group_by(model_versions.c.model_id)
        .subquery("latest")
    )
    query = (
        select(model_versions)
        .join(
            latest,
            and_(
                model_versions.c.model_id == latest.c.model_id,
                model_versions.c.effective_from == latest.c.effective_from,
            ),
        )
        .order_by(model_versions.c.sort_order, model_versions.c.model_id)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def versions_page(conn: AsyncConnection, model_id: str, offset: int, limit: int) -> tuple[int, list[dict]]:
    """One model's versions, newest ``effective_from`` first, and how many there are."""
    where = model_versions.c.model_id == model_id
    total = (await conn.execute(select(func.count()).select_from(model_versions).where(where))).scalar_one()
    query = select(model_versions).where(where).order_by(*_NEWEST_FIRST).offset(offset).limit(limit)
    return int(total), [dict(r) for r in (await conn.execute(query)).mappings()]


async def versions_of_models(conn: AsyncConnection, model_ids: Collection[str], until: int) -> list[dict]:
    """Every version of these models taking effect at or before ``until``, oldest first (one query
    for a whole batch; a model has few versions)."""
    if not model_ids:
        return []
    query = (
        select(model_versions)
        .where(model_versions.c.model_id.in_(sorted(model_ids)), model_versions.c.effective_from <= until)
        .order_by(model_versions.c.model_id, model_versions.c.effective_from, model_versions.c.id)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]


async def insert_discount(conn: AsyncConnection, row: dict) -> int:
    result = await conn.execute(account_discounts.insert().values(**row).returning(account_discounts.c.id))
    return int(result.scalar_one())


def _discount_scope(model_id: str | None):  # noqa: ANN202 - a SQL expression
    column = account_discounts.c.model_id
    return column.is_(None) if model_id is None else column == model_id


async def discounts_of(conn: AsyncConnection, account_id: int, model_id: str, at: int) -> list[dict]:
    """The latest discount set at or before ``at`` for the model itself and for every model (at
    most one row each)."""
    rows = []
    for scope in (model_id, None):
        query = (
            select(account_discounts)
            .where(
                account_discounts.c.account_id == account_id,
                _discount_scope(scope),
                account_discounts.c.set_at <= at,
            )
            .order_by(account_discounts.c.set_at.desc(), account_discounts.c.id.desc())
            .limit(1)
        )
        row = (await conn.execute(query)).mappings().first()
        if row:
            rows.append(dict(row))
    return rows


async def latest_discount(conn: AsyncConnection, account_id: int, model_id: str | None) -> dict | None:
    query = (
        select(account_discounts)
        .where(account_discounts.c.account_id == account_id, _discount_scope(model_id))
        .order_by(account_discounts.c.set_at.desc(), account_discounts.c.id.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


async def discounts_for(
    conn: AsyncConnection, account_ids: Collection[int], model_ids: Collection[str], until: int
) -> list[dict]:
    """Every discount of these accounts, for these models or for every model, set at or before
    ``until``, oldest first (one query for a whole batch)."""
    if not account_ids:
        return []
    query = (
        select(account_discounts)
        .where(
            account_discounts.c.account_id.in_(sorted(account_ids)),
            or_(account_discounts.c.model_id.is_(None), account_discounts.c.model_id.in_(sorted(model_ids))),
            account_discounts.c.set_at <= until,
        )
        .order_by(account_discounts.c.set_at, account_discounts.c.id)
    )
    return [dict(r) for r in (await conn.execute(query)).mappings()]
