"""Charges and prediction status changes: the hold at submit, settlement, and the refund.

Charges are decided before anything is written: retries are recognised, balances are locked,
charges sent without a price are priced from the catalog (the whole list at once), each price is
checked against what is left, and only the charges that pass are written, a whole list of them in a
constant number of statements. One charge is a list of one.

A retry is recognised by what was sent, never by what was computed: a charge priced from the catalog
and retried after a new version came in is still the same charge, with the same record.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, fields, replace
from typing import Any
from uuid import uuid4

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ids import new_uuids
from billbook.ledger import archive, limits, pricing
from billbook.ledger.errors import (
    BillbookError,
    Conflict,
    InsufficientBalance,
    InvalidRequest,
    NotFound,
    SpendLimitExceeded,
)
from billbook.money import format_usd
from billbook.store import accounts as account_store
from billbook.store import billing as billing_store
from billbook.store import events as event_store
from billbook.store import keys as key_store
from billbook.store import predictions as prediction_store
from billbook.store import usage as usage_store
from billbook.store.rows import KeyRow, NewRecord, PredictionWithOrder, Record
from billbook.times import day_of, ms_to_iso, now_ms
from billbook.vocabulary import BatchOutcome, BillingType, OrderState, PredictionStatus

#: How long a prediction's hold lasts when neither the charge nor the server says.
DEFAULT_HOLD_TIMEOUT_S = 3_600
#: The longest hold a charge may ask for: seven days.
MAX_HOLD_TIMEOUT_S = 7 * 24 * 3_600
UUID_RE = re.compile(r"^[0-9a-f]{32}$")
STATUSES = frozenset(PredictionStatus)
FINAL = frozenset(s for s in PredictionStatus if s.is_final)
REFUNDING = frozenset(s for s in PredictionStatus if s.refunds)
#: Allowed moves; repeating the current status is always a no-op.
TRANSITIONS = {
    PredictionStatus.CREATED: {PredictionStatus.PROCESSING} | FINAL,
    PredictionStatus.PROCESSING: set(FINAL),
}


@dataclass(frozen=True)
class Charge:
    """A charge as sent. Without ``price`` it is priced from the catalog with ``inputs``."""

    prediction_uuid: str
    access_key_id: str
    model_uuid: str
    price: int | None = None
    origin_price: int | None = None
    model_type: str | None = None
    created_at: int | None = None
    inputs: dict[str, Any] | None = None
    hold_timeout_s: int | None = None

    def validate(self) -> None:
        if not UUID_RE.match(self.prediction_uuid):
            raise InvalidRequest("prediction_uuid must be 32 lower-case hex characters")
        if not self.model_uuid or len(self.model_uuid) > 200:
            raise InvalidRequest("model_uuid must be 1 to 200 characters")
        if self.price is not None and self.price < 0:
            raise InvalidRequest("price must not be negative")
        if self.origin_price is not None and self.origin_price < 0:
            raise InvalidRequest("origin_price must not be negative")
        if self.origin_price is not None and self.price is None:
            raise InvalidRequest(
                "origin_price may only be sent with price: a charge without price gets the catalog's list price"
            )
        if self.hold_timeout_s is not None and not 1 <= self.hold_timeout_s <= MAX_HOLD_TIMEOUT_S:
            raise InvalidRequest(f"hold_timeout_s must be between 1 and {MAX_HOLD_TIMEOUT_S} seconds")
        if self.model_type is not None and len(self.model_type) > 100:
            raise InvalidRequest("model_type must be at most 100 characters")
        if self.created_at is not None and self.created_at < 0:
            raise InvalidRequest("created_at must be milliseconds since the epoch")


@dataclass(frozen=True)
class ChargeResult:
    record_id: int
    created: bool


@dataclass(frozen=True)
class BatchItem:
    """One charge's outcome."""

    index: int
    prediction_uuid: str | None
    status: BatchOutcome
    code: int
    message: str
    record_id: int | None = None
    record_uuid: str | None = None
    error: BillbookError | None = None


