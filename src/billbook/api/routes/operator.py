"""The operator's reads: accounts, keys, records and usage of every account, and the audit log.
Any admin token (``read`` or ``write``) may call them; each answers from one read snapshot."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from billbook.api import render
from billbook.api.deps import OperatorReadRoute, as_reader, operator
from billbook.api.routes.limits import limits_view
from billbook.api.envelope import JSONBody, success, usd
from billbook.api.fields import parse_time
from billbook.api.responses import ERRORS
from billbook.api.routes.internal import AccountId
from billbook.api.schemas import SearchRequest, UsageStatsRequest, as_tuple, storable
from billbook.ledger import audit, limits, search, usage
from billbook.ledger import operator as reads
from billbook.ledger.errors import InvalidRequest
from billbook.store.rows import AccountSummary, AuditRow, KeyInfo
from billbook.times import ms_to_iso

router = APIRouter(
    route_class=OperatorReadRoute, prefix="/internal/v1", tags=["operator"], dependencies=[Depends(operator)]
)

PageQuery = Annotated[int, Query(ge=1, le=1_000_000_000)]
PageSizeQuery = Annotated[int, Query(ge=1, le=100)]
OptionalAccount = Annotated[int | None, Field(default=None, ge=1, le=2_147_483_647)]


def _paged(listing: Any, items: list) -> dict:
    return {"page": listing.page, "total": listing.total, "has_more": listing.has_more, "items": items}


def account_item(a: AccountSummary) -> dict:
    return {
        "id": a.id,
        "name": a.name,
        "balance": usd(a.balance),
        "held": usd(a.held),
        "spend_30d": usd(a.spend_30d),
        "keys": a.keys,
        "created_at": ms_to_iso(a.created_at),
    }


def key_item(k: KeyInfo) -> dict:
    return {
        "access_key_id": k.access_key_id,
        "ak_id": k.ak_id,
        "name": k.name,
        "created_at": ms_to_iso(k.created_at),
        "revoked_at": ms_to_iso(k.revoked_at) if k.revoked_at is not None else None,
        "active": k.revoked_at is None,
    }


@router.get("/accounts", responses=ERRORS, summary="List and search accounts")
async def list_accounts(
    request: Request,
    query: Annotated[str | None, Query(max_length=200)] = None,
    sort: Annotated[str, Query(max_length=20)] = "-created_at",
    page: PageQuery = 1,
    page_size: PageSizeQuery = 10,
) -> JSONBody:
    """``query`` matches a name (anywhere, any case; a query of one or two characters matches names
    starting with it) or an id; ``sort`` is one of ``balance``, ``-balance``, ``spend_30d``,
    ``-spend_30d``, ``created_at``, ``-created_at`` (the default)."""
    _storable("query", query)
    _storable("sort", sort)
    q = reads.AccountQuery(text=(query or "").strip() or None, sort=sort.strip())
    async with as_reader(request) as conn:
        listing = await reads.accounts(conn, q, page, page_size)
    return success(_paged(listing, [account_item(a) for a in listing.items]))


@router.get("/accounts/{account_id}", responses=ERRORS, summary="One account")
async def get_account(request: Request, account_id: AccountId) -> JSONBody:
    """The list's fields plus spend today and this month, its keys (newest 100) and their count,
    the account's spend and limits (both setters') and its low-balance alert thresholds."""
    async with as_reader(request) as conn:
        detail = await reads.account(conn, account_id)
        account_limits = (await limits.subject_limits(conn, account_id, [limits.ACCOUNT]))[limits.ACCOUNT]
        thresholds = await limits.low_balance_thresholds(conn, account_id)
    data = account_item(detail.summary) | {
        "spend_today": usd(detail.spend_today),
        "spend_month": usd(detail.spend_month),
        "active_keys": detail.summary.keys,
        "keys": [key_item(k) for k in detail.keys],
        "limits": limits_view(account_limits),
        "alerts": {"low_balance": [usd(v) for v in thresholds]},
    }
    return success(data)


@router.get("/accounts/{account_id}/keys", responses=ERRORS, summary="An account's keys")
async def account_keys(
    request: Request,
    account_id: AccountId,
    page: PageQuery = 1,
    page_size: PageSizeQuery = 10,
) -> JSONBody:
    """Newest first, revoked keys included (with ``revoked_at``)."""
    async with as_reader(request) as conn:
        listing = await reads.keys(conn, account_id, page, page_size)
    return success(_paged(listing, [key_item(k) for k in listing.items]))


class OperatorSearchRequest(SearchRequest):
    """The public search's body, plus ``account_id`` (absent: every account)."""

    account_id: OptionalAccount = None


