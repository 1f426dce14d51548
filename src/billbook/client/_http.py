"""Sending requests: configuration, the envelope, retries.

Every call the SDK makes is a read (search, balance, usage), so retrying any of them after a broken
connection or a timeout cannot charge or credit anything twice. That is what makes the blanket retry
policy below safe.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from billbook import __version__
from billbook.client._convert import parse_json
from billbook.client.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APITimeoutError,
    ConfigurationError,
    status_error,
)

T = TypeVar("T")

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_MAX_RETRIES = 2
#: Statuses worth another try: the request was fine, the server was not (yet) able to answer it.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... up to ``max_delay``, each scaled by a
    random factor in [0.75, 1] so that many clients failing together do not retry in lockstep."""

    max_retries: int = DEFAULT_MAX_RETRIES
    initial_delay: float = 0.5
    max_delay: float = 8.0
    #: A ``Retry-After`` longer than this is not waited out: the error goes to the caller, who can
    #: decide (it carries ``retry_after``) rather than have a script hang silently for an hour.
    max_retry_after: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or None to give up now."""
        if attempt >= self.max_retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        backoff: float = min(self.max_delay, self.initial_delay * 2.0**attempt)
        return backoff * (1 - 0.25 * random.random())


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds, from either of its two forms (delta seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True, slots=True)
class Settings:
    """Resolved client configuration: arguments first, then the environment, then defaults."""

    base_url: str
    api_key: str
    timeout: httpx.Timeout
    retry: RetryPolicy

    @classmethod
    def resolve(
        cls,
        *,
        api_key: str | None,
        base_url: str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
    ) -> Settings:
        key = api_key or _env("BILLBOOK_API_KEY") or _env("WAVESPEED_API_KEY")
        if not key:
            raise ConfigurationError(
                "no API key: pass api_key=... or set BILLBOOK_API_KEY (or WAVESPEED_API_KEY)"
            )
        url = (base_url or _env("BILLBOOK_BASE_URL") or DEFAULT_BASE_URL).strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"base URL must start with http:// or https://, got {url!r}")
        if max_retries < 0:
            raise ConfigurationError("max_retries must be 0 or more")
        if timeout is None:
            resolved = DEFAULT_TIMEOUT
        else:
            resolved = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        return cls(url, key, resolved, RetryPolicy(max_retries=max_retries))

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.api_key}",
            "Accept": "application/json",
            "User-Agent": f"billbook-python/{__version__}",
        }


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def unwrap(response: httpx.Response) -> Any:
    """The envelope's ``data``, or the typed exception for its error."""
    try:
        body = parse_json(response.content)
    except ValueError:
        body = None
    if not isinstance(body, Mapping) or "code" not in body:
        if response.is_success:
            raise APIResponseValidationError(
                f"{response.request.url} did not answer with the API's JSON envelope"
                " (is the base URL right?)",
                response=response,
            )
        raise _error(response, response.status_code, _fallback_message(response))
    code = body.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else response.status_code
    message = str(body.get("message") or _fallback_message(response))
    if response.is_success and code in (0, 200):
        return body.get("data")
    # The upstream service may put an error in a 200's body; billbook keeps the two equal.
    raise _error(response, code if response.is_success else response.status_code, message)


def _error(response: httpx.Response, code: int, message: str) -> APIError:
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    return status_error(code, message, response, retry_after)


def _fallback_message(response: httpx.Response) -> str:
    return response.reason_phrase or f"HTTP {response.status_code}"


def transport_error(exc: httpx.TransportError, request: httpx.Request | None) -> APIError:
    """Our exception for an httpx failure that produced no response."""
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"request timed out: {exc or type(exc).__name__}", request=request)
    return APIConnectionError(f"could not reach the server: {exc or type(exc).__name__}", request=request)


def _retry_after_of(error: APIError) -> float | None:
    return getattr(error, "retry_after", None)


def _is_retryable(response: httpx.Response) -> bool:
    return response.status_code in RETRYABLE_STATUSES


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


async def _asleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class SyncSender:
    """One request with retries over a synchronous httpx client."""

    def __init__(self, settings: Settings, http: httpx.Client) -> None:
        self.settings = settings
        self.http = http

    def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        attempt = 0
        while True:
            try:
                return self._once(method, path, body)
            except APIError as error:
                if not _should_retry(error):
                    raise
                delay = self.settings.retry.delay(attempt, _retry_after_of(error))
                if delay is None:
                    raise
            _sleep(delay)
            attempt += 1

    def _once(self, method: str, path: str, body: Mapping[str, Any] | None) -> Any:
        request = self.http.build_request(
            method,
            self.settings.base_url + path,
            json=body,
            headers=self.settings.headers(),
            timeout=self.settings.timeout,
        )
        try:
            response = self.http.send(request)
        except httpx.TransportError as exc:
            raise transport_error(exc, request) from exc
        return unwrap(response)


class AsyncSender:
    """One request with retries over an asynchronous httpx client."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http

    async def request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        attempt = 0
        while True:
            try:
                return await self._once(method, path, body)
            except APIError as error:
                if not _should_retry(error):
                    raise
                delay = self.settings.retry.delay(attempt, _retry_after_of(error))
                if delay is None:
                    raise
            await _asleep(delay)
            attempt += 1

    async def _once(self, method: str, path: str, body: Mapping[str, Any] | None) -> Any:
        request = self.http.build_request(
            method,
            self.settings.base_url + path,
            json=body,
            headers=self.settings.headers(),
            timeout=self.settings.timeout,
        )
        try:
            response = await self.http.send(request)
        except httpx.TransportError as exc:
            raise transport_error(exc, request) from exc
        return unwrap(response)


def _should_retry(error: APIError) -> bool:
    if isinstance(error, APIConnectionError):
        return True
    response = getattr(error, "response", None)
    return isinstance(response, httpx.Response) and _is_retryable(response)


def decode(what: str, parse: Callable[[Any], T], data: Any) -> T:
    """``parse(data)``, with a malformed answer reported as such rather than as a ``KeyError``."""
    if not isinstance(data, Mapping):
        raise APIResponseValidationError(f"the server's {what} is not a JSON object")
    try:
        return parse(data)
    except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
        raise APIResponseValidationError(f"the server's {what} is malformed: {exc}") from exc
