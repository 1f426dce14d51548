"""Request bodies and response shapes of the webhook routes (customer and operator alike)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from billbook.api.schemas import Body


class CreateWebhookRequest(Body):
    #: Checked by the ledger (scheme, host, public addresses), so the message names ``url``.
    url: Any = None
    #: Event types (``recharge.created``, ...); checked by the ledger against the vocabulary.
    events: Any = None


class WebhookOut(BaseModel):
    id: str = Field(examples=["we_3f2a9c0d1e4b5a6978877665"])
    url: str
    events: list[str]
    created_at: str
    disabled_at: str | None
    previous_secret_expires_at: str | None


class CreatedWebhookOut(WebhookOut):
    #: ``whsec_`` and base64 bytes: shown in this answer only.
    secret: str


class RotatedWebhookOut(BaseModel):
    id: str
    secret: str
    previous_secret_expires_at: str


class AttemptOut(BaseModel):
    at: str
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response_body: str | None


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    type: str
    state: str
    created_at: str
    next_attempt_at: str | None
    delivered_at: str | None
    attempts: list[AttemptOut]


class DeliveriesPage(BaseModel):
    page: int
    page_size: int
    total: int
    has_more: bool
    items: list[DeliveryOut]


class DeletedWebhookOut(BaseModel):
    id: str
    deleted: bool
