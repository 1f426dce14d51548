"""Webhook endpoints: a customer's for its own account's events (``/api/v3/webhooks``), and the
operator's platform-wide ones for every account's (``/internal/v1/webhooks``), with the same routes
and shapes. Each route is written once and mounted twice, with the owner it acts for: the caller's
account, or ``None`` for the operator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
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
from billbook.api.envelope import JSONBody, success
from billbook.api.fields import MAX_PAGE
from billbook.api.responses import ERRORS, Envelope
from billbook.api.webhook_schemas import (
    CreatedWebhookOut,
    CreateWebhookRequest,
    DeletedWebhookOut,
    DeliveriesPage,
    DeliveryOut,
    RotatedWebhookOut,
    WebhookOut,
)
from billbook.ledger import webhooks
from billbook.ledger.webhook_targets import check_shape, check_target
from billbook.store.rows import WebhookEndpointRow
from billbook.times import ms_to_iso
from billbook.vocabulary import AuditAction, DeliveryState, EventType

EndpointId = Annotated[str, Path(pattern=r"^we_[0-9a-f]{24}$")]
DeliveryId = Annotated[int, Path(ge=1, le=2**62)]


def _docs(model: type) -> dict:
    return {200: {"model": Envelope[model]}, **ERRORS}


def _iso(ms: int | None) -> str | None:
    return None if ms is None else ms_to_iso(ms)


def endpoint_item(endpoint: WebhookEndpointRow) -> dict:
    return {
        "id": endpoint.public_id,
        "url": endpoint.url,
        "events": [t.value for t in EventType if t.value in endpoint.events],  # the vocabulary's order
        "created_at": ms_to_iso(endpoint.created_at),
        "disabled_at": _iso(endpoint.disabled_at),
        "previous_secret_expires_at": _iso(endpoint.previous_secret_until),
    }


def delivery_item(delivery: webhooks.Delivery) -> dict:
    row = delivery.row
    return {
        "id": row.id,
        "event_id": row.event_uuid,
        "type": row.event_type,
        "state": row.state,
        "created_at": ms_to_iso(row.created_at),
        "next_attempt_at": ms_to_iso(row.next_attempt_at) if row.state == DeliveryState.PENDING else None,
        "delivered_at": _iso(row.delivered_at),
        "attempts": [
            {
                "at": ms_to_iso(a.started_at),
                "status_code": a.status_code,
                "latency_ms": a.latency_ms,
                "error": a.error,
                "response_body": a.response_body,
            }
            for a in delivery.attempts
        ],
    }


@asynccontextmanager
async def _writing(request: Request, target: str, **summary: object) -> AsyncIterator[AsyncConnection]:
    """A write transaction; an operator's change (a platform-wide endpoint) is audited in it."""
    if getattr(request.state, "operator", None) is None:
        async with database(request).transaction(write=True) as conn:
            yield conn
        return
    async with as_operator(request, audit_entry(request, AuditAction.WEBHOOK, target, **summary)) as conn:
        yield conn


