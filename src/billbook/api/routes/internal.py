"""Operator routes for the platform that runs predictions; admin token only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.api import metrics, render
from billbook.api.deps import OperatorRoute, as_operator, audit_entry, operator
from billbook.api.envelope import JSONBody, success
from billbook.api.errors import describe
from billbook.api.responses import (
    ERRORS,
    AccountOut,
    BatchOut,
    ChargeOut,
    Envelope,
    FundsOut,
    KeyOut,
    RevokedKeyOut,
    StatusOut,
)
from billbook.api.schemas import (
    AdjustmentRequest,
    BatchChargeRequest,
    ChargeRequest,
    CreateAccountRequest,
    CreateKeyRequest,
    RechargeRequest,
    StatusRequest,
)
from billbook.ledger import accounts, charges, funds, idempotency, keys, search
from billbook.ledger.errors import BillbookError, InvalidRequest
from billbook.vocabulary import BatchOutcome
from billbook.api.envelope import usd
from billbook.money import usd_text, usd_to_micros
from billbook.times import ms_to_iso
from billbook.vocabulary import AuditAction

#: Account ids are 32-bit on both databases; a larger one cannot exist and would overflow the query.
AccountId = Annotated[int, Path(ge=1, le=2_147_483_647)]
#: Shapes of the ids in paths: anything else cannot exist, and may not even be storable text.
PredictionUuid = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
#: A caller's idempotency key for account and key creation: a retry gets the first answer.
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]
AccessKeyId = Annotated[str, Path(max_length=64, pattern=r"^[0-9]+_[0-9]+$")]

router = APIRouter(
    route_class=OperatorRoute, prefix="/internal/v1", tags=["internal"], dependencies=[Depends(operator)]
)


def _docs(model: type) -> dict:
    return {200: {"model": Envelope[model]}, **ERRORS}


@router.post("/accounts", responses=_docs(AccountOut), summary="Create an account")
async def create_account(request: Request, body: CreateAccountRequest, idempotency_key: IdempotencyKey = None) -> JSONBody:
    """With an ``Idempotency-Key`` header, a retry returns the first account instead of a second."""
    entry = audit_entry(request, AuditAction.ACCOUNT_CREATE, "account", name=body.name, balance=usd_text(body.balance or 0))
    async with as_operator(request, entry) as conn:
        async def make() -> dict:
            account = await accounts.create_account(conn, body.name, body.balance or 0)
            entry.account_id, entry.target, entry.ref = account.id, f"account:{account.id}", account.opening_record_uuid
            return {"id": account.id, "name": account.name, "balance": usd_text(account.balance)}

        data = await idempotency.once(conn, idempotency_key, AuditAction.ACCOUNT_CREATE, body.model_dump(mode="json"), make)
        if entry.account_id is None:
            entry.account_id, entry.target, entry.summary["replayed"] = data["id"], f"account:{data['id']}", True
    return success(data | {"balance": usd(usd_to_micros(data["balance"]))})


@router.post("/accounts/{account_id}/keys", responses=_docs(KeyOut), summary="Issue an API key")
async def create_key(request: Request, account_id: AccountId, body: CreateKeyRequest, idempotency_key: IdempotencyKey = None) -> JSONBody:
    """The ``api_key`` is in this response only; the server keeps a salted hash of it. With an
    ``Idempotency-Key``, a retry revokes the key the first call made (its secret may never have
    arrived, and the server cannot show it again) and issues its replacement: one usable key."""
    entry = audit_entry(request, AuditAction.KEY_CREATE, f"account:{account_id}", account_id, name=body.name)
    async with as_operator(request, entry) as conn:
        key = await idempotency.key_once(conn, idempotency_key, account_id, body.name, body.model_dump(mode="json"), entry)
        entry.ref = key.access_key_id
    return success({"access_key_id": key.access_key_id, "ak_id": key.ak_id, "name": key.name, "api_key": key.api_key})


@router.delete("/keys/{access_key_id}", responses=_docs(RevokedKeyOut), summary="Revoke an API key")
async def revoke_key(request: Request, access_key_id: AccessKeyId) -> JSONBody:
    entry = audit_entry(request, AuditAction.KEY_REVOKE, f"key:{access_key_id}")
    entry.ref = access_key_id
    async with as_operator(request, entry) as conn:
        key = await keys.revoke_key(conn, access_key_id)
        entry.account_id = key.account_id
    return success(
        {
            "access_key_id": key.access_key_id,
            "ak_id": key.ak_id,
            "name": key.name,
            "revoked_at": ms_to_iso(key.revoked_at),
        }
    )


def _funds(result: funds.FundsResult) -> dict:
    record = result.record
    return {
        "uuid": record.uuid,
        "billing_type": record.billing_type,
        "amount": usd(record.delta),
        "reference": record.reference,
        "reason": record.reason,
        "balance": usd(result.balance),
        "created": result.created,
    }


@router.post("/accounts/{account_id}/recharges", responses=_docs(FundsOut), summary="Top up")
async def recharge(request: Request, account_id: AccountId, body: RechargeRequest) -> JSONBody:
    """Idempotent on ``reference``: a retry returns the first recharge with ``created: false``."""
    entry = audit_entry(
        request, AuditAction.RECHARGE, f"account:{account_id}", account_id,
        amount=usd_text(body.amount), reference=body.reference, reason=body.reason,
    )
    async with as_operator(request, entry) as conn:
        result = await funds.recharge(conn, account_id, body.amount, body.reference, reason=body.reason)
        entry.ref, entry.summary["created"] = result.record.uuid, result.created
    return success(_funds(result))


@router.post("/accounts/{account_id}/adjustments", responses=_docs(FundsOut), summary="Operator correction")
async def adjust(request: Request, account_id: AccountId, body: AdjustmentRequest) -> JSONBody:
    entry = audit_entry(
        request, AuditAction.ADJUST, f"account:{account_id}", account_id,
        amount=usd_text(body.amount), reason=body.reason, reference=body.reference,
    )
    async with as_operator(request, entry) as conn:
        result = await funds.adjust(conn, account_id, body.amount, body.reason, body.reference)
        entry.ref, entry.summary["created"] = result.record.uuid, result.created
    return success(_funds(result))


def _account_of(access_key_id: str) -> int | None:
    """The account an access key id names (its digits before ``_``), for the audit's filter."""
    head = access_key_id.partition("_")[0]
    return int(head) if head.isdigit() and len(head) <= 10 else None


