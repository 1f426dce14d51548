"""Charges and prediction status changes: the hold at submit, settlement, and the refund.

A charge is written so that every refusal happens before anything is written: the balance is taken
by a conditional UPDATE first (refused: nothing changed, 402), and only then are the prediction, its
order and the ``deduct`` record inserted. The same code serves one charge and a batch of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger.errors import BillbookError, Conflict, InsufficientBalance, InvalidRequest, NotFound
from billbook.money import format_usd
from billbook.store import accounts as account_store
from billbook.store import billing as billing_store
from billbook.store import keys as key_store
from billbook.store import predictions as prediction_store
from billbook.store import usage as usage_store
from billbook.times import day_of, now_ms

UUID_RE = re.compile(r"^[0-9a-f]{32}$")
FINAL = frozenset({"completed", "failed", "cancelled", "timeout"})
REFUNDING = frozenset({"failed", "cancelled", "timeout"})
STATUSES = frozenset({"created", "processing"}) | FINAL
#: Allowed moves; repeating the current status is always a no-op.
TRANSITIONS = {
    "created": {"processing"} | FINAL,
    "processing": set(FINAL),
}


@dataclass(frozen=True)
class Charge:
    prediction_uuid: str
    access_key_id: str
    model_uuid: str
    price: int
    origin_price: int | None = None
    model_type: str | None = None
    created_at: int | None = None

    def validate(self) -> None:
        if not UUID_RE.match(self.prediction_uuid):
            raise InvalidRequest("prediction_uuid must be 32 lower-case hex characters")
        if not self.model_uuid or len(self.model_uuid) > 200:
            raise InvalidRequest("model_uuid must be 1 to 200 characters")
        if self.price < 0:
            raise InvalidRequest("price must not be negative")
        if self.origin_price is not None and self.origin_price < 0:
            raise InvalidRequest("origin_price must not be negative")
        if self.model_type is not None and len(self.model_type) > 100:
            raise InvalidRequest("model_type must be at most 100 characters")
        if self.created_at is not None and self.created_at < 0:
            raise InvalidRequest("created_at must be milliseconds since the epoch")


@dataclass(frozen=True)
class ChargeResult:
    record_id: int
    created: bool
    balance: int | None = None


def _differences(charge: Charge, existing: dict, key: dict) -> list[str]:
    """Fields of a retried charge that disagree with the charge already recorded."""
    diffs = []
    if existing["ak_id"] != key["id"]:
        diffs.append("access_key_id")
    if existing["model_uuid"] != charge.model_uuid:
        diffs.append("model_uuid")
    if existing["order_price"] != charge.price:
        diffs.append("price")
    if existing["order_origin_price"] != (charge.origin_price if charge.origin_price is not None else charge.price):
        diffs.append("origin_price")
    if charge.model_type is not None and existing["model_type"] != charge.model_type:
        diffs.append("model_type")
    if charge.created_at is not None and existing["created_at"] != charge.created_at:
        diffs.append("created_at")
    return diffs


async def _replay(conn: AsyncConnection, charge: Charge, key: dict, existing: dict) -> ChargeResult:
    diffs = _differences(charge, existing, key)
    if diffs:
        raise Conflict(
            f"prediction_uuid {charge.prediction_uuid} was already charged with a different "
            f"{', '.join(diffs)}"
        )
    record = await billing_store.record_for_order(conn, existing["order_id"], "deduct")
    assert record is not None, "every order has its deduct"
    return ChargeResult(record["id"], created=False)


async def charge(conn: AsyncConnection, charge: Charge) -> ChargeResult:
    """Hold the price of a prediction; idempotent on ``prediction_uuid``."""
    charge.validate()
    key = await key_store.by_access_key_id(conn, charge.access_key_id)
    if key is None:
        raise NotFound(f"access key {charge.access_key_id} not found")
    existing = await prediction_store.get_with_order(conn, charge.prediction_uuid)
    if existing is not None:
        return await _replay(conn, charge, key, existing)
    if key["revoked_at"] is not None:
        raise Conflict(f"access key {charge.access_key_id} is revoked")

    account_id = key["account_id"]
    balance = await account_store.debit_if_covered(conn, account_id, charge.price)
    if balance is None:
        current = await account_store.balance(conn, account_id) or 0
        raise InsufficientBalance(
            f"insufficient balance: price {format_usd(charge.price)} USD is more than "
            f"the balance of {format_usd(current)} USD"
        )
    at = charge.created_at if charge.created_at is not None else now_ms()
    model_type = charge.model_type or ""
    prediction_id = await prediction_store.insert_if_new(
        conn,
        uuid=charge.prediction_uuid,
        account_id=account_id,
        ak_id=key["id"],
        model_uuid=charge.model_uuid,
        model_type=model_type,
        status="created",
        created_at=at,
    )
    if prediction_id is None:
        # A concurrent request charged the same prediction first: give the money back, answer as a retry.
        await account_store.add_to_balance(conn, account_id, charge.price)
        existing = await prediction_store.get_with_order(conn, charge.prediction_uuid)
        assert existing is not None
        return await _replay(conn, charge, key, existing)

    origin_price = charge.origin_price if charge.origin_price is not None else charge.price
    order_id = await prediction_store.insert_order(
        conn,
        uuid=uuid4().hex,
        prediction_id=prediction_id,
        account_id=account_id,
        ak_id=key["id"],
        price=charge.price,
        origin_price=origin_price,
        created_at=at,
    )
    record_id = await billing_store.insert(
        conn,
        uuid=uuid4().hex,
        account_id=account_id,
        billing_type="deduct",
        price=charge.price,
        delta=-charge.price,
        ak_id=key["id"],
        access_key_id=key["access_key_id"],
        order_id=order_id,
        prediction_id=prediction_id,
        model_uuid=charge.model_uuid,
        created_at=at,
    )
    await usage_store.add(
        conn,
        account_id=account_id,
        day=day_of(at),
        model_uuid=charge.model_uuid,
        access_key_id=key["access_key_id"],
        model_type=model_type,
        deduct_count=1,
        deduct_amount=charge.price,
        used_at=at,
        price=charge.price,
    )
    return ChargeResult(record_id, created=True, balance=balance)


@dataclass(frozen=True)
class BatchItem:
    """One charge's outcome in a batch: ``created``, ``duplicate``, ``insufficient`` or ``invalid``."""

    index: int
    prediction_uuid: str | None
    status: str
    code: int
    message: str
    record_id: int | None = None


