"""Operator routes for the platform that runs predictions; admin token only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.api import metrics, render
from billbook.api.deps import OperatorRoute, as_operator, operator
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
from billbook.ledger import accounts, charges, funds, keys, search
from billbook.ledger.errors import BillbookError, InvalidRequest
from billbook.vocabulary import BatchOutcome
from billbook.api.envelope import usd
from billbook.times import ms_to_iso

#: Account ids are 32-bit on both databases; a larger one cannot exist and would overflow the query.
AccountId = Annotated[int, Path(ge=1, le=2_147_483_647)]
#: Shapes of the ids in paths: anything else cannot exist, and may not even be storable text.
PredictionUuid = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
AccessKeyId = Annotated[str, Path(max_length=64, pattern=r"^[0-9]+_[0-9]+$")]

router = APIRouter(
    route_class=OperatorRoute, prefix="/internal/v1", tags=["internal"], dependencies=[Depends(operator)]
)


def _docs(model: type) -> dict:
    return {200: {"model": Envelope[model]}, **ERRORS}


@router.post("/accounts", responses=_docs(AccountOut), summary="Create an account")
async def create_account(request: Request, body: CreateAccountRequest) -> JSONBody:
    async with as_operator(request) as conn:
        account = await accounts.create_account(conn, body.name, body.balance or 0)
    return success({"id": account.id, "name": account.name, "balance": usd(account.balance)})


@router.post("/accounts/{account_id}/keys", responses=_docs(KeyOut), summary="Issue an API key")
async def create_key(request: Request, account_id: AccountId, body: CreateKeyRequest) -> JSONBody:
    """The ``api_key`` is in this response only; the server keeps a salted hash of it."""
    async with as_operator(request) as conn:
        key = await keys.create_key(conn, account_id, body.name)
    return success({"access_key_id": key.access_key_id, "ak_id": key.ak_id, "name": key.name, "api_key": key.api_key})


@router.delete("/keys/{access_key_id}", responses=_docs(RevokedKeyOut), summary="Revoke an API key")
async def revoke_key(request: Request, access_key_id: AccessKeyId) -> JSONBody:
    async with as_operator(request) as conn:
        key = await keys.revoke_key(conn, access_key_id)
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
        "balance": usd(result.balance),
        "created": result.created,
    }


@router.post("/accounts/{account_id}/recharges", responses=_docs(FundsOut), summary="Top up")
async def recharge(request: Request, account_id: AccountId, body: RechargeRequest) -> JSONBody:
    """Idempotent on ``reference``: a retry returns the first recharge with ``created: false``."""
    async with as_operator(request) as conn:
        result = await funds.recharge(conn, account_id, body.amount, body.reference)
    return success(_funds(result))


@router.post("/accounts/{account_id}/adjustments", responses=_docs(FundsOut), summary="Operator correction")
async def adjust(request: Request, account_id: AccountId, body: AdjustmentRequest) -> JSONBody:
    async with as_operator(request) as conn:
        result = await funds.adjust(conn, account_id, body.amount, body.reason, body.reference)
    return success(_funds(result))


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
    async with as_operator(request) as conn:
        result = await charges.charge_or_refusal(conn, _charge(body), _hold_timeout_s(request))
        if not isinstance(result, BillbookError):
            item = (await _items(conn, [result.record_id]))[result.record_id]
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
    async with as_operator(request) as conn:
        outcomes = await charges.charge_many(conn, parsed, _hold_timeout_s(request))
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
    async with as_operator(request) as conn:
        change = await charges.set_status(conn, uuid, body.status, body.at)
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
