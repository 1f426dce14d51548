"""``Client`` and ``AsyncClient``: configuration, connection pool, and the top-level calls.

Both are thin: ``_ClientBase`` resolves the configuration and holds the plans behind ``balance()``
and ``usage_stats()``; each client only runs them on its loop. The core, the loop and closing are
``_base``'s, shared with the operator clients.
"""

from __future__ import annotations

from typing import Any

import httpx

from billbook.client._billings import AsyncBillings, Billings
from billbook.client._convert import TimeInput, to_ms
from billbook.client._core import DEFAULT_MAX_RETRIES, Call, ClientOptions, Plan
from billbook.client._base import AsyncBase, Base, Http, SyncBase
from billbook.client._limits import AlertSettings, AsyncAlertSettings, AsyncKeys, AsyncLimits, Keys, Limits
from billbook.client._models import AsyncModels, Models
from billbook.client._webhooks import AsyncWebhooks, Webhooks
from billbook.client._statements import AsyncReceipts, AsyncStatements, Receipts, Statements
from billbook.client._usage import merge, split_range, usage_body
from billbook.client.types import Balance, UsageStats
from billbook.times import ms_to_datetime

BALANCE_PATH = "/api/v3/balance"
USAGE_PATH = "/api/v3/user/usage_stats"

def _usage_call(lo: int, hi: int, body: dict[str, Any]) -> Call[UsageStats]:
    start, end = ms_to_datetime(lo), ms_to_datetime(hi)
    return Call("POST", USAGE_PATH, "usage stats", lambda d: UsageStats.from_wire(d, start, end), body)


class _ClientBase(Base[Http]):
    """What both API clients share: their configuration, and the plans behind the top-level calls."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: Http | None = None,
    ) -> None:
        options = ClientOptions.resolve(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries)
        super().__init__(options, http_client)

    def _balance(self) -> Plan[Balance]:
        return self._core.request(Call("GET", BALANCE_PATH, "balance", Balance.from_wire))

    def _usage_stats(
        self, start: TimeInput, end: TimeInput, model_uuid: str | None, access_key_uuid: str | None
    ) -> Plan[UsageStats]:
        """One call per chunk of at most 31 days, one after another (clear of rate limits), merged."""
        start_ms = to_ms(start, "start")
        end_ms = to_ms(end, "end", end_of_day=True)
        if start_ms > end_ms:
            raise ValueError("start is after end")
        chunks = split_range(start_ms, end_ms)
        parts = []
        for lo, hi in chunks:
            body = usage_body(lo, hi, model_uuid, access_key_uuid)
            parts.append((yield from self._core.request(_usage_call(lo, hi, body))))
        return merge(parts, ms_to_datetime(chunks[0][0]), ms_to_datetime(chunks[-1][1]))


class Client(_ClientBase[httpx.Client], SyncBase):
    """Synchronous client. Arguments win over ``BILLBOOK_BASE_URL`` / ``BILLBOOK_API_KEY``
    (or ``WAVESPEED_API_KEY``); the same code works against the upstream service by base URL alone.

    Pass ``http_client`` to control proxies, certificates or transports; the client then leaves
    closing it to you.
    """

    def _attach(self) -> None:
        self.billings = Billings(self._core, self._loop)
        self.models = Models(self._core, self._loop)
        self.keys = Keys(self._core, self._loop)
        self.limits = Limits(self._core, self._loop)
        self.alerts = AlertSettings(self._core, self._loop)
        self.webhooks = Webhooks(self._core, self._loop)
        self.statements = Statements(self._core, self._loop)
        self.receipts = Receipts(self._core, self._loop)

    def balance(self) -> Balance:
        """The account's current balance."""
        return self._loop.run(self._balance())

    def usage_stats(
        self, start: TimeInput, end: TimeInput, model_uuid: str | None = None, access_key_uuid: str | None = None
    ) -> UsageStats:
        """Usage over ``[start, end]`` inclusive; ranges over 31 days take several calls, merged."""
        return self._loop.run(self._usage_stats(start, end, model_uuid, access_key_uuid))



class AsyncClient(_ClientBase[httpx.AsyncClient], AsyncBase):
    """Asynchronous client; the same calls as ``Client``, awaited."""

    def _attach(self) -> None:
        self.billings = AsyncBillings(self._core, self._loop)
        self.models = AsyncModels(self._core, self._loop)
        self.keys = AsyncKeys(self._core, self._loop)
        self.limits = AsyncLimits(self._core, self._loop)
        self.alerts = AsyncAlertSettings(self._core, self._loop)
        self.webhooks = AsyncWebhooks(self._core, self._loop)
        self.statements = AsyncStatements(self._core, self._loop)
        self.receipts = AsyncReceipts(self._core, self._loop)

    async def balance(self) -> Balance:
        """The account's current balance."""
        return await self._loop.run(self._balance())

    async def usage_stats(
        self, start: TimeInput, end: TimeInput, model_uuid: str | None = None, access_key_uuid: str | None = None
    ) -> UsageStats:
        """Usage over ``[start, end]`` inclusive; ranges over 31 days take several calls, merged."""
        return await self._loop.run(self._usage_stats(start, end, model_uuid, access_key_uuid))