async def charge_many(conn: AsyncConnection, charges: list[Charge | BillbookError]) -> list[BatchItem]:
    """Each charge on its own terms, all in the caller's one transaction.

    Items that failed validation at the edge arrive as the error itself. Since a refused charge
    writes nothing, one refusal needs no savepoint and leaves the others untouched.
    """
    results = []
    for index, item in enumerate(charges):
        if isinstance(item, BillbookError):
            results.append(BatchItem(index, None, "invalid", item.status, item.message))
            continue
        try:
            outcome = await charge(conn, item)
        except InsufficientBalance as exc:
            results.append(BatchItem(index, item.prediction_uuid, "insufficient", exc.status, exc.message))
        except (InvalidRequest, NotFound, Conflict) as exc:
            results.append(BatchItem(index, item.prediction_uuid, "invalid", exc.status, exc.message))
        else:
            status = "created" if outcome.created else "duplicate"
            results.append(BatchItem(index, item.prediction_uuid, status, 200, "success", outcome.record_id))
    return results


@dataclass(frozen=True)
class StatusChange:
    prediction_uuid: str
    status: str
    changed: bool
    order_state: str
    refund_record_id: int | None = None


def _check_transition(current: str, new: str, uuid: str) -> None:
    if new not in TRANSITIONS.get(current, set()):
        raise Conflict(f"prediction {uuid} cannot go from {current} to {new}")


async def set_status(conn: AsyncConnection, uuid: str, status: str, at: int | None = None) -> StatusChange:
    """Move a prediction along its lifecycle; a final failure refunds its charge exactly once."""
    if status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(sorted(STATUSES))}")
    if at is not None and at < 0:
        raise InvalidRequest("at must be milliseconds since the epoch")
    found = await prediction_store.get_with_order(conn, uuid, lock=True)
    if found is None:
        raise NotFound(f"prediction {uuid} not found")
    if found["status"] == status:
        return StatusChange(uuid, status, changed=False, order_state=found["order_state"])
    _check_transition(found["status"], status, uuid)
    at = at if at is not None else now_ms()
    await prediction_store.set_status(conn, found["id"], status, at)
    deduct = await billing_store.record_for_order(conn, found["order_id"], "deduct")
    assert deduct is not None, "every order has its deduct"
    usage_cell = {
        "account_id": found["account_id"],
        "day": day_of(deduct["created_at"]),
        "model_uuid": found["model_uuid"],
        "access_key_id": deduct["access_key_id"],
    }
    if status == "completed":
        await prediction_store.set_order_state(conn, found["order_id"], "done", at)
        await usage_store.add(conn, **usage_cell, completed_count=1)
        return StatusChange(uuid, status, changed=True, order_state="done")
    if status in REFUNDING:
        refund_id = await _refund(conn, found, deduct, at)
        await usage_store.add(conn, **usage_cell, refund_count=1, refund_amount=found["order_price"])
        return StatusChange(uuid, status, True, "refunded", refund_id)
    return StatusChange(uuid, status, changed=True, order_state=found["order_state"])


async def _refund(conn: AsyncConnection, found: dict, deduct: dict, at: int) -> int:
    record_id = await billing_store.insert(
        conn,
        uuid=uuid4().hex,
        account_id=found["account_id"],
        billing_type="refund",
        price=found["order_price"],
        delta=found["order_price"],
        ak_id=deduct["ak_id"],
        access_key_id=deduct["access_key_id"],
        order_id=found["order_id"],
        prediction_id=found["id"],
        model_uuid=found["model_uuid"],
        created_at=at,
    )
    await account_store.add_to_balance(conn, found["account_id"], found["order_price"])
    await prediction_store.set_order_state(conn, found["order_id"], "refunded", at)
    return record_id