def _charge(body: ChargeRequest) -> charges.Charge:
    return charges.Charge(
        prediction_uuid=body.prediction_uuid,
        access_key_id=body.access_key_id,
        model_uuid=body.model_uuid,
        price=body.price,
        origin_price=body.origin_price,
        model_type=body.model_type,
        created_at=body.created_at,
        inputs=body.inputs,
        hold_timeout_s=body.hold_timeout_s,
    )


def _hold_timeout_s(request: Request) -> int:
    """The server's hold timeout (``BILLBOOK_HOLD_TIMEOUT``), for charges that give none."""
    return getattr(request.app.state.settings, "hold_timeout_s", charges.DEFAULT_HOLD_TIMEOUT_S)


async def _items(conn: AsyncConnection, ids: list[int]) -> dict[int, dict]:
    views = await search.record_views(conn, ids)
    return {v.id: render.billing_item(v) for v in views}


@router.post("/charges", responses=_docs(ChargeOut), summary="Charge a prediction")
async def charge(request: Request, body: ChargeRequest) -> JSONBody:
    """Hold the price at submit: as sent, or without ``price`` from the catalog at ``created_at``.
    Idempotent on ``prediction_uuid`` (compared on what was sent); 402 when the balance is short,
    403 when a spend limit of the key or account would be passed."""
    entry = audit_entry(
        request, AuditAction.CHARGE, f"prediction:{body.prediction_uuid}",
        access_key_id=body.access_key_id, model_uuid=body.model_uuid,
    )
    entry.account_id = _account_of(body.access_key_id)
    async with as_operator(request, entry) as conn:
        result = await charges.charge_or_refusal(conn, _charge(body), _hold_timeout_s(request))
        if isinstance(result, BillbookError):  # refused by a limit: audited with the alert it raised
            entry.status, entry.summary["error"] = result.status, result.message
        else:
            item = (await _items(conn, [result.record_id]))[result.record_id]
            entry.ref, entry.summary["created"] = item["uuid"], result.created
    if isinstance(result, BillbookError):
        raise result  # after the commit: a refusal by a limit keeps its limit.reached alert
    metrics.charged(result)
    return success({"created": result.created, "record": item})


def _parse_charge(raw: object) -> charges.Charge | InvalidRequest:
    try:
        return _charge(ChargeRequest.model_validate(raw))
    except ValidationError as exc:
        return InvalidRequest(describe(list(exc.errors())))


@router.post("/charges/batch", responses=_docs(BatchOut), summary="Charge up to 1,000 predictions")
async def charge_batch(request: Request, body: BatchChargeRequest) -> JSONBody:
    """One result per charge, in order, with the ``deduct`` record's uuid; all of the batch's writes
    commit together. (Results name the record rather than embed it: at 1,000 charges a batch, the
    joined records would cost more than the charges.)"""
    parsed = [_parse_charge(raw) for raw in body.charges]
    entry = audit_entry(request, AuditAction.CHARGE_BATCH, "charges", charges=len(parsed))
    async with as_operator(request, entry) as conn:
        outcomes = await charges.charge_many(conn, parsed, _hold_timeout_s(request))
        entry.summary |= {s: sum(1 for o in outcomes if o.status == s) for s in {o.status for o in outcomes}}
    metrics.charged_batch(outcomes)
    results = [
        {
            "index": o.index,
            "prediction_uuid": o.prediction_uuid,
            "status": o.status,
            "code": o.code,
            "message": o.message,
            "record_uuid": o.record_uuid,
        }
        for o in outcomes
    ]
    counts = {str(s): sum(1 for o in outcomes if o.status == s) for s in BatchOutcome}
    return success({"results": results, **counts})


@router.post("/predictions/{uuid}/status", responses=_docs(StatusOut), summary="Change a prediction's status")
async def set_status(request: Request, uuid: PredictionUuid, body: StatusRequest) -> JSONBody:
    """``completed`` settles the order; ``failed``/``cancelled``/``timeout`` refund it exactly once."""
    entry = audit_entry(request, AuditAction.STATUS, f"prediction:{uuid}", status=body.status)
    entry.ref = uuid
    async with as_operator(request, entry) as conn:
        change = await charges.set_status(conn, uuid, body.status, body.at)
        entry.summary["changed"], entry.account_id = change.changed, change.account_id
        refund = None
        if change.refund_record_id is not None:
            refund = (await _items(conn, [change.refund_record_id]))[change.refund_record_id]
    metrics.status_changed(change)
    return success(
        {
            "prediction_uuid": change.prediction_uuid,
            "status": change.status,
            "changed": change.changed,
            "order_state": change.order_state,
            "refund": refund,
        }
    )
