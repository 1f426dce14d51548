"""Money in and operator corrections: recharges and adjustments, idempotent on ``reference``."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger import archive, events, limits
from billbook.ledger.errors import Conflict, InvalidRequest, NotFound
from billbook.money import MAX_BALANCE_MICROS, format_usd
from billbook.store import accounts as account_store
from billbook.store import billing as billing_store
from billbook.store import events as event_store
from billbook.store.rows import NewRecord, Record
from billbook.times import now_ms
from billbook.vocabulary import BillingType, EventType


@dataclass(frozen=True)
class FundsResult:
    record: Record
    balance: int
    created: bool


def _check_reference(reference: str) -> str:
    reference = reference.strip()
    if not reference or len(reference) > 200:
        raise InvalidRequest("reference must be 1 to 200 characters")
    return reference


async def _apply(
    conn: AsyncConnection,
    account_id: int,
    *,
    billing_type: BillingType,
    delta: int,
    reference: str,
    reason: str | None = None,
    at: int | None = None,
) -> FundsResult:
    reference = _check_reference(reference)
    balance = await account_store.lock(conn, account_id)
    if balance is None:
        raise NotFound(f"account {account_id} not found")
    existing = await billing_store.by_reference(conn, account_id, billing_type, reference)
    if existing is None:
        archived_at = await billing_store.archived_key_at(conn, account_id, billing_type, reference)
        if archived_at is not None:
            raise archive.archived_error(f"reference {reference!r}", archived_at)
    await archive.refuse_archived(conn, at, "at")
    if existing is not None:
        if existing.delta != delta or (reason is not None and existing.reason != reason):
            raise Conflict(
                f"reference {reference!r} was already used for a {billing_type} of "
                f"{format_usd(existing.delta)} USD with a different payload"
            )
        return FundsResult(existing, balance, created=False)
    if abs(balance + delta) > MAX_BALANCE_MICROS:
        raise InvalidRequest("amount would take the balance beyond what billbook keeps exactly (9e9 USD)")
    record = await billing_store.insert(
        conn,
        NewRecord(
            uuid=uuid4().hex,
            account_id=account_id,
            billing_type=billing_type,
            price=abs(delta),
            delta=delta,
            balance_after=balance + delta,
            reference=reference,
            reason=reason,
            created_at=at if at is not None else now_ms(),
        ),
    )
    balance = await account_store.add_to_balance(conn, account_id, delta)
    await events.emit(conn, account_id, _EVENTS[billing_type], events.record_data(record))
    if delta < 0:
        alerts = await limits.balance_changes(conn, {account_id: (balance - delta, balance)}, record.created_at)
        await event_store.append(conn, alerts)
    return FundsResult(record, balance, created=True)


_EVENTS = {BillingType.RECHARGE: EventType.RECHARGE_CREATED, BillingType.ADJUST: EventType.ADJUSTMENT_CREATED}


async def recharge(
    conn: AsyncConnection,
    account_id: int,
    amount: int,
    reference: str,
    *,
    at: int | None = None,
    reason: str | None = None,
) -> FundsResult:
    """Add money; ``at`` dates a back-filled top-up (default: now); ``reason`` (optional) is kept
    on the record, and a retry that sends one must send the same."""
    if amount <= 0:
        raise InvalidRequest("amount must be greater than 0")
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > 1000:
        raise InvalidRequest("reason must be at most 1000 characters")
    return await _apply(
        conn, account_id, billing_type=BillingType.RECHARGE, delta=amount, reference=reference, reason=reason, at=at
    )


async def adjust(
    conn: AsyncConnection, account_id: int, amount: int, reason: str, reference: str, *, at: int | None = None
) -> FundsResult:
    """An operator's signed correction. It may take the balance below zero (a chargeback after the
    money was spent is still owed); only charges are refused for want of balance."""
    if amount == 0:
        raise InvalidRequest("amount must not be 0")
    reason = reason.strip()
    if not reason or len(reason) > 1000:
        raise InvalidRequest("reason must be 1 to 1000 characters")
    return await _apply(
        conn, account_id, billing_type=BillingType.ADJUST, delta=amount, reference=reference, reason=reason, at=at
    )
