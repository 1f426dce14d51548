"""Customer routes, wire-compatible with the upstream v3 money endpoints. A caller sees only its
own account: every query is filtered by the account of the key that authenticated it."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from billbook.api import render
from billbook.api.deps import Customer, CustomerRoute, customer
from billbook.api.envelope import JSONBody, success, usd
from billbook.api.responses import ERRORS, BalanceData, Envelope, SearchData, UsageStatsData
from billbook.api.schemas import SearchRequest, UsageStatsRequest, as_tuple
from billbook.ledger import accounts, search, usage

router = APIRouter(route_class=CustomerRoute, tags=["billing"])


@router.post(
    "/api/v3/billings/search",
    responses={200: {"model": Envelope[SearchData]}, **ERRORS},
    summary="Search billing records",
)
async def search_billings(body: SearchRequest | None = None, caller: Customer = Depends(customer)) -> JSONBody:
    """Paginated billing records of the caller's account, newest first unless ``sort`` says ASC."""
    body = body or SearchRequest()
    criteria = search.Criteria(
        account_id=caller.account_id,
        billing_type=body.billing_type,
        prediction_uuids=as_tuple(body.prediction_uuids),
        model_uuids=as_tuple(body.model_uuid),
        access_key_ids=as_tuple(body.access_key_uuid),
        start_ms=body.start_time,
        end_ms=body.end_time,
        ascending=body.ascending,
    )
    page = await search.search(caller.conn, criteria, body.page, body.page_size)
    return success(
        {
            "page": page.page,
            "total": page.total,
            "has_more": page.has_more,
            "items": [render.billing_item(v) for v in page.items],
        }
    )


@router.get("/api/v3/balance", responses={200: {"model": Envelope[BalanceData]}, **ERRORS}, summary="Balance")
@router.get(
    "/api/v3/account/balance",
    responses={200: {"model": Envelope[BalanceData]}, **ERRORS},
    summary="Balance (alias)",
)
async def balance(caller: Customer = Depends(customer)) -> JSONBody:
    """The caller's balance; both paths answer the same (the upstream's clients use either)."""
    return success({"balance": usd(await accounts.get_balance(caller.conn, caller.account_id)), "currency": "USD"})


@router.post(
    "/api/v3/user/usage_stats",
    responses={200: {"model": Envelope[UsageStatsData]}, **ERRORS},
    summary="Usage statistics",
)
async def usage_stats(body: UsageStatsRequest, caller: Customer = Depends(customer)) -> JSONBody:
    """Spend per model and per UTC day, net of refunds, for at most 31 days (by the deduct's time)."""
    stats = await usage.usage_stats(
        caller.conn,
        caller.account_id,
        body.start_time,
        body.end_time,
        model_uuids=as_tuple(body.model_uuid),
        access_key_ids=as_tuple(body.access_key_uuid),
    )
    return success(render.usage_stats(stats))
