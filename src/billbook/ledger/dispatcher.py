"""The webhook dispatcher: sends due deliveries, retries failures with backoff, and gives up on an
endpoint that has failed for the whole retry window.

Exactly one dispatcher is active per database, whatever the number of workers and servers: each
holds a lease (a row of ``webhook_leases``: holder and expiry) that it renews before every batch; the
others find it held and wait, and take it over once it has expired (its holder died). The lease is
a plain row updated in short transactions, so it works through a transaction-mode pooler, where a
session-level advisory lock would not.

At least once: a delivery row exists from the event's own transaction. Before a request is sent its
attempt is recorded and the delivery pushed ahead by ``RESUME_MARGIN_S`` past the timeout, in a
committed transaction; after it, the outcome. A crash in between leaves the delivery due again once
that time has passed, so it is sent again, never dropped. See docs/decisions/0023-webhook-delivery.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger import events
from billbook.ledger.webhook_secrets import SecretBox
from billbook.ledger.webhook_sender import Outcome, send
from billbook.settings import Settings
from billbook.store import webhooks as store
from billbook.store.rows import DeliveryRow, WebhookEndpointRow
from billbook.times import ms_to_iso, now_ms
from billbook.vocabulary import DeliveryState, EventType

log = logging.getLogger("billbook.webhooks")

LEASE = "dispatcher"
#: Deliveries taken per batch, and sent at once.
BATCH_SIZE = 50
CONCURRENCY = 10

Transaction = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    allow_private: bool = False
    timeout_s: float = 10.0
    retry_base_s: float = 5.0
    retry_max_s: float = 3_600.0
    give_up_after_ms: int = 3 * 86_400_000
    poll_interval_s: float = 1.0

    @classmethod
    def of(cls, settings: Settings) -> DispatchConfig:
        return cls(
            allow_private=settings.webhook_allow_private,
            timeout_s=settings.webhook_timeout_s,
            retry_base_s=settings.webhook_retry_base_s,
            retry_max_s=settings.webhook_retry_max_s,
            give_up_after_ms=settings.webhook_give_up_after_s * 1000,
            poll_interval_s=settings.webhook_poll_interval_s,
        )

    @property
    def resume_ms(self) -> int:
        """How long after an attempt starts its delivery is due again if the attempt never reports
        back (the dispatcher died): twice the timeout and a second, so a live attempt has ended."""
        return int((2 * self.timeout_s + 1) * 1000)

    @property
    def lease_ms(self) -> int:
        """How long a lease lasts unrenewed: more than a whole batch takes (each send ends by its
        timeout) between two renewals, and what a crashed holder's successor waits at most."""
        return int((3 * self.timeout_s + 2) * 1000)

    def retry_delay_s(self, attempts: int) -> float:
        """Exponential backoff with full-range jitter in [1/2, 1]: base, 2 base, 4 base … up to the
        maximum, so receivers that failed together are not retried in lockstep."""
        delay = min(self.retry_max_s, self.retry_base_s * 2.0 ** max(0, attempts - 1))
        return delay * (0.5 + random.random() / 2)


