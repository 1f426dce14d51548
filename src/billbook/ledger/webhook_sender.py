"""One delivery attempt over HTTP: the Standard Webhooks request, and what came back.

Redirects are not followed (a redirect could lead past the address check to the server's own
network), the receiver has ``timeout_s`` to answer, and only the first ``MAX_BODY_BYTES`` of its
answer are read and kept for the delivery log.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx
import orjson

from billbook import __version__
from billbook.ledger.webhook_secrets import signature
from billbook.ledger.webhook_targets import UnsafeTarget, check_target
from billbook.store.rows import DeliveryRow
from billbook.times import ms_to_iso

#: How much of a receiver's answer the delivery log keeps.
MAX_BODY_BYTES = 1024
MAX_ERROR_CHARS = 500


def body(delivery: DeliveryRow) -> str:
    """``{"type", "timestamp", "data"}``, ``data`` being the stored event's bytes as they are."""
    return (
        '{"type":' + orjson.dumps(delivery.event_type).decode()
        + ',"timestamp":' + orjson.dumps(ms_to_iso(delivery.event_created_at)).decode()
        + ',"data":' + delivery.event_data + "}"
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    latency_ms: int
    error: str | None
    response_body: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def send(
    http: httpx.AsyncClient,
    url: str,
    delivery: DeliveryRow,
    signing_secrets: list[str],
    *,
    timeout_s: float,
    allow_private: bool,
) -> Outcome:
    """Send one delivery, signed with each of ``signing_secrets``; never raises for the receiver's
    failures (they are the outcome)."""
    started = time.monotonic()

    def outcome(status: int | None, error: str | None, text: str | None = None) -> Outcome:
        latency = int((time.monotonic() - started) * 1000)
        return Outcome(status, latency, error[:MAX_ERROR_CHARS] if error else None, text)

    try:
        await check_target(url, allow_private=allow_private)
    except UnsafeTarget as exc:
        return outcome(None, exc.message)
    payload = body(delivery)
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": f"billbook-webhooks/{__version__}",
        "webhook-id": delivery.event_uuid,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(signing_secrets, delivery.event_uuid, timestamp, payload),
    }
    request = http.build_request("POST", url, content=payload.encode(), headers=headers, timeout=timeout_s)
    kept = bytearray()
    try:
        async with asyncio.timeout(timeout_s):  # the whole exchange, not each read
            response = await http.send(request, stream=True, follow_redirects=False)
            try:
                async for chunk in response.aiter_raw():
                    kept += chunk
                    if len(kept) >= MAX_BODY_BYTES:
                        break
            finally:
                await response.aclose()
    except (httpx.TimeoutException, TimeoutError):
        return outcome(None, f"no answer within {timeout_s:g} s")
    except httpx.HTTPError as exc:
        return outcome(None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    text = bytes(kept[:MAX_BODY_BYTES]).decode("utf-8", errors="replace")
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return outcome(response.status_code, error, text)
