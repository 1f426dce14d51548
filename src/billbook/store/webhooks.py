"""Webhook endpoints, their deliveries and attempts, and the dispatcher's lease: every statement.

Deliveries are made by ``fan_out`` in the transaction that appends their events (``store.events``),
so an event that committed always has one delivery per endpoint subscribed to it at that moment.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import and_, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect
from billbook.store.rows import AttemptRow, DeliveryRow, WebhookEndpointRow
from billbook.store.tables import (
    events,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoints,
    webhook_keys,
    webhook_leases,
    webhook_subscriptions,
)
from billbook.vocabulary import DeliveryState

_ENDPOINT_COLUMNS = [c for c in webhook_endpoints.c]


# --- endpoints -------------------------------------------------------------------------------------


async def insert_endpoint(
    conn: AsyncConnection,
    *,
    public_id: str,
    account_id: int | None,
    url: str,
    secret_enc: str,
    types: Sequence[str],
    created_at: int,
) -> None:
    result = await conn.execute(
        insert(webhook_endpoints)
        .values(public_id=public_id, account_id=account_id, url=url, secret_enc=secret_enc, created_at=created_at)
        .returning(webhook_endpoints.c.id)
    )
    endpoint_id = result.scalar_one()
    await conn.execute(insert(webhook_subscriptions), [{"endpoint_id": endpoint_id, "type": t} for t in types])


async def _with_types(conn: AsyncConnection, rows: Sequence[Any]) -> list[WebhookEndpointRow]:
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    query = select(webhook_subscriptions).where(dialect.one_of(conn, webhook_subscriptions.c.endpoint_id, ids))
    types: dict[int, list[str]] = {}
    for sub in (await conn.execute(query.order_by(webhook_subscriptions.c.type))).mappings():
        types.setdefault(sub["endpoint_id"], []).append(sub["type"])
    return [WebhookEndpointRow(**row, events=tuple(types.get(row["id"], ()))) for row in rows]


def _owned_by(account_id: int | None) -> Any:
    """Endpoints of one account, or (None) the operator's platform-wide ones."""
    column = webhook_endpoints.c.account_id
    return column.is_(None) if account_id is None else column == account_id


async def endpoints_of(conn: AsyncConnection, account_id: int | None) -> list[WebhookEndpointRow]:
    """The live (not deleted) endpoints of an account, or the operator's; oldest first."""
    query = (
        select(*_ENDPOINT_COLUMNS)
        .where(_owned_by(account_id), webhook_endpoints.c.deleted_at.is_(None))
        .order_by(webhook_endpoints.c.id)
    )
    return await _with_types(conn, list((await conn.execute(query)).mappings()))


async def endpoint(conn: AsyncConnection, public_id: str, account_id: int | None) -> WebhookEndpointRow | None:
    """One live endpoint, only if it belongs to ``account_id`` (None: to the operator)."""
    query = select(*_ENDPOINT_COLUMNS).where(
        webhook_endpoints.c.public_id == public_id, _owned_by(account_id), webhook_endpoints.c.deleted_at.is_(None)
    )
    found = await _with_types(conn, list((await conn.execute(query)).mappings()))
    return found[0] if found else None


async def endpoints_by_id(conn: AsyncConnection, ids: Collection[int]) -> dict[int, WebhookEndpointRow]:
    if not ids:
        return {}
    query = select(*_ENDPOINT_COLUMNS).where(dialect.one_of(conn, webhook_endpoints.c.id, ids))
    return {row.id: row for row in await _with_types(conn, list((await conn.execute(query)).mappings()))}


async def count_live(conn: AsyncConnection, account_id: int | None) -> int:
    query = select(func.count()).where(_owned_by(account_id), webhook_endpoints.c.deleted_at.is_(None))
    return (await conn.execute(query.select_from(webhook_endpoints))).scalar_one()


async def delete_endpoint(conn: AsyncConnection, endpoint_id: int, at: int) -> None:
    """Mark deleted; its pending deliveries are given up."""
    await conn.execute(update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(deleted_at=at))
    await _fail_pending(conn, endpoint_id)


async def disable_endpoint(conn: AsyncConnection, endpoint_id: int, at: int) -> bool:
    """Disable once; ``True`` when this call did. Its pending deliveries are given up."""
    result = await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id, webhook_endpoints.c.disabled_at.is_(None))
        .values(disabled_at=at)
    )
    await _fail_pending(conn, endpoint_id)
    return result.rowcount == 1


