"""The audit log: appended to in the write's transaction, read newest first with filters."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store.rows import AuditRow
from billbook.store.tables import audit_log


async def append(
    conn: AsyncConnection,
    *,
    at: int,
    token_name: str,
    action: str,
    route: str,
    account_id: int | None,
    target: str,
    ref: str | None,
    summary: str,
    status: int,
) -> None:
    """Append one row (rows are never updated or deleted)."""
    await conn.execute(
        audit_log.insert().values(
            at=at, token_name=token_name, action=action, route=route, account_id=account_id,
            target=target, ref=ref, summary=summary, status=status,
        )
    )


@dataclass(frozen=True)
class AuditFilter:
    start_ms: int | None = None
    end_ms: int | None = None
    token_name: str | None = None
    account_id: int | None = None
    target: str | None = None
    action: str | None = None
    route: str | None = None


def _where(f: AuditFilter) -> ColumnElement[bool]:
    a = audit_log.c
    conditions: list[ColumnElement[bool]] = []
    if f.start_ms is not None:
        conditions.append(a.at >= f.start_ms)
    if f.end_ms is not None:
        conditions.append(a.at <= f.end_ms)
    if f.token_name is not None:
        conditions.append(a.token_name == f.token_name)
    if f.account_id is not None:
        conditions.append(a.account_id == f.account_id)
    if f.target is not None:
        conditions.append(a.target == f.target)
    if f.action is not None:
        conditions.append(a.action == f.action)
    if f.route is not None:
        conditions.append(a.route == f.route)
    return and_(True, *conditions)


async def count(conn: AsyncConnection, f: AuditFilter) -> int:
    return int((await conn.execute(select(func.count()).select_from(audit_log).where(_where(f)))).scalar_one())


async def page(conn: AsyncConnection, f: AuditFilter, *, offset: int, limit: int, ascending: bool = False) -> list[AuditRow]:
    """Rows in ``(at, id)`` order, newest first unless ``ascending``."""
    a = audit_log.c
    order = (a.at.asc(), a.id.asc()) if ascending else (a.at.desc(), a.id.desc())
    query = select(audit_log).where(_where(f)).order_by(*order).offset(offset).limit(limit)
    return [AuditRow(**r) for r in (await conn.execute(query)).mappings()]


async def after(conn: AsyncConnection, f: AuditFilter, after_id: int, limit: int) -> list[AuditRow]:
    """Rows with ids above ``after_id`` in id order: an export that never skips nor repeats a row."""
    query = select(audit_log).where(_where(f), audit_log.c.id > after_id).order_by(audit_log.c.id).limit(limit)
    return [AuditRow(**r) for r in (await conn.execute(query)).mappings()]
