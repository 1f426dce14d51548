"""Queries of the hold sweeper: predictions whose hold has expired, taken for one transaction."""

from __future__ import annotations

from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store.tables import orders, predictions

#: Word for word the predicate of the partial index ``ix_predictions_open_hold_until``: both
#: databases use a partial index only when the query repeats its condition.
_OPEN = text("predictions.status IN ('created', 'processing')")

_EXPIRED = (
    select(predictions.c.uuid, predictions.c.account_id, predictions.c.id)
    .join(orders, orders.c.prediction_id == predictions.c.id)
    .where(_OPEN, predictions.c.hold_until < bindparam("now"))
    .order_by(predictions.c.hold_until)
    .limit(bindparam("limit"))
    # PostgreSQL: rows another transaction holds (another sweeper's batch, a status change under
    # way) are passed over, not waited for, so concurrent sweepers take disjoint batches. SQLite
    # renders nothing: the write transaction already holds the database.
    .with_for_update(of=(predictions, orders), skip_locked=True)
)


async def take_expired(conn: AsyncConnection, now: int, limit: int) -> list[str]:
    """Uuids of up to ``limit`` predictions still ``created`` or ``processing`` whose
    ``hold_until`` is before ``now``, with their orders row-locked until the transaction ends.

    They come in account order (then prediction id): the refunds then lock balances in the order
    charges lock them, so a sweep and a batch of charges never wait on each other in a cycle.
    """
    rows = (await conn.execute(_EXPIRED, {"now": now, "limit": limit})).all()
    return [uuid for uuid, _account, _id in sorted(rows, key=lambda row: (row[1], row[2]))]