def _origin_price(charge: Charge) -> int | None:
    """The list price sent; without one, the price charged is the list price. None when the price
    comes from the catalog."""
    if charge.price is None:
        return None
    return charge.origin_price if charge.origin_price is not None else charge.price


def sent_inputs(charge: Charge) -> tuple[dict[str, Any], str | None]:
    """The inputs as sent, normalised as pricing reads them, and as JSON text in the order sent
    (what the order keeps). A charge priced from the catalog always has some (``{}`` for none); one
    that sent its price has them only when it sent them. Raises ``InvalidRequest`` naming ``inputs``."""
    if charge.inputs is None and charge.price is not None:
        return {}, None
    return pricing.normalize_inputs_json(charge.inputs)


def _comparable(inputs: str | None) -> str | None:
    """Inputs text that two equal objects share whatever their key order."""
    return None if inputs is None else json.dumps(json.loads(inputs), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class _Terms:
    """What a retry must repeat to count as the same charge: what was sent, never a price the
    catalog gave (``price`` and ``origin_price`` are None for those)."""

    ak_id: int
    model_uuid: str
    price: int | None
    origin_price: int | None
    model_type: str
    created_at: int | None
    inputs: str | None
    hold_timeout_s: int | None

    @classmethod
    def of(cls, charge: Charge, ak_id: int, inputs: str | None) -> _Terms:
        return cls(
            ak_id, charge.model_uuid, charge.price, _origin_price(charge), charge.model_type or "",
            charge.created_at, _comparable(inputs), charge.hold_timeout_s,
        )

    @classmethod
    def stored(cls, found: PredictionWithOrder) -> _Terms:
        sent_price = found.order_price_version_id is None
        return cls(
            found.ak_id,
            found.model_uuid,
            found.order_price if sent_price else None,
            found.order_origin_price if sent_price else None,
            found.model_type,
            found.created_at,
            _comparable(found.order_inputs),
            (found.hold_until - found.created_at) // 1000,
        )


_TERMS = tuple(f.name for f in fields(_Terms))
#: A term as a conflict names it: the request's field.
_FIELD_NAMES = {"ak_id": "access_key_id"}


def _conflict(charge: Charge, ak_id: int, inputs: str | None, first: _Terms) -> Conflict | None:
    """A retry that disagrees with the first charge; fields the retry left out are not compared
    (a charge priced from the catalog always compares its inputs: none sent means ``{}``)."""
    retry = _Terms.of(charge, ak_id, inputs)
    left_out = {
        "origin_price": charge.origin_price is None,
        "model_type": charge.model_type is None,
        "created_at": charge.created_at is None,
        "inputs": inputs is None,
        "hold_timeout_s": charge.hold_timeout_s is None,
    }
    diffs = [
        _FIELD_NAMES.get(t, t) for t in _TERMS if not left_out.get(t) and getattr(retry, t) != getattr(first, t)
    ]
    if not diffs:
        return None
    return Conflict(
        f"prediction_uuid {charge.prediction_uuid} was already charged with a different {', '.join(diffs)}"
    )


@dataclass(frozen=True, slots=True)
class _Sent:
    """A valid charge, its place in the list and its inputs: as the order keeps them (``inputs``)
    and as pricing reads them (``normal``)."""

    index: int
    charge: Charge
    inputs: str | None
    normal: dict[str, Any]


@dataclass
class _New:
    """A charge of a prediction not recorded yet; its price is filled in before the hold."""

    index: int
    charge: Charge
    key: KeyRow
    inputs: str | None
    normal: dict[str, Any]
    at: int
    price: int = 0
    origin_price: int = 0
    version_id: int | None = None

    def terms(self, hold_timeout_s: int) -> _Terms:
        """What it was charged with, as a recorded charge would say: its time and its hold."""
        return replace(
            _Terms.of(self.charge, self.key.ak_id, self.inputs),
            created_at=self.at,
            hold_timeout_s=self.charge.hold_timeout_s or hold_timeout_s,
        )


_OUTCOMES = {InsufficientBalance: BatchOutcome.INSUFFICIENT, SpendLimitExceeded: BatchOutcome.LIMITED}


class _Batch:
    """The outcome of every item of one ``charge_many`` call, filled in as the steps decide."""

    def __init__(self, size: int) -> None:
        self.results: list[BatchItem | None] = [None] * size

    def refuse(self, index: int, uuid: str | None, error: BillbookError) -> None:
        outcome = _OUTCOMES.get(type(error), BatchOutcome.INVALID)
        self.results[index] = BatchItem(index, uuid, outcome, error.status, error.message, error=error)

    def accept(self, index: int, uuid: str, record: tuple[int, str], created: bool) -> None:
        """``record`` is the deduct's ``(id, uuid)``."""
        outcome = BatchOutcome.CREATED if created else BatchOutcome.DUPLICATE
        self.results[index] = BatchItem(index, uuid, outcome, 200, "success", *record)

    def answer_retry(self, sent: _Sent, key: KeyRow, found: PredictionWithOrder, deduct: Record) -> None:
        """A charge of a prediction already recorded: its first deduct, or the conflict."""
        index, charge = sent.index, sent.charge
        error = _conflict(charge, key.ak_id, sent.inputs, _Terms.stored(found))
        if error:
            self.refuse(index, charge.prediction_uuid, error)
        else:
            self.accept(index, charge.prediction_uuid, (deduct.id, deduct.uuid), created=False)


async def charge_many(
    conn: AsyncConnection, items: list[Charge | BillbookError], hold_timeout_s: int = DEFAULT_HOLD_TIMEOUT_S
) -> list[BatchItem]:
    """Hold the price of each prediction, in a constant number of round trips for the whole list.

    Idempotent on ``prediction_uuid`` (a charge already recorded, or repeated within the list, is a
    ``duplicate`` of the first). Charges without a price are priced together from the catalog at
    their ``created_at``. Balances are locked in account order and each charge is taken in list
    order while its key's and account's spend limits and the balance allow it; a refused charge
    writes nothing to the ledger (a refusal by a limit may write its ``limit.reached``). Items that failed
    validation at the edge arrive as the error itself. ``hold_timeout_s`` is the hold of charges
    that do not give their own.
    """
    batch = _Batch(len(items))
    valid = []
    for index, item in enumerate(items):
        if isinstance(item, BillbookError):
            batch.refuse(index, None, item)
            continue
        try:
            item.validate()
            normal, inputs = sent_inputs(item)
            valid.append(_Sent(index, item, inputs, normal))
        except InvalidRequest as exc:
            batch.refuse(index, item.prediction_uuid, exc)
    keys = await key_store.by_access_key_ids(conn, {s.charge.access_key_id for s in valid})
    # Lock first, then look for recorded charges: a concurrent charge of the same prediction has
    # then either committed (and is seen as a retry) or not started, never half-way.
    balances = await account_store.lock_many(conn, {k.account_id for k in keys.values()})
    locked = dict(balances)
    new, repeats = await _sort_out(conn, batch, valid, keys, now_ms())
    priced = await _price(conn, batch, new)
    book = await limits.SpendBook.load(conn, {(n.key.account_id, n.key.access_key_id) for n in priced}, {n.at for n in priced})
    held = await _hold(conn, batch, priced, balances, book)
    await _write(conn, batch, held, locked, hold_timeout_s, book)
    _settle_repeats(batch, repeats, {n.charge.prediction_uuid: n for n in new}, hold_timeout_s)
    return [r for r in batch.results if r is not None]


async def _sort_out(
    conn: AsyncConnection, batch: _Batch, valid: list[_Sent], keys: dict[str, KeyRow], now: int
) -> tuple[list[_New], list[tuple[_Sent, KeyRow]]]:
    """Split valid charges into new ones (dated: their ``created_at``, else ``now``) and repeats;
    answer retries of recorded charges."""
    existing = await prediction_store.many_with_orders(conn, {s.charge.prediction_uuid for s in valid})
    deducts = await billing_store.deducts_for_orders(conn, [e.order_id for e in existing.values()])
    # Only back-dated charges can fall in an archived month: the archive is asked only for them.
    online_from = await archive.archived_end(conn) if any(s.charge.created_at is not None for s in valid) else None
    new: list[_New] = []
    repeats: list[tuple[_Sent, KeyRow]] = []
    seen: set[str] = set()
    for sent in valid:
        index, charge = sent.index, sent.charge
        key = keys.get(charge.access_key_id)
        found = existing.get(charge.prediction_uuid)
        if key is None:
            batch.refuse(index, charge.prediction_uuid, NotFound(f"access key {charge.access_key_id} not found"))
        elif found is not None and found.order_id not in deducts:  # its deduct's month was archived
            batch.refuse(index, charge.prediction_uuid, archive.archived_error(f"prediction {found.uuid}", found.created_at))
        elif found is not None:
            batch.answer_retry(sent, key, found, deducts[found.order_id])
        elif online_from is not None and charge.created_at is not None and charge.created_at < online_from:
            batch.refuse(index, charge.prediction_uuid, archive.archived_error("created_at", charge.created_at))
        elif charge.prediction_uuid in seen:
            repeats.append((sent, key))
        elif key.revoked_at is not None:
            batch.refuse(index, charge.prediction_uuid, Conflict(f"access key {charge.access_key_id} is revoked"))
        else:
            seen.add(charge.prediction_uuid)
            at = charge.created_at if charge.created_at is not None else now
            new.append(_New(index, charge, key, sent.inputs, sent.normal, at))
    return new, repeats


async def _price(conn: AsyncConnection, batch: _Batch, new: list[_New]) -> list[_New]:
    """Fill in each new charge's price: as sent, or from the catalog at the charge's time with the
    account's discount then, all of them in one ``price_many`` call. A charge the catalog cannot
    price is refused alone: a model without a version then needs ``price`` (400 naming it)."""
    for item in new:
        if item.charge.price is not None:
            item.price = item.charge.price
            sent = item.charge.origin_price
            item.origin_price = sent if sent is not None else item.charge.price
    to_price = [n for n in new if n.charge.price is None]
    quotes = await pricing.price_many(
        conn,
        [
            pricing.PriceRequest(n.key.account_id, n.charge.model_uuid, n.at, n.normal)
            for n in to_price
        ],
    )
    for item, quote in zip(to_price, quotes, strict=True):
        if isinstance(quote, NotFound):
            batch.refuse(
                item.index,
                item.charge.prediction_uuid,
                InvalidRequest(
                    f"price is required: model {item.charge.model_uuid} has no price in the catalog "
                    f"at {item.at} (ms)"
                ),
            )
        elif isinstance(quote, BillbookError):
            batch.refuse(item.index, item.charge.prediction_uuid, quote)
        else:
            item.price, item.origin_price, item.version_id = quote.price, quote.list_price, quote.version_id
    return [n for n in new if batch.results[n.index] is None]


async def _hold(
    conn: AsyncConnection, batch: _Batch, new: list[_New], balances: dict[int, int], book: limits.SpendBook
) -> list[_New]:
    """Take each new charge's price from its (locked) account while its limits and the balance
    allow it. Limits come first: a leaked key's cap is the refusal worth naming."""
    deltas: dict[int, int] = defaultdict(int)
    held = []
    for item in new:
        account_id, price = item.key.account_id, item.price
        limited = book.check(account_id, item.key.access_key_id, item.at, price)
        if limited is not None:
            batch.refuse(item.index, item.charge.prediction_uuid, limited)
            continue
        if balances[account_id] < price:
            batch.refuse(
                item.index,
                item.charge.prediction_uuid,
                InsufficientBalance(
                    f"insufficient balance: price {format_usd(price)} USD is more than "
                    f"the balance of {format_usd(balances[account_id])} USD"
                ),
            )
            continue
        balances[account_id] -= price
        deltas[account_id] -= price
        book.spend(account_id, item.key.access_key_id, item.at, price)
        held.append(item)
    await account_store.add_many(conn, dict(deltas))
    return held


async def _write(
    conn: AsyncConnection,
    batch: _Batch,
    held: list[_New],
    locked: dict[int, int],
    hold_timeout_s: int,
    book: limits.SpendBook,
) -> None:
    """Predictions, orders, deduct records, rollups and alerts for the held charges.

    ``locked`` is each account's balance when its lock was taken. The records get their ids in
    list order, the ledger's write order, so each deduct's ``balance_after`` is that balance less
    the prices held before it in the list (charges lost to a concurrent retry excluded). Each
    prediction's hold expires its hold timeout (the charge's, else ``hold_timeout_s``) after the
    charge's time."""
    order_uuids, record_uuids = new_uuids(len(held)), new_uuids(len(held))
    # Inserted in uuid order: two batches sharing uuids then wait on each other in one direction only.
    prediction_ids = await prediction_store.insert_many(
        conn,
        sorted([
            {
                "uuid": n.charge.prediction_uuid,
                "account_id": n.key.account_id,
                "ak_id": n.key.ak_id,
                "model_uuid": n.charge.model_uuid,
                "model_type": n.charge.model_type or "",
                "status": PredictionStatus.CREATED,
                "created_at": n.at,
                "hold_until": n.at + (n.charge.hold_timeout_s or hold_timeout_s) * 1000,
            }
            for n in held
        ], key=lambda row: row["uuid"]),
    )
    lost = [n for n in held if n.charge.prediction_uuid not in prediction_ids]
    if lost:
        held = await _lost_races(conn, batch, held, lost)
        for n in lost:
            book.spend(n.key.account_id, n.key.access_key_id, n.at, -n.price)
    order_ids = await prediction_store.insert_orders(
        conn,
        [
            {
                "uuid": order_uuids[i],
                "prediction_id": prediction_ids[n.charge.prediction_uuid],
                "account_id": n.key.account_id,
                "ak_id": n.key.ak_id,
                "price": n.price,
                "origin_price": n.origin_price,
                "price_version_id": n.version_id,
                "inputs": n.inputs,
                "created_at": n.at,
            }
            for i, n in enumerate(held)
        ],
    )
    running = dict(locked)
    records = []
    for i, n in enumerate(held):
        prediction_id = prediction_ids[n.charge.prediction_uuid]
        running[n.key.account_id] -= n.price
        records.append(
            NewRecord(
                uuid=record_uuids[i],
                account_id=n.key.account_id,
                billing_type=BillingType.DEDUCT,
                price=n.price,
                delta=-n.price,
                balance_after=running[n.key.account_id],
                ak_id=n.key.ak_id,
                access_key_id=n.key.access_key_id,
                order_id=order_ids[prediction_id],
                prediction_id=prediction_id,
                model_uuid=n.charge.model_uuid,
                created_at=n.at,
            )
        )
    record_ids = await billing_store.insert_many(conn, records)
    now = now_ms()
    await usage_store.add_many(conn, _usage_cells(held), today=day_of(now))
    alerts = await book.write(conn, now)
    moved = {a: (locked[a], running[a]) for a in {n.key.account_id for n in held}}
    alerts += await limits.balance_changes(conn, moved, now)
    await event_store.append(conn, alerts)
    for item, record_id, record in zip(held, record_ids, records, strict=True):
        batch.accept(item.index, item.charge.prediction_uuid, (record_id, record.uuid), created=True)


async def _lost_races(conn: AsyncConnection, batch: _Batch, held: list[_New], lost: list[_New]) -> list[_New]:
    """Charges whose uuid a concurrent transaction recorded first: give the money back and answer
    them as retries of that charge."""
    refunds: dict[int, int] = defaultdict(int)
    for item in lost:
        refunds[item.key.account_id] += item.price
    await account_store.add_many(conn, dict(refunds))
    existing = await prediction_store.many_with_orders(conn, {n.charge.prediction_uuid for n in lost})
    deducts = await billing_store.deducts_for_orders(conn, [e.order_id for e in existing.values()])
    for item in lost:
        found = existing[item.charge.prediction_uuid]
        batch.answer_retry(_Sent(item.index, item.charge, item.inputs, item.normal), item.key, found, deducts[found.order_id])
    return [n for n in held if n not in lost]


def _usage_cells(held: list[_New]) -> list[dict]:
    cells: dict[tuple, dict] = {}
    for n in held:
        key = (n.key.account_id, day_of(n.at), n.charge.model_uuid, n.key.access_key_id)
        cell = cells.setdefault(
            key,
            {"account_id": key[0], "day": key[1], "model_uuid": key[2], "access_key_id": key[3],
             "model_type": "", "deduct_count": 0, "deduct_amount": 0, "used_at": -1, "price": 0},
        )
        cell["deduct_count"] += 1
        cell["deduct_amount"] += n.price
        cell["model_type"] = n.charge.model_type or cell["model_type"]
        if (n.at, n.price) > (cell["used_at"], cell["price"]):
            cell["used_at"], cell["price"] = n.at, n.price
    return [cells[key] for key in sorted(cells)]  # in key order, as the rollup's index


def _settle_repeats(
    batch: _Batch, repeats: list[tuple[_Sent, KeyRow]], firsts: dict[str, _New], hold_timeout_s: int
) -> None:
    """A charge repeated within one list shares the first one's outcome, or conflicts with it.

    When the first was refused nothing was charged, so there is nothing to conflict with: the
    repeat is refused in the same way, and says so."""
    for sent, key in repeats:
        index, charge = sent.index, sent.charge
        first = firsts[charge.prediction_uuid]
        outcome = batch.results[first.index]
        assert outcome is not None
        if outcome.error is not None:
            batch.refuse(index, charge.prediction_uuid, _repeat_of_refused(charge, outcome.error))
            continue
        error = _conflict(charge, key.ak_id, sent.inputs, first.terms(hold_timeout_s))
        if error:
            batch.refuse(index, charge.prediction_uuid, error)
        else:
            assert outcome.record_id is not None and outcome.record_uuid is not None
            batch.accept(index, charge.prediction_uuid, (outcome.record_id, outcome.record_uuid), created=False)


def _repeat_of_refused(charge: Charge, refusal: BillbookError) -> BillbookError:
    """The first charge's refusal (same class, so same status and code), naming the repeat."""
    return type(refusal)(
        f"prediction_uuid {charge.prediction_uuid} repeats an earlier charge in this batch "
        f"that was refused: {refusal.message}"
    )


async def charge(
    conn: AsyncConnection, charge: Charge, hold_timeout_s: int = DEFAULT_HOLD_TIMEOUT_S
) -> ChargeResult:
    """Hold the price of one prediction; raises the refusal (400, 402, 403, 404, 409) as an error."""
    result = await charge_or_refusal(conn, charge, hold_timeout_s)
    if isinstance(result, BillbookError):
        raise result
    return result


async def charge_or_refusal(
    conn: AsyncConnection, charge: Charge, hold_timeout_s: int = DEFAULT_HOLD_TIMEOUT_S
) -> ChargeResult | BillbookError:
    """``charge``, with the refusal returned rather than raised: a caller that commits before
    raising it keeps the ``limit.reached`` alert a refusal by a limit writes (the ledger itself
    is unchanged by any refusal)."""
    (outcome,) = await charge_many(conn, [charge], hold_timeout_s)
    if outcome.error is not None:
        return outcome.error
    assert outcome.record_id is not None
    return ChargeResult(outcome.record_id, created=outcome.status == BatchOutcome.CREATED)


@dataclass(frozen=True)
class StatusChange:
    prediction_uuid: str
    status: PredictionStatus
    changed: bool
    order_state: OrderState
    #: The refund this change wrote, if it wrote one.
    refund: Record | None = None
    #: The prediction's account (what the audit log files the change under).
    account_id: int | None = None

    @property
    def refund_record_id(self) -> int | None:
        return None if self.refund is None else self.refund.id


def _check_transition(current: PredictionStatus, new: PredictionStatus, found: PredictionWithOrder) -> None:
    if new in TRANSITIONS.get(current, set()):
        return
    if current == PredictionStatus.TIMEOUT and found.updated_at >= found.hold_until:  # timed out once the hold expired
        raise Conflict(
            f"prediction {found.uuid}'s hold expired at {ms_to_iso(found.hold_until)}: "
            f"it was refunded and cannot be {new}"
        )
    raise Conflict(f"prediction {found.uuid} cannot go from {current} to {new}")


async def set_status(conn: AsyncConnection, uuid: str, status: str, at: int | None = None) -> StatusChange:
    """Move a prediction along its lifecycle; a final failure refunds its charge exactly once."""
    if status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(sorted(STATUSES))}")
    new = PredictionStatus(status)
    if at is not None and at < 0:
        raise InvalidRequest("at must be milliseconds since the epoch")
    found = await prediction_store.get_with_order(conn, uuid, lock=True)
    if found is None:
        raise NotFound(f"prediction {uuid} not found")
    current, state = PredictionStatus(found.status), OrderState(found.order_state)
    if current == new:
        return StatusChange(uuid, new, changed=False, order_state=state, account_id=found.account_id)
    _check_transition(current, new, found)
    deduct = await billing_store.record_for_order(conn, found.order_id, BillingType.DEDUCT)
    if deduct is None:  # every order has its deduct, unless its month was archived
        raise archive.archived_error(f"prediction {found.uuid}", found.created_at)
    # Never before the charge (a platform clock behind ours): a refund dated first would sort first.
    at = max(at if at is not None else now_ms(), deduct.created_at)
    await prediction_store.set_status(conn, found.prediction_id, new, at)
    usage_cell = {
        "account_id": found.account_id,
        "day": day_of(deduct.created_at),
        "model_uuid": found.model_uuid,
        "access_key_id": deduct.access_key_id,
    }
    if new == PredictionStatus.COMPLETED:
        await prediction_store.set_order_state(conn, found.order_id, OrderState.DONE, at)
        await usage_store.add(conn, **usage_cell, completed_count=1, today=day_of(at))
        return StatusChange(uuid, new, changed=True, order_state=OrderState.DONE, account_id=found.account_id)
    if new.refunds:
        refund = await _refund(conn, found, deduct, at)
        await usage_store.add(conn, **usage_cell, refund_count=1, refund_amount=found.order_price, today=day_of(at))
        await _free_spend(conn, deduct, found.order_price)
        return StatusChange(uuid, new, True, OrderState.REFUNDED, refund, found.account_id)
    return StatusChange(uuid, new, changed=True, order_state=state, account_id=found.account_id)