async def _fail_pending(conn: AsyncConnection, endpoint_id: int) -> None:
    await conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.endpoint_id == endpoint_id, webhook_deliveries.c.state == DeliveryState.PENDING)
        .values(state=DeliveryState.FAILED)
    )


async def set_secrets(
    conn: AsyncConnection, endpoint_id: int, secret_enc: str, previous_enc: str | None, previous_until: int | None
) -> None:
    await conn.execute(
        update(webhook_endpoints)
        .where(webhook_endpoints.c.id == endpoint_id)
        .values(secret_enc=secret_enc, previous_secret_enc=previous_enc, previous_secret_until=previous_until)
    )


# --- deliveries ------------------------------------------------------------------------------------


async def fan_out(conn: AsyncConnection, event_uuids: Collection[str]) -> None:
    """One pending delivery per (event, live endpoint subscribed to its type and allowed to see it:
    the event's own account's endpoints, and the operator's for every event), in the caller's
    transaction: the one that appended the events."""
    if not event_uuids:
        return
    ep = webhook_endpoints
    source = (
        select(
            ep.c.id,
            events.c.id,
            literal(DeliveryState.PENDING.value),
            literal(0),
            events.c.created_at,
            events.c.created_at,
            events.c.created_at,
        )
        .select_from(
            events.join(webhook_subscriptions, webhook_subscriptions.c.type == events.c.type).join(
                ep, ep.c.id == webhook_subscriptions.c.endpoint_id
            )
        )
        .where(
            dialect.one_of(conn, events.c.uuid, event_uuids),
            or_(ep.c.account_id.is_(None), ep.c.account_id == events.c.account_id),
            ep.c.disabled_at.is_(None),
            ep.c.deleted_at.is_(None),
        )
    )
    columns = ["endpoint_id", "event_id", "state", "attempts", "next_attempt_at", "retry_from", "created_at"]
    await conn.execute(insert(webhook_deliveries).from_select(columns, source))


def _delivery_query() -> Any:
    d = webhook_deliveries
    return select(
        *d.c,
        events.c.uuid.label("event_uuid"),
        events.c.type.label("event_type"),
        events.c.data.label("event_data"),
        events.c.created_at.label("event_created_at"),
    ).select_from(d.join(events, events.c.id == d.c.event_id))


async def due(conn: AsyncConnection, now: int, limit: int) -> list[DeliveryRow]:
    """Pending deliveries whose time has come, the longest waiting first (then in event order)."""
    d = webhook_deliveries
    query = (
        _delivery_query()
        .where(d.c.state == DeliveryState.PENDING, d.c.next_attempt_at <= now)
        .order_by(d.c.next_attempt_at, d.c.id)
        .limit(limit)
    )
    return [DeliveryRow(**row) for row in (await conn.execute(query)).mappings()]


async def delivery(conn: AsyncConnection, delivery_id: int, endpoint_id: int) -> DeliveryRow | None:
    d = webhook_deliveries
    query = _delivery_query().where(d.c.id == delivery_id, d.c.endpoint_id == endpoint_id)
    row = (await conn.execute(query)).mappings().first()
    return DeliveryRow(**row) if row else None


async def deliveries_page(
    conn: AsyncConnection, endpoint_id: int, offset: int, limit: int
) -> tuple[int, list[DeliveryRow]]:
    """An endpoint's deliveries, newest event first, and how many there are."""
    d = webhook_deliveries
    total = (await conn.execute(select(func.count()).select_from(d).where(d.c.endpoint_id == endpoint_id))).scalar_one()
    query = _delivery_query().where(d.c.endpoint_id == endpoint_id).order_by(d.c.id.desc()).offset(offset).limit(limit)
    return total, [DeliveryRow(**row) for row in (await conn.execute(query)).mappings()]


async def attempts_of(conn: AsyncConnection, delivery_ids: Collection[int]) -> dict[int, list[AttemptRow]]:
    """Each delivery's attempts, oldest first."""
    if not delivery_ids:
        return {}
    a = webhook_attempts
    query = select(a).where(dialect.one_of(conn, a.c.delivery_id, delivery_ids)).order_by(a.c.id)
    found: dict[int, list[AttemptRow]] = {}
    for row in (await conn.execute(query)).mappings():
        found.setdefault(row["delivery_id"], []).append(AttemptRow(**row))
    return found


