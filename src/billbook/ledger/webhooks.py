"""Webhook endpoints as their owners manage them: create (the secret shown once), list, delete,
rotate the secret, read the delivery log and resend a delivery.

An owner is an account (its customer's endpoints receive that account's events only) or, as
``None``, the operator (platform-wide endpoints receive every account's events and the platform's
own). Every lookup is scoped to the owner: an endpoint of another owner is simply not found.
"""

from __future__ import annotations

import secrets as random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger.errors import Conflict, InvalidRequest, NotFound
from billbook.ledger.webhook_secrets import SecretBox, new_signing_secret
from billbook.store import webhooks as store
from billbook.store.rows import AttemptRow, DeliveryRow, WebhookEndpointRow
from billbook.times import now_ms
from billbook.vocabulary import EventType

#: Live endpoints one owner may have.
MAX_ENDPOINTS = 20
#: How long the previous secret still signs after a rotation, so receivers can switch at leisure.
ROTATION_OVERLAP_MS = 24 * 3_600_000
#: Events only the operator's endpoints receive.
OPERATOR_ONLY = frozenset({EventType.WEBHOOK_DISABLED})


def subscribable(owner: int | None) -> list[str]:
    """The event types an owner's endpoints may receive."""
    return [t.value for t in EventType if owner is None or t not in OPERATOR_ONLY]


def check_events(events: object, owner: int | None) -> list[str]:
    """The requested event types, deduplicated in the vocabulary's order; a 400 naming ``events``."""
    allowed = subscribable(owner)
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise InvalidRequest(f"events must be a non-empty array of event types: {', '.join(allowed)}")
    unknown = [e for e in events if e not in allowed]
    if unknown:
        raise InvalidRequest(f"events: unknown event type {unknown[0]!r}; expected some of {', '.join(allowed)}")
    return [t for t in allowed if t in events]


@dataclass(frozen=True, slots=True)
class Created:
    endpoint: WebhookEndpointRow
    secret: str


async def create(
    conn: AsyncConnection, box: SecretBox, owner: int | None, url: str, events: Sequence[str]
) -> Created:
    """A new endpoint and its signing secret (``whsec_…``), which only this answer shows. ``url``
    and ``events`` are checked already (``webhook_targets``, ``check_events``)."""
    if await store.count_live(conn, owner) >= MAX_ENDPOINTS:
        raise Conflict(f"at most {MAX_ENDPOINTS} webhook endpoints: delete one first")
    secret = new_signing_secret()
    public_id = f"we_{random.token_hex(12)}"
    await store.insert_endpoint(
        conn, public_id=public_id, account_id=owner, url=url, secret_enc=box.seal(secret), types=events,
        created_at=now_ms(),
    )
    endpoint = await store.endpoint(conn, public_id, owner)
    assert endpoint is not None
    return Created(endpoint, secret)


async def listed(conn: AsyncConnection, owner: int | None) -> list[WebhookEndpointRow]:
    return await store.endpoints_of(conn, owner)


async def found(conn: AsyncConnection, owner: int | None, public_id: str) -> WebhookEndpointRow:
    endpoint = await store.endpoint(conn, public_id, owner)
    if endpoint is None:
        raise NotFound(f"webhook endpoint {public_id} not found")
    return endpoint


async def delete(conn: AsyncConnection, owner: int | None, public_id: str) -> WebhookEndpointRow:
    """Nothing more is sent to it; its pending deliveries are given up."""
    endpoint = await found(conn, owner, public_id)
    await store.delete_endpoint(conn, endpoint.id, now_ms())
    return endpoint


@dataclass(frozen=True, slots=True)
class Rotated:
    endpoint: WebhookEndpointRow
    secret: str
    previous_secret_until: int


async def rotate(conn: AsyncConnection, box: SecretBox, owner: int | None, public_id: str) -> Rotated:
    """A new secret; the current one keeps signing too (both signatures are sent) for a day."""
    endpoint = await found(conn, owner, public_id)
    secret = new_signing_secret()
    until = now_ms() + ROTATION_OVERLAP_MS
    await store.set_secrets(conn, endpoint.id, box.seal(secret), endpoint.secret_enc, until)
    return Rotated(endpoint, secret, until)


@dataclass(frozen=True, slots=True)
class Delivery:
    row: DeliveryRow
    attempts: list[AttemptRow]


async def deliveries(
    conn: AsyncConnection, owner: int | None, public_id: str, page: int, page_size: int
) -> tuple[int, list[Delivery]]:
    """One page of an endpoint's deliveries, newest event first, each with all its attempts."""
    endpoint = await found(conn, owner, public_id)
    total, rows = await store.deliveries_page(conn, endpoint.id, (page - 1) * page_size, page_size)
    attempts = await store.attempts_of(conn, [r.id for r in rows])
    return total, [Delivery(r, attempts.get(r.id, [])) for r in rows]


async def resend(conn: AsyncConnection, owner: int | None, public_id: str, delivery_id: int) -> Delivery:
    """Send a delivery again, now, with a fresh retry window, whatever became of it; a disabled
    endpoint is enabled again by it (its owner says it is back)."""
    endpoint = await found(conn, owner, public_id)
    row = await store.delivery(conn, delivery_id, endpoint.id)
    if row is None:
        raise NotFound(f"delivery {delivery_id} of webhook endpoint {public_id} not found")
    if endpoint.disabled_at is not None:
        await store.enable_endpoint(conn, endpoint.id)
    await store.resend(conn, row.id, now_ms())
    again = await store.delivery(conn, delivery_id, endpoint.id)
    assert again is not None
    return Delivery(again, (await store.attempts_of(conn, [row.id])).get(row.id, []))
