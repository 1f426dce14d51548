"""What every client is made of, declared once: the resolved options and the core that uses them
(retries included), the connection pool it was given or owns, and closing that pool (``close`` and
the context managers). The API clients and the operator clients differ only in the options they
resolve and the calls they offer; the sync and async ones only in their loop."""

from __future__ import annotations

from abc import abstractmethod
from typing import Generic, Self, TypeVar

import httpx

from billbook.client._core import ClientOptions, Core
from billbook.client._http import AsyncLoop, SyncLoop

Http = TypeVar("Http", httpx.Client, httpx.AsyncClient)


class Base(Generic[Http]):
    """The core over ``options`` and the loop over ``http_client`` (or a new pool, closed with the client)."""

    def __init__(self, options: ClientOptions, http_client: Http | None) -> None:
        self._core = Core(options)
        self._owns_http = http_client is None
        self._connect(http_client)

    @abstractmethod
    def _connect(self, http: Http | None) -> None:
        """Set up the loop over ``http``, or a new connection pool, then ``_attach``."""

    def _attach(self) -> None:
        """Set up what runs on the loop (the API clients' resources); nothing by default."""

    @property
    def base_url(self) -> str:
        return self._core.options.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"


class SyncBase(Base[httpx.Client]):
    _loop: SyncLoop

    def _connect(self, http: httpx.Client | None) -> None:
        self._loop = SyncLoop(http or httpx.Client())
        self._attach()

    def close(self) -> None:
        if self._owns_http:
            self._loop.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncBase(Base[httpx.AsyncClient]):
    _loop: AsyncLoop

    def _connect(self, http: httpx.AsyncClient | None) -> None:
        self._loop = AsyncLoop(http or httpx.AsyncClient())
        self._attach()

    async def close(self) -> None:
        if self._owns_http:
            await self._loop.http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
