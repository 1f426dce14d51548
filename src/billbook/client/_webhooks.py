"""``client.webhooks``: your account's webhook endpoints, their delivery log, resends and secret
rotation (billbook only; the upstream service has no webhooks).

Written once, as plans in ``_WebhooksBase``; ``Webhooks`` and ``AsyncWebhooks`` only run them on
their loop. ``create`` and ``rotate`` make a new secret each time, so they are never retried
automatically (a lost answer would leave a secret nobody saw); the other calls are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar
from urllib.parse import quote

from billbook.client._core import Call, Core, Plan
from billbook.client._http import AsyncLoop, SyncLoop
from billbook.client.types import DeliveryPage, RotatedSecret, WebhookDelivery, WebhookEndpoint

WEBHOOKS_PATH = "/api/v3/webhooks"
Loop = TypeVar("Loop", SyncLoop, AsyncLoop)


def _endpoints(data: list) -> tuple[WebhookEndpoint, ...]:
    return tuple(WebhookEndpoint.from_wire(item) for item in data)


def _path(endpoint_id: str, *rest: str) -> str:
    if not isinstance(endpoint_id, str) or not endpoint_id:
        raise ValueError("endpoint_id must be a webhook endpoint's id (we_…)")
    return "/".join([WEBHOOKS_PATH, quote(endpoint_id, safe=""), *rest])


def create_body(url: str, events: Sequence[str]) -> dict:
    if isinstance(events, str) or not events:
        raise ValueError("events must be a non-empty list of event types, e.g. ['recharge.created']")
    return {"url": url, "events": list(events)}


class _WebhooksBase(Generic[Loop]):
    def __init__(self, core: Core, loop: Loop) -> None:
        self._core = core
        self._loop: Loop = loop

    def _create(self, url: str, events: Sequence[str]) -> Plan[WebhookEndpoint]:
        body = create_body(url, events)
        return self._core.request(Call("POST", WEBHOOKS_PATH, "webhook endpoint", WebhookEndpoint.from_wire, body, retry=False))

    def _list(self) -> Plan[tuple[WebhookEndpoint, ...]]:
        return self._core.request(Call("GET", WEBHOOKS_PATH, "webhook endpoints", _endpoints, array=True))

    def _delete(self, endpoint_id: str) -> Plan[dict]:
        return self._core.request(Call("DELETE", _path(endpoint_id), "deleted endpoint", dict))

    def _rotate(self, endpoint_id: str) -> Plan[RotatedSecret]:
        return self._core.request(Call("POST", _path(endpoint_id, "rotate"), "rotated secret", RotatedSecret.from_wire, retry=False))

    def _deliveries(self, endpoint_id: str, page: int, page_size: int) -> Plan[DeliveryPage]:
        path = f"{_path(endpoint_id, 'deliveries')}?page={int(page)}&page_size={int(page_size)}"
        return self._core.request(Call("GET", path, "delivery log", DeliveryPage.from_wire))

    def _resend(self, endpoint_id: str, delivery_id: int) -> Plan[WebhookDelivery]:
        path = _path(endpoint_id, "deliveries", str(int(delivery_id)), "resend")
        return self._core.request(Call("POST", path, "delivery", WebhookDelivery.from_wire))


class Webhooks(_WebhooksBase[SyncLoop]):
    def create(self, url: str, events: Sequence[str]) -> WebhookEndpoint:
        """A new endpoint; its ``secret`` (``whsec_…``) is in this result only."""
        return self._loop.run(self._create(url, events))

    def list(self) -> tuple[WebhookEndpoint, ...]:
        return self._loop.run(self._list())

    def delete(self, endpoint_id: str) -> None:
        self._loop.run(self._delete(endpoint_id))

    def rotate(self, endpoint_id: str) -> RotatedSecret:
        """A new secret, shown once; the old one keeps signing for a day."""
        return self._loop.run(self._rotate(endpoint_id))

    def deliveries(self, endpoint_id: str, page: int = 1, page_size: int = 10) -> DeliveryPage:
        """The delivery log, newest event first, each delivery with its attempts."""
        return self._loop.run(self._deliveries(endpoint_id, page, page_size))

    def resend(self, endpoint_id: str, delivery_id: int) -> WebhookDelivery:
        return self._loop.run(self._resend(endpoint_id, delivery_id))


class AsyncWebhooks(_WebhooksBase[AsyncLoop]):
    async def create(self, url: str, events: Sequence[str]) -> WebhookEndpoint:
        """A new endpoint; its ``secret`` (``whsec_…``) is in this result only."""
        return await self._loop.run(self._create(url, events))

    async def list(self) -> tuple[WebhookEndpoint, ...]:
        return await self._loop.run(self._list())

    async def delete(self, endpoint_id: str) -> None:
        await self._loop.run(self._delete(endpoint_id))

    async def rotate(self, endpoint_id: str) -> RotatedSecret:
        """A new secret, shown once; the old one keeps signing for a day."""
        return await self._loop.run(self._rotate(endpoint_id))

    async def deliveries(self, endpoint_id: str, page: int = 1, page_size: int = 10) -> DeliveryPage:
        """The delivery log, newest event first, each delivery with its attempts."""
        return await self._loop.run(self._deliveries(endpoint_id, page, page_size))

    async def resend(self, endpoint_id: str, delivery_id: int) -> WebhookDelivery:
        return await self._loop.run(self._resend(endpoint_id, delivery_id))
