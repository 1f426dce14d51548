"""Spend limits and alert thresholds: the customer's own (``/api/v3``) and the operator's
(``/internal/v1``). Every write is a PUT of the whole set, so a retry changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.api.deps import (
    Customer,
    CustomerRoute,
    OperatorRoute,
    as_operator,
    audit_entry,
    customer,
    database,
    operator,
)
from billbook.api.envelope import JSONBody, success, usd
from billbook.api.responses import ERRORS, AccessKeysOut, AlertsOut, Envelope, LimitsOut
from billbook.api.routes.internal import AccessKeyId, AccountId
from billbook.api.schemas import AlertsRequest, LimitsRequest
from billbook.ledger import limits
from billbook.money import usd_text
from billbook.times import ms_to_iso
from billbook.vocabulary import AuditAction, LimitSetter

public = APIRouter(route_class=CustomerRoute, tags=["limits"])
internal = APIRouter(
    route_class=OperatorRoute, prefix="/internal/v1", tags=["internal"], dependencies=[Depends(operator)]
)


def _docs(model: type) -> dict:
    return {200: {"model": Envelope[model]}, **ERRORS}


def _windows(values: dict[str, int | None]) -> dict:
    return {str(p): None if v is None else usd(v) for p, v in values.items()}


def limits_view(found: limits.SubjectLimits) -> dict:
    """Spend and both setters' limits of a key or account, as every limits answer shows them."""
    return {
        "spend": _windows(dict(found.spend)),
        "limits": {
            "operator": _windows(found.operator),
            "customer": _windows(found.customer),
            "applied": _windows(found.applied),
        },
    }


@asynccontextmanager
async def _writing(request: Request) -> AsyncIterator[AsyncConnection]:
    """A write transaction for a customer's PUT (public routes are authenticated in a read one)."""
    async with database(request).transaction(write=True) as conn:
        yield conn


async def _put(
    conn: AsyncConnection, setter: LimitSetter, body: LimitsRequest, account_id: int | None, access_key_id: str | None
) -> dict:
    """Set one setter's limits on a key or account and answer its spend and limits."""
    account_id, subject = await limits.set_for(
        conn, setter, body.model_dump(), account_id=account_id, access_key_id=access_key_id
    )
    return limits_view((await limits.subject_limits(conn, account_id, [subject]))[subject])


@public.get("/api/v3/access_keys", responses=_docs(AccessKeysOut), summary="Your access keys and their spend")
async def access_keys(caller: Customer = Depends(customer)) -> JSONBody:
    """Every key of the account, revoked ones too, with spend today, this month and in total
    against both sets of limits."""
    items = [
        {
            "access_key_id": k.access_key_id,
            "access_key_name": k.name,
            "created": ms_to_iso(k.created_at),
            "revoked": k.revoked_at is not None,
            "revoked_at": None if k.revoked_at is None else ms_to_iso(k.revoked_at),
            **limits_view(view),
        }
        for k, view in await limits.keys_with_spend(caller.conn, caller.account_id)
    ]
    return success({"items": items})


@public.put("/api/v3/access_keys/{access_key_id}/limits", responses=_docs(LimitsOut), summary="Limit a key's spend")
async def put_key_limits(
    request: Request, access_key_id: AccessKeyId, body: LimitsRequest, caller: Customer = Depends(customer)
) -> JSONBody:
    """Replace your own limits on one of your keys (the operator's, if lower, still apply)."""
    async with _writing(request) as conn:
        return success(await _put(conn, LimitSetter.CUSTOMER, body, caller.account_id, access_key_id))


@public.get("/api/v3/account/limits", responses=_docs(LimitsOut), summary="Your account's spend and limits")
async def account_limits(caller: Customer = Depends(customer)) -> JSONBody:
    found = await limits.subject_limits(caller.conn, caller.account_id, [limits.ACCOUNT])
    return success(limits_view(found[limits.ACCOUNT]))


@public.put("/api/v3/account/limits", responses=_docs(LimitsOut), summary="Limit your account's spend")
async def put_account_limits(request: Request, body: LimitsRequest, caller: Customer = Depends(customer)) -> JSONBody:
    async with _writing(request) as conn:
        return success(await _put(conn, LimitSetter.CUSTOMER, body, caller.account_id, None))


@public.get("/api/v3/account/alerts", responses=_docs(AlertsOut), summary="Your low-balance alert thresholds")
async def alerts(caller: Customer = Depends(customer)) -> JSONBody:
    found = await limits.low_balance_thresholds(caller.conn, caller.account_id)
    return success({"low_balance": [usd(v) for v in found]})


@public.put("/api/v3/account/alerts", responses=_docs(AlertsOut), summary="Set low-balance alert thresholds")
async def put_alerts(request: Request, body: AlertsRequest, caller: Customer = Depends(customer)) -> JSONBody:
    """``balance.low`` fires each time the balance goes below a threshold, ``balance.depleted`` at zero."""
    async with _writing(request) as conn:
        kept = await limits.set_low_balance_thresholds(conn, caller.account_id, body.low_balance)
    return success({"low_balance": [usd(v) for v in kept]})


@internal.put("/keys/{access_key_id}/limits", responses=_docs(LimitsOut), summary="Limit a key's spend")
async def operator_key_limits(request: Request, access_key_id: AccessKeyId, body: LimitsRequest) -> JSONBody:
    """Replace the operator's limits on a key (the customer's, if lower, still apply)."""
    entry = audit_entry(request, AuditAction.LIMITS, f"key:{access_key_id}", **_summary(body))
    async with as_operator(request, entry) as conn:
        return success(await _put(conn, LimitSetter.OPERATOR, body, None, access_key_id))


@internal.put("/accounts/{account_id}/limits", responses=_docs(LimitsOut), summary="Limit an account's spend")
async def operator_account_limits(request: Request, account_id: AccountId, body: LimitsRequest) -> JSONBody:
    entry = audit_entry(request, AuditAction.LIMITS, f"account:{account_id}", account_id, **_summary(body))
    async with as_operator(request, entry) as conn:
        return success(await _put(conn, LimitSetter.OPERATOR, body, account_id, None))


def _summary(body: LimitsRequest) -> dict[str, str | None]:
    """The limits asked for, as the audit log keeps them (USD text; None: no limit)."""
    return {w: None if (v := getattr(body, w)) is None else usd_text(v) for w in ("daily", "monthly", "total")}