async def start_attempt(conn: AsyncConnection, delivery_id: int, now: int, resume_at: int) -> int | None:
    """Record an attempt under way and push the delivery to ``resume_at`` (when it is sent again if
    this attempt never reports back). None when the delivery is no longer pending."""
    d = webhook_deliveries
    result = await conn.execute(
        update(d)
        .where(d.c.id == delivery_id, d.c.state == DeliveryState.PENDING)
        .values(next_attempt_at=resume_at, attempts=d.c.attempts + 1)
    )
    if result.rowcount != 1:
        return None
    inserted = await conn.execute(
        insert(webhook_attempts).values(delivery_id=delivery_id, started_at=now).returning(webhook_attempts.c.id)
    )
    return inserted.scalar_one()


async def finish_attempt(
    conn: AsyncConnection,
    attempt_id: int,
    *,
    status_code: int | None,
    latency_ms: int,
    error: str | None,
    response_body: str | None,
) -> None:
    await conn.execute(
        update(webhook_attempts)
        .where(webhook_attempts.c.id == attempt_id)
        .values(status_code=status_code, latency_ms=latency_ms, error=error, response_body=response_body)
    )


async def settle(conn: AsyncConnection, delivery_id: int, state: DeliveryState, next_attempt_at: int, at: int) -> None:
    """After an attempt: delivered, failed, or pending until ``next_attempt_at``."""
    values: dict[str, Any] = {"state": state, "next_attempt_at": next_attempt_at}
    if state is DeliveryState.DELIVERED:
        values["delivered_at"] = at
    d = webhook_deliveries
    await conn.execute(update(d).where(d.c.id == delivery_id, d.c.state == DeliveryState.PENDING).values(values))


async def resend(conn: AsyncConnection, delivery_id: int, now: int) -> None:
    """Pending again, due now, with a new retry window."""
    d = webhook_deliveries
    await conn.execute(
        update(d)
        .where(d.c.id == delivery_id)
        .values(state=DeliveryState.PENDING, next_attempt_at=now, retry_from=now, delivered_at=None)
    )


# --- the lease and the key -------------------------------------------------------------------------


async def take_lease(conn: AsyncConnection, name: str, holder: str, now: int, until: int) -> bool:
    """Hold (or keep holding) ``name`` until ``until`` if it is free, expired or ours already.

    One conditional UPDATE: on PostgreSQL the row lock makes a second taker wait and then re-check
    the condition, which no longer holds; on SQLite the write transaction runs alone."""
    lease = webhook_leases
    await conn.execute(  # the row is made by the migration; a database emptied by hand gets it back
        dialect.insert_for(dialect.name(conn), lease)
        .values(name=name, holder=None, expires_at=0)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    result = await conn.execute(
        update(lease)
        .where(lease.c.name == name, or_(lease.c.holder == holder, lease.c.holder.is_(None), lease.c.expires_at < now))
        .values(holder=holder, expires_at=until)
    )
    return result.rowcount == 1


async def lease_available(conn: AsyncConnection, name: str, holder: str, now: int) -> bool:
    """Whether ``take_lease`` could succeed now (read only; the take itself decides)."""
    lease = webhook_leases
    query = select(lease.c.holder, lease.c.expires_at).where(lease.c.name == name)
    row = (await conn.execute(query)).first()
    return row is None or (row.holder in (None, holder) or row.expires_at < now)


async def release_lease(conn: AsyncConnection, name: str, holder: str) -> None:
    lease = webhook_leases
    await conn.execute(
        update(lease).where(and_(lease.c.name == name, lease.c.holder == holder)).values(holder=None, expires_at=0)
    )


async def get_key(conn: AsyncConnection, name: str) -> str | None:
    query = select(webhook_keys.c.key).where(webhook_keys.c.name == name)
    return (await conn.execute(query)).scalar_one_or_none()


async def put_key_if_absent(conn: AsyncConnection, name: str, key: str, at: int) -> None:
    statement = (
        dialect.insert_for(dialect.name(conn), webhook_keys)
        .values(name=name, key=key, created_at=at)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    await conn.execute(statement)


async def enable_endpoint(conn: AsyncConnection, endpoint_id: int) -> None:
    await conn.execute(update(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id).values(disabled_at=None))


async def delivered_since(conn: AsyncConnection, endpoint_id: int, since: int) -> bool:
    """Whether the endpoint acknowledged any delivery at or after ``since``."""
    d = webhook_deliveries
    query = select(d.c.id).where(d.c.endpoint_id == endpoint_id, d.c.delivered_at >= since).limit(1)
    return (await conn.execute(query)).first() is not None