def _routes(router: APIRouter, owner_of: object) -> None:
    """The webhook routes on ``router``; ``owner_of`` is the dependency giving the owner."""
    owned = Depends(owner_of)

    @router.post("/webhooks", responses=_docs(CreatedWebhookOut), summary="Add a webhook endpoint")
    async def create(request: Request, body: CreateWebhookRequest, owner: int | None = owned) -> JSONBody:
        """``secret`` (``whsec_…``) is in this answer only: give it to your receiver's Standard
        Webhooks library. The URL must resolve to public addresses."""
        url_checked = await _checked_url(request, body.url)
        types = webhooks.check_events(body.events, owner)
        async with _writing(request, "webhooks", op="create", url=url_checked, events=list(types)) as conn:
            made = await webhooks.create(conn, request.app.state.webhook_box, owner, url_checked, types)
        return success(endpoint_item(made.endpoint) | {"secret": made.secret})

    @router.get("/webhooks", responses=_docs(list[WebhookOut]), summary="Webhook endpoints")
    async def listed(request: Request, owner: int | None = owned) -> JSONBody:
        async with database(request).transaction(write=False) as conn:
            return success([endpoint_item(e) for e in await webhooks.listed(conn, owner)])

    @router.delete("/webhooks/{endpoint_id}", responses=_docs(DeletedWebhookOut), summary="Delete a webhook endpoint")
    async def delete(request: Request, endpoint_id: EndpointId, owner: int | None = owned) -> JSONBody:
        async with _writing(request, f"webhook:{endpoint_id}", op="delete") as conn:
            gone = await webhooks.delete(conn, owner, endpoint_id)
        return success({"id": gone.public_id, "deleted": True})

    @router.post(
        "/webhooks/{endpoint_id}/rotate", responses=_docs(RotatedWebhookOut), summary="Rotate an endpoint's secret"
    )
    async def rotate(request: Request, endpoint_id: EndpointId, owner: int | None = owned) -> JSONBody:
        """A new secret, shown once; the previous one signs too (a second signature) until
        ``previous_secret_expires_at``, a day later."""
        async with _writing(request, f"webhook:{endpoint_id}", op="rotate") as conn:
            done = await webhooks.rotate(conn, request.app.state.webhook_box, owner, endpoint_id)
        return success(
            {"id": done.endpoint.public_id, "secret": done.secret,
             "previous_secret_expires_at": ms_to_iso(done.previous_secret_until)}
        )

    @router.get(
        "/webhooks/{endpoint_id}/deliveries", responses=_docs(DeliveriesPage), summary="An endpoint's delivery log"
    )
    async def deliveries(
        request: Request,
        endpoint_id: EndpointId,
        page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
        page_size: Annotated[int, Query(ge=1, le=100)] = 10,
        owner: int | None = owned,
    ) -> JSONBody:
        """Newest event first; each delivery with every attempt (time, status code, latency, error,
        the start of the answer)."""
        async with database(request).transaction(write=False) as conn:
            total, found = await webhooks.deliveries(conn, owner, endpoint_id, page, page_size)
        return success(
            {"page": page, "page_size": page_size, "total": total, "has_more": page * page_size < total,
             "items": [delivery_item(d) for d in found]}
        )

    @router.post(
        "/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend",
        responses=_docs(DeliveryOut),
        summary="Send a delivery again",
    )
    async def resend(request: Request, endpoint_id: EndpointId, delivery_id: DeliveryId, owner: int | None = owned) -> JSONBody:
        """Due now, with a fresh retry window; the same ``webhook-id`` as before. Enables a
        disabled endpoint again."""
        async with _writing(request, f"webhook:{endpoint_id}", op="resend", delivery_id=delivery_id) as conn:
            again = await webhooks.resend(conn, owner, endpoint_id, delivery_id)
        return success(delivery_item(again))


async def _checked_url(request: Request, url: object) -> str:
    """The URL, if it is well formed and resolves to addresses a webhook may be sent to (before
    any transaction: a DNS lookup may take seconds)."""
    settings = request.app.state.settings
    checked = check_shape(url)
    await check_target(checked, allow_private=settings.webhook_allow_private)
    return checked


async def _account(caller: Customer = Depends(customer)) -> int | None:
    return caller.account_id


async def _platform(_: None = Depends(operator)) -> int | None:
    return None


public = APIRouter(route_class=CustomerRoute, prefix="/api/v3", tags=["webhooks"])
internal = APIRouter(route_class=OperatorRoute, prefix="/internal/v1", tags=["internal"], dependencies=[Depends(operator)])
_routes(public, _account)
_routes(internal, _platform)


def register(app) -> None:  # noqa: ANN001 - a FastAPI application
    app.include_router(public)
    app.include_router(internal)