async def _free_spend(conn: AsyncConnection, deduct: Record, price: int) -> None:
    """A refund takes its price out of the spend windows of its deduct (re-arming their alerts)."""
    assert deduct.access_key_id is not None, "a deduct names its key"
    subject = (deduct.account_id, deduct.access_key_id)
    book = await limits.SpendBook.load(conn, [subject], [deduct.created_at])
    book.spend(*subject, deduct.created_at, -price)
    await book.write(conn, now_ms())


async def _refund(conn: AsyncConnection, found: PredictionWithOrder, deduct: Record, at: int) -> Record:
    """Give the order's price back.

    The account is locked before the record is written: the refund's id, its place in the ledger's
    write order, is then taken while no other writer can change the balance it reports."""
    balance = await account_store.lock(conn, found.account_id)
    assert balance is not None, "a prediction's account exists"
    record = await billing_store.insert(
        conn,
        NewRecord(
            uuid=uuid4().hex,
            account_id=found.account_id,
            billing_type=BillingType.REFUND,
            price=found.order_price,
            delta=found.order_price,
            balance_after=balance + found.order_price,
            ak_id=deduct.ak_id,
            access_key_id=deduct.access_key_id,
            order_id=found.order_id,
            prediction_id=found.prediction_id,
            model_uuid=found.model_uuid,
            created_at=at,
        ),
    )
    await account_store.add_to_balance(conn, found.account_id, found.order_price)
    await prediction_store.set_order_state(conn, found.order_id, OrderState.REFUNDED, at)
    return record