def holder_name() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    def __init__(
        self,
        transaction: Transaction,
        box: SecretBox,
        config: DispatchConfig,
        http: httpx.AsyncClient | None = None,
        *,
        read: Transaction | None = None,
    ) -> None:
        self._transaction = transaction
        self._read = read or transaction
        self._box = box
        self.config = config
        self.holder = holder_name()
        self._http = http or httpx.AsyncClient(follow_redirects=False, trust_env=False)
        self._owns_http = http is None

    async def hold_lease(self) -> bool:
        """Take or renew the lease; ``True`` while this dispatcher is the active one."""
        now = now_ms()
        async with self._read() as conn:  # the usual answer for the others: a read, no write lock
            if not await store.lease_available(conn, LEASE, self.holder, now):
                return False
        async with self._transaction() as conn:
            return await store.take_lease(conn, LEASE, self.holder, now, now + self.config.lease_ms)

    async def step(self) -> int:
        """Send one batch of due deliveries (if this dispatcher holds the lease); how many were sent."""
        if not await self.hold_lease():
            return 0
        now = now_ms()
        resume_at = now + self.config.resume_ms
        async with self._transaction() as conn:
            due = await store.due(conn, now, BATCH_SIZE)
            endpoints = await store.endpoints_by_id(conn, {d.endpoint_id for d in due})
            started = []
            for delivery in due:
                attempt = await store.start_attempt(conn, delivery.id, now, resume_at)
                if attempt is not None:
                    started.append((delivery, attempt))
        limit = asyncio.Semaphore(CONCURRENCY)

        async def one(delivery: DeliveryRow, attempt: int) -> None:
            async with limit:
                await self._attempt(endpoints[delivery.endpoint_id], delivery, attempt)

        await asyncio.gather(*(one(d, a) for d, a in started))
        return len(started)

    async def _attempt(self, endpoint: WebhookEndpointRow, delivery: DeliveryRow, attempt: int) -> None:
        if endpoint.deleted_at is not None or endpoint.disabled_at is not None:
            outcome = Outcome(None, 0, "endpoint deleted or disabled", None)
        else:
            outcome = await send(
                self._http, endpoint.url, delivery, self._signing_secrets(endpoint),
                timeout_s=self.config.timeout_s, allow_private=self.config.allow_private,
            )
        await self._record(endpoint, delivery, attempt, outcome)

    def _signing_secrets(self, endpoint: WebhookEndpointRow) -> list[str]:
        found = [self._box.open(endpoint.secret_enc)]
        if endpoint.previous_secret_enc and (endpoint.previous_secret_until or 0) > now_ms():
            found.append(self._box.open(endpoint.previous_secret_enc))
        return found

    async def _record(self, endpoint: WebhookEndpointRow, delivery: DeliveryRow, attempt: int, outcome: Outcome) -> None:
        now = now_ms()
        async with self._transaction() as conn:
            await store.finish_attempt(
                conn, attempt, status_code=outcome.status_code, latency_ms=outcome.latency_ms,
                error=outcome.error, response_body=outcome.response_body,
            )
            if outcome.ok:
                await store.settle(conn, delivery.id, DeliveryState.DELIVERED, now, now)
            elif endpoint.deleted_at is not None or endpoint.disabled_at is not None:
                await store.settle(conn, delivery.id, DeliveryState.FAILED, now, now)
            elif now - delivery.retry_from >= self.config.give_up_after_ms:
                await store.settle(conn, delivery.id, DeliveryState.FAILED, now, now)
                # An endpoint that took other deliveries meanwhile is alive: only this one failed.
                if not await store.delivered_since(conn, endpoint.id, delivery.retry_from):
                    await self._disable(conn, endpoint, delivery, outcome, now)
            else:
                delay_ms = int(self.config.retry_delay_s(delivery.attempts + 1) * 1000)
                await store.settle(conn, delivery.id, DeliveryState.PENDING, now + delay_ms, now)

    async def _disable(
        self, conn: AsyncConnection, endpoint: WebhookEndpointRow, delivery: DeliveryRow, outcome: Outcome, now: int
    ) -> None:
        """Stop sending to an endpoint that failed for the whole window, and tell the operator: a
        ``webhook.disabled`` event (to the operator's endpoints) and a log line."""
        if not await store.disable_endpoint(conn, endpoint.id, now):
            return
        data = {
            "endpoint_id": endpoint.public_id,
            "account_id": endpoint.account_id,
            "url": endpoint.url,
            "disabled_at": ms_to_iso(now),
            "failing_since": ms_to_iso(delivery.retry_from),
            "last_error": outcome.error,
        }
        await events.emit(conn, None, EventType.WEBHOOK_DISABLED, data)
        log.warning(
            "webhook endpoint %s (account %s, %s) disabled: deliveries failed since %s (last: %s)",
            endpoint.public_id, endpoint.account_id, endpoint.url, ms_to_iso(delivery.retry_from), outcome.error,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set: batches back to back while there is work, else a look every
        poll interval. A failed step (the database away) is logged and tried again; the lease is
        given back on the way out, so another dispatcher takes over at once."""
        try:
            while not stop.is_set():
                try:
                    sent = await self.step()
                except Exception:  # noqa: BLE001 - the server outlives any one batch
                    log.exception("webhook dispatch failed; next attempt in %s s", self.config.poll_interval_s)
                    sent = 0
                if sent:
                    continue
                try:
                    await asyncio.wait_for(stop.wait(), self.config.poll_interval_s)
                except TimeoutError:
                    pass
        finally:
            await self.close()

    async def close(self) -> None:
        try:
            async with self._transaction() as conn:
                await store.release_lease(conn, LEASE, self.holder)
        except Exception:  # noqa: BLE001 - the lease then expires by itself
            log.warning("could not give back the webhook dispatcher's lease; it expires by itself")
        if self._owns_http:
            await self._http.aclose()
