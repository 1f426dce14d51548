"""Events caused by ledger changes, written to the outbox in the change's own transaction.

An event exists exactly when the change that caused it committed: a rolled-back charge leaves no
``balance.low`` behind, and a crash after the commit loses no event, because whatever hands events
on (webhooks) reads them from the table afterwards. Money in ``data`` is an exact JSON number, as
on the wire. See docs/decisions/0021-event-outbox.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import uuid4

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.money import usd_text
from billbook.store import events as event_store
from billbook.store.rows import NewEvent, Record
from billbook.times import ms_to_iso, now_ms
from billbook.vocabulary import EventType


def usd(micros: int) -> orjson.Fragment:
    """An amount for an event's ``data``: an exact JSON number (``0.04``, never ``0.04000000001``)."""
    return orjson.Fragment(usd_text(micros).encode())


def new_event(account_id: int | None, type: EventType, data: Mapping[str, Any], at: int | None = None) -> NewEvent:
    """An event to append; ``data`` may hold :func:`usd` amounts."""
    return NewEvent(
        uuid=f"evt_{uuid4().hex}",
        account_id=account_id,
        type=type,
        data=orjson.dumps(dict(data), option=orjson.OPT_SORT_KEYS).decode(),
        created_at=now_ms() if at is None else at,
    )


async def emit(conn: AsyncConnection, account_id: int | None, type: EventType, data: Mapping[str, Any]) -> None:
    """Append one event in the caller's transaction."""
    await event_store.append(conn, [new_event(account_id, type, data)])


def record_data(record: Record) -> dict[str, Any]:
    """What an event about one billing record says: the record, its signed amount and the balance
    right after it."""
    data: dict[str, Any] = {
        "account_id": record.account_id,
        "record_uuid": record.uuid,
        "billing_type": record.billing_type,
        "amount": usd(record.delta),
        "balance": usd(record.balance_after),
        "created_at": ms_to_iso(record.created_at),
    }
    if record.reference is not None:
        data["reference"] = record.reference
    if record.reason is not None:
        data["reason"] = record.reason
    return data
