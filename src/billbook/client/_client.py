"""``Client`` and ``AsyncClient``: configuration, connection pool, and the top-level calls."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import httpx

from billbook.client._billings import AsyncBillings, Billings
from billbook.client._convert import TimeInput, to_ms
from billbook.client._http import (
    DEFAULT_MAX_RETRIES,
    AsyncSender,
    Settings,
    SyncSender,
    decode,
)
from billbook.client._usage import merge, split_range, usage_body
from billbook.client.types import Balance, UsageStats
from billbook.times import ms_to_datetime

BALANCE_PATH = "/api/v3/balance"
USAGE_PATH = "/api/v3/user/usage_stats"


def _usage_chunks(start: TimeInput, end: TimeInput) -> list[tuple[int, int]]:
    start_ms = to_ms(start, "start")
    end_ms = to_ms(end, "end", end_of_day=True)
    if start_ms > end_ms:
        raise ValueError("start is after end")
    return split_range(start_ms, end_ms)


def _usage_part(data: object, lo: int, hi: int) -> UsageStats:
    return decode(
        "usage stats", lambda d: UsageStats.from_wire(d, ms_to_datetime(lo), ms_to_datetime(hi)), data
    )


class Client:
    """Synchronous client. Arguments win over ``BILLBOOK_BASE_URL`` / ``BILLBOOK_API_KEY``
    (or ``WAVESPEED_API_KEY``); the same code works against the upstream service by base URL alone.

    Pass ``http_client`` to control proxies, certificates or transports; the client then leaves
    closing it to you.
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._settings = Settings.resolve(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client()
        self._sender = SyncSender(self._settings, self._http)
        self.billings = Billings(self._sender)

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    def balance(self) -> Balance:
        """The account's current balance."""
        return decode("balance", Balance.from_wire, self._sender.request("GET", BALANCE_PATH))

    def usage_stats(
        self,
        start: TimeInput,
        end: TimeInput,
        model_uuid: str | None = None,
        access_key_uuid: str | None = None,
    ) -> UsageStats:
        """Usage over ``[start, end]`` inclusive; ranges over 31 days take several calls, merged."""
        chunks = _usage_chunks(start, end)
        parts = [
            _usage_part(
                self._sender.request("POST", USAGE_PATH, usage_body(lo, hi, model_uuid, access_key_uuid)),
                lo,
                hi,
            )
            for lo, hi in chunks
        ]
        return merge(parts, ms_to_datetime(chunks[0][0]), ms_to_datetime(chunks[-1][1]))

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"


class AsyncClient:
    """Asynchronous client; the same calls as ``Client``, awaited."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._settings = Settings.resolve(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=max_retries
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient()
        self._sender = AsyncSender(self._settings, self._http)
        self.billings = AsyncBillings(self._sender)

    @property
    def base_url(self) -> str:
        return self._settings.base_url

    async def balance(self) -> Balance:
        """The account's current balance."""
        return decode("balance", Balance.from_wire, await self._sender.request("GET", BALANCE_PATH))

    async def usage_stats(
        self,
        start: TimeInput,
        end: TimeInput,
        model_uuid: str | None = None,
        access_key_uuid: str | None = None,
    ) -> UsageStats:
        """Usage over ``[start, end]`` inclusive; ranges over 31 days take several calls, merged.

        The calls run one after another, not concurrently, to stay clear of rate limits.
        """
        chunks = _usage_chunks(start, end)
        parts = []
        for lo, hi in chunks:
            body = usage_body(lo, hi, model_uuid, access_key_uuid)
            parts.append(_usage_part(await self._sender.request("POST", USAGE_PATH, body), lo, hi))
        return merge(parts, ms_to_datetime(chunks[0][0]), ms_to_datetime(chunks[-1][1]))

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncClient(base_url={self.base_url!r})"
