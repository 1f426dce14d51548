"""Holds that expire: a prediction still ``created`` or ``processing`` after its ``hold_until`` is
moved to ``timeout`` by the server itself, and its price given back.

An expired hold takes the same path as a ``timeout`` the platform reports (``charges.set_status``):
one refund record, the order ``refunded``, the rollups, all in the transaction that changes the
status. Sweeps run in batches, one transaction each, so a sweep of many holds never keeps the
balances (on SQLite, the database) locked for long, and a crash loses at most the batch under way,
which the next sweep takes again.

Exactly once, with any number of sweepers: a batch row-locks its predictions and skips rows
another transaction holds (PostgreSQL), or runs while holding the database's single write lock
(SQLite), and reads only predictions still open; a prediction already ``timeout`` is a no-op for
``set_status``, and the database allows one refund per order. See
docs/decisions/0019-holds-that-expire.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger import charges, events, operator
from billbook.store import events as event_store
from billbook.store import holds as hold_store
from billbook.store.rows import NewEvent
from billbook.times import now_ms
from billbook.vocabulary import EventType, PredictionStatus

#: Predictions expired per transaction. A batch holds its accounts' balances (on SQLite, the
#: database's write lock) until it commits, at about 1 ms per hold on SQLite and 3 ms on PostgreSQL:
#: 200 keeps that well under a second while a backlog of thousands still takes few transactions.
BATCH_SIZE = 200

log = logging.getLogger("billbook.holds")

#: Opens one write transaction: ``lambda: db.transaction(write=True)``.
Transaction = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


async def expire_batch(conn: AsyncConnection, now: int, limit: int = BATCH_SIZE) -> tuple[int, int]:
    """Expire up to ``limit`` holds whose deadline is before ``now``, in the caller's transaction.

    Returns ``(taken, expired)``: how many predictions the batch locked, and how many of them it
    moved to ``timeout`` (all of them: a locked prediction cannot be settled under the batch)."""
    due = await hold_store.take_expired(conn, now, limit)
    expired: list[NewEvent] = []
    for uuid in due:
        change = await charges.set_status(conn, uuid, PredictionStatus.TIMEOUT, now)
        if change.refund is not None:
            refund = change.refund
            data = events.record_data(refund) | {
                "prediction_uuid": uuid,
                "model_uuid": refund.model_uuid,
                "access_key_id": refund.access_key_id,
            }
            expired.append(events.new_event(refund.account_id, EventType.HOLD_EXPIRED, data, now))
    await event_store.append(conn, expired)
    return len(due), len(expired)


async def sweep(
    transaction: Transaction, *, batch_size: int = BATCH_SIZE, stop: asyncio.Event | None = None
) -> int:
    """Expire every hold past its deadline, a batch per transaction; returns how many expired.

    Ends at the first batch that is not full: nothing is left, or what is left is locked by another
    sweeper, which expires it. ``stop`` set ends the sweep after the batch under way."""
    total = 0
    while stop is None or not stop.is_set():
        async with transaction() as conn:
            taken, expired = await expire_batch(conn, now_ms(), batch_size)
        total += expired
        if taken < batch_size:
            break
    return total


async def sweep_forever(transaction: Transaction, interval_s: float, stop: asyncio.Event) -> None:
    """Sweep now, then every ``interval_s`` seconds, until ``stop`` is set; each round also rolls
    the accounts' stored 30-day spend past the days that left its window (``operator.roll_spend``:
    one read a round, work once a day).

    Runs inside every server process: a failed sweep (the database away, a deadlock victim) is
    logged and tried again at the next interval; nothing it raises ends the loop."""
    while not stop.is_set():
        try:
            expired = await sweep(transaction, stop=stop)
        except Exception:  # noqa: BLE001 - the server outlives any one sweep
            log.exception("hold sweep failed; next attempt in %s s", interval_s)
        else:
            log.log(logging.INFO if expired else logging.DEBUG, "hold sweep: %d expired hold(s) refunded", expired)
        try:
            rolled = await operator.roll_spend(transaction)
        except Exception:  # noqa: BLE001 - as above; the list stays exact, only slower, until it rolls
            log.exception("30-day spend roll failed; next attempt in %s s", interval_s)
        else:
            log.log(logging.INFO if rolled else logging.DEBUG, "30-day spend: %d account(s) rolled", rolled)
        try:
            await asyncio.wait_for(stop.wait(), interval_s)
        except TimeoutError:
            pass
