"""The billing search: filters, a total order, an exact count, and pages.

A page is read in two steps: first the ids of the page from the ``(account_id, …, created_at, id)``
indexes (the offset walks index entries only), then the joined view of just those ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store.tables import billing_records, predictions


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


def _conditions(c: Criteria) -> list[ColumnElement[bool]]:
    r = billing_records.c
    where: list[ColumnElement[bool]] = [r.account_id == c.account_id]
    if c.billing_type is not None:
        where.append(r.billing_type == c.billing_type)
    if c.start_ms is not None:
        where.append(r.created_at >= c.start_ms)
    if c.end_ms is not None:
        where.append(r.created_at <= c.end_ms)
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


async def count(conn: AsyncConnection, criteria: Criteria) -> int:
    query = select(func.count()).select_from(billing_records).where(and_(*_conditions(criteria)))
    return int((await conn.execute(query)).scalar_one())


async def page_ids(conn: AsyncConnection, criteria: Criteria, *, offset: int, limit: int) -> list[int]:
    r = billing_records.c
    order = (r.created_at.asc(), r.id.asc()) if criteria.ascending else (r.created_at.desc(), r.id.desc())
    query = select(r.id).where(and_(*_conditions(criteria))).order_by(*order).offset(offset).limit(limit)
    return [int(v) for v in (await conn.execute(query)).scalars()]