@router.post("/billings/search", responses=ERRORS, summary="Search records of every account")
async def search_billings(request: Request, body: OperatorSearchRequest | None = None) -> JSONBody:
    """The public search (same engine, filters and order) over one account or all; items carry
    ``account_id``."""
    body = body or OperatorSearchRequest()
    criteria = search.Criteria(
        account_id=body.account_id,
        billing_type=body.billing_type,
        prediction_uuids=as_tuple(body.prediction_uuids),
        model_uuids=as_tuple(body.model_uuid),
        access_key_ids=as_tuple(body.access_key_uuid),
        start_ms=body.start_time,
        end_ms=body.end_time,
        ascending=body.ascending,
    )
    async with as_reader(request) as conn:
        page = await search.search(conn, criteria, body.page, body.page_size)
    items = [render.billing_item(v) | {"account_id": v.account_id} for v in page.items]
    return success({"page": page.page, "total": page.total, "has_more": page.has_more, "items": items})


class OperatorUsageRequest(UsageStatsRequest):
    account_id: OptionalAccount = None


@router.post("/usage_stats", responses=ERRORS, summary="Usage statistics of every account")
async def usage_stats(request: Request, body: OperatorUsageRequest) -> JSONBody:
    """The public shape over every account (or ``account_id``'s), plus ``per_account_usage``:
    ``[{account_id, total_cost, total_count, total_requests}]``, largest spender first."""
    async with as_reader(request) as conn:
        stats = await usage.operator_usage_stats(
            conn, body.account_id, body.start_time, body.end_time,
            model_uuids=as_tuple(body.model_uuid), access_key_ids=as_tuple(body.access_key_uuid),
        )
    per_account = [
        {"account_id": a["account_id"], "total_cost": usd(a["total_cost"]), "total_count": a["total_count"],
         "total_requests": a["total_requests"]}
        for a in stats["per_account_usage"]
    ]
    return success(render.usage_stats(stats) | {"per_account_usage": per_account})


def audit_item(row: AuditRow) -> dict:
    return {
        "id": row.id,
        "time": ms_to_iso(row.at),
        "token_name": row.token_name,
        "action": row.action,
        "route": row.route,
        "account_id": row.account_id,
        "target": row.target,
        "ref": row.ref,
        "summary": json.loads(row.summary),
        "outcome": row.status,
    }


def _storable(name: str, value: str | None) -> None:
    if value is not None and not storable(value):
        raise InvalidRequest(f"{name} must not contain NUL characters or unpaired surrogates")


def _time(name: str, value: str | None, *, end: bool = False) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return parse_time(value, end_of_day=end)
    except ValueError as exc:
        raise InvalidRequest(f"{name} {exc}") from exc


def _audit_filter(
    start_time: str | None, end_time: str | None, token: str | None, account_id: int | None,
    target: str | None, action: str | None, route: str | None,
) -> audit.AuditFilter:
    for name, value in (("token", token), ("target", target), ("action", action), ("route", route)):
        _storable(name, value)
    start, end = _time("start_time", start_time), _time("end_time", end_time, end=True)
    if start is not None and end is not None and start > end:
        raise InvalidRequest("start_time must not be after end_time")
    return audit.AuditFilter(
        start_ms=start, end_ms=end, token_name=token or None, account_id=account_id,
        target=target or None, action=action or None, route=route or None,
    )


TextQuery = Annotated[str | None, Query(max_length=300)]
AccountQuery = Annotated[int | None, Query(ge=1, le=2_147_483_647)]


@router.get("/audit", responses=ERRORS, summary="The audit log")
async def audit_log(
    request: Request,
    start_time: TextQuery = None,
    end_time: TextQuery = None,
    token: TextQuery = None,
    account_id: AccountQuery = None,
    target: TextQuery = None,
    action: TextQuery = None,
    route: TextQuery = None,
    page: PageQuery = 1,
    page_size: PageSizeQuery = 10,
) -> JSONBody:
    """Newest first. Filters: a time range (inclusive), the token's name, the account, the target
    (``account:7``, ``key:7_…``, ``prediction:…``), the action, the route (``POST /internal/v1/…``)."""
    f = _audit_filter(start_time, end_time, token, account_id, target, action, route)
    async with as_reader(request) as conn:
        listing = await audit.page(conn, f, page, page_size)
    return success(_paged(listing, [audit_item(r) for r in listing.items]))


@router.get("/audit/export", responses=ERRORS, summary="The audit log in write order, for exports")
async def audit_export(
    request: Request,
    after_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    start_time: TextQuery = None,
    end_time: TextQuery = None,
    token: TextQuery = None,
    account_id: AccountQuery = None,
    target: TextQuery = None,
    action: TextQuery = None,
    route: TextQuery = None,
) -> JSONBody:
    """Rows with ids above ``after_id``, oldest first: ``{items, next_after_id}`` (``null`` at the
    end). Appends during an export never shift what is read, unlike pages newest first."""
    f = _audit_filter(start_time, end_time, token, account_id, target, action, route)
    async with as_reader(request) as conn:
        rows = await audit.export(conn, f, after_id, limit)
    next_after = rows[-1].id if len(rows) == limit else None
    return success({"items": [audit_item(r) for r in rows], "next_after_id": next_after})
