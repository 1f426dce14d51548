"""The price catalog: what models cost (API key), and the operator's versions and discounts.

The public routes are wire-compatible with the upstream's pricing endpoints, which its own command
line and tools call: ``GET /api/v3/models``, ``POST /api/v3/model/price`` and the older
``POST /api/v3/model/pricing``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request

from billbook.api.catalog_schemas import (
    AddedVersionOut,
    CatalogModelOut,
    DiscountOut,
    DiscountRequest,
    ModelVersionRequest,
    PriceOut,
    PriceRequest,
    PricingOut,
    VersionsPage,
)
from billbook.api.deps import (
    Customer,
    CustomerRoute,
    OperatorReadRoute,
    OperatorRoute,
    as_operator,
    as_reader,
    audit_entry,
    customer,
    operator,
)
from billbook.api.envelope import JSONBody, success, usd
from billbook.api.fields import MAX_PAGE
from billbook.api.responses import ERRORS, Envelope
from billbook.ledger import pricing
from billbook.money import usd_text
from billbook.times import ms_to_iso
from billbook.vocabulary import AuditAction

AccountId = Annotated[int, Path(ge=1, le=2_147_483_647)]
ModelPath = Annotated[str, Path(min_length=1, max_length=200)]


def _docs(model: type) -> dict:
    return {200: {"model": Envelope[model]}, **ERRORS}


def _percent(rate: Decimal) -> orjson.Fragment:
    """A percentage as an exact JSON number: ``12.5``, ``10``, ``0``."""
    return orjson.Fragment(format(rate.normalize(), "f"))


def catalog_item(version: pricing.Version) -> dict:
    return {
        "model_id": version.model_id,
        "name": version.name,
        "description": version.description,
        "type": version.type,
        "base_price": usd(version.base_price),
        "sort_order": version.sort_order,
        "formula": version.formula,
    }


def version_item(version: pricing.Version) -> dict:
    return {
        **catalog_item(version),
        "version": version.id,
        "effective_from": ms_to_iso(version.effective_from),
        "created_at": ms_to_iso(version.created_at),
    }


public = APIRouter(route_class=CustomerRoute, tags=["catalog"])


@public.get("/api/v3/models", responses=_docs(list[CatalogModelOut]), summary="The price catalog")
async def models(caller: Customer = Depends(customer)) -> JSONBody:
    """Every model with a price in force now, in catalog order, as the version in force says."""
    return success([catalog_item(v) for v in await pricing.catalog(caller.conn)])


@public.post("/api/v3/model/price", responses=_docs(PriceOut), summary="What a request costs")
async def price(body: PriceRequest, caller: Customer = Depends(customer)) -> JSONBody:
    """The list price for ``inputs``, the caller's discount and what the caller pays."""
    quote = await pricing.quote(caller.conn, caller.account_id, body.model_id, body.inputs)
    return success(
        {
            "model_id": quote.model_id,
            "price": usd(quote.list_price),
            "discounted_price": usd(quote.price),
            "discount_rate": _percent(pricing.rate_percent(quote.discount_bp)),
            "currency": "USD",
        }
    )


@public.post("/api/v3/model/pricing", responses=_docs(PricingOut), summary="What a request costs (older form)")
async def unit_price(body: PriceRequest, caller: Customer = Depends(customer)) -> JSONBody:
    """``unit_price`` is what the caller pays, its discount applied."""
    quote = await pricing.quote(caller.conn, caller.account_id, body.model_id, body.inputs)
    return success({"model_id": quote.model_id, "unit_price": usd(quote.price), "currency": "USD"})


internal = APIRouter(
    route_class=OperatorRoute, prefix="/internal/v1", tags=["internal"], dependencies=[Depends(operator)]
)
#: The catalog's reads, open to ``read`` admin tokens too.
internal_reads = APIRouter(
    route_class=OperatorReadRoute, prefix="/internal/v1", tags=["internal"], dependencies=[Depends(operator)]
)


@internal_reads.get(
    "/models/{model_id:path}/versions", responses=_docs(VersionsPage), summary="A model's price versions"
)
async def versions(
    request: Request,
    model_id: ModelPath,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 10,
) -> JSONBody:
    """Newest ``effective_from`` first; 404 for a model the catalog has never had."""
    async with as_reader(request) as conn:
        total, found = await pricing.versions(conn, model_id, page, page_size)
    return success(
        {
            "page": page,
            "total": total,
            "has_more": page * page_size < total,
            "items": [version_item(v) for v in found],
        }
    )


@internal.put("/models/{model_id:path}", responses=_docs(AddedVersionOut), summary="Add a price version")
async def add_version(request: Request, model_id: ModelPath, body: ModelVersionRequest) -> JSONBody:
    """Versions are never edited. Sending the version already in force at ``effective_from``
    again adds nothing (``created: false``); another version at the same ``effective_from`` is 409."""
    new = pricing.NewVersion(**(body.model_dump() | {"name": body.name or model_id}))
    entry = audit_entry(
        request, AuditAction.PRICE, f"model:{model_id}",
        base_price=usd_text(new.base_price), formula=new.formula, effective_from=new.effective_from,
    )
    async with as_operator(request, entry) as conn:
        version, created = await pricing.add_version(conn, model_id, new)
        entry.ref, entry.summary["created"] = str(version.id), created
    return success({**version_item(version), "created": created})


@internal.put("/accounts/{account_id}/discounts", responses=_docs(DiscountOut), summary="Set a discount")
async def set_discount(request: Request, account_id: AccountId, body: DiscountRequest) -> JSONBody:
    """From now on; ``model_id`` null means every model, and a model's own discount wins."""
    entry = audit_entry(
        request, AuditAction.DISCOUNT, f"account:{account_id}", account_id,
        model_id=body.model_id, rate_percent=str(body.rate_percent),
    )
    async with as_operator(request, entry) as conn:
        discount, changed = await pricing.set_discount(
            conn, account_id, body.model_id, pricing.rate_bp_of(body.rate_percent)
        )
        entry.summary["changed"] = changed
    return success(
        {
            "account_id": discount.account_id,
            "model_id": discount.model_id,
            "rate_percent": _percent(pricing.rate_percent(discount.rate_bp)),
            "set_at": ms_to_iso(discount.set_at),
            "changed": changed,
        }
    )


def register(app) -> None:  # noqa: ANN001 - a FastAPI application
    app.include_router(public)
    app.include_router(internal_reads)
    app.include_router(internal)
