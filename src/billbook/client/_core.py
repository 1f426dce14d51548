"""The SDK's one core: everything about talking to the server except the waiting.

Every operation is written once, as a *plan*: a generator that yields what it needs done
(``Send`` a request, ``Sleep`` before a retry) and is sent back what happened (the response, or the
transport failure thrown in). The plan builds each request (URL, headers, JSON body, key), decides
whether a failure is worth another try and how long to wait, maps error statuses to exceptions, and
parses the answer (money as ``Decimal`` straight from the JSON text). The synchronous and
asynchronous clients (``_http``) only carry out those two effects, so the only code the SDK writes
twice is that loop: the same split as a base client owning request building, retries and error
mapping under two thin I/O shells.

The customer's calls are reads (search, balance, usage, keys, the price catalog and quotes), idempotent
PUTs of a whole setting (limits, alert thresholds) or writes that touch no money (webhook
endpoints). The operator's writes (``_operator``) each carry an idempotency key made once per
logical call, before the first attempt, and sent again unchanged on every retry (a recharge's
``reference``, a charge's ``prediction_uuid``, an ``Idempotency-Key`` header for account and key
creation), so retrying after a broken connection or a timeout cannot charge or credit anything
twice. That is what makes the blanket retry policy below safe; the two writes whose repetition
would make something new (a webhook endpoint, a rotated secret) say ``retry=False``.
"""

from __future__ import annotations

import email.utils
import os
import random
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

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


# --- effects: what a plan asks its shell to do ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Send this request. The plan is sent the ``httpx.Response``, or has the
    ``httpx.TransportError`` thrown in."""

    method: str
    url: str
    headers: Mapping[str, str]
    timeout: httpx.Timeout
    json: Mapping[str, Any] | None = None

    def build(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        """The request, through the caller's httpx client so that its own defaults apply too."""
        return http.build_request(
            self.method, self.url, json=self.json, headers=dict(self.headers), timeout=self.timeout
        )


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait this many seconds before going on (the backoff before a retry)."""

    seconds: float


Effect = Send | Sleep
Plan = Generator[Effect, Any, T]
"""An operation of one or more requests, independent of how its I/O is done."""


class Steps(Generic[T]):
    """A plan walked by a shell: each effect in turn, with the outcome of the last one handed back.

    The shell iterates it, carries out each effect, reports a response with ``reply()`` and sends
    inside ``sending()`` (which hands a transport failure to the plan); ``result`` is the plan's
    value once the iteration ends. Leaving the ``with`` block closes the plan, so one interrupted
    by anything it did not see (a cancelled task, Ctrl-C) still cleans up now, not at some later
    garbage collection (an export's temporary file, for one).
    """

    def __init__(self, plan: Plan[T]) -> None:
        self._plan = plan
        self._reply: Any = None
        self._error: httpx.TransportError | None = None
        self.result: T

    def __enter__(self) -> Steps[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._plan.close()

    def __iter__(self) -> Iterator[Effect]:
        return self

    def __next__(self) -> Effect:
        reply, error = self._reply, self._error
        self._reply, self._error = None, None
        try:
            return self._plan.send(reply) if error is None else self._plan.throw(error)
        except StopIteration as done:
            self.result = done.value
            raise StopIteration from None

    def reply(self, response: httpx.Response) -> None:
        self._reply = response

    @contextmanager
    def sending(self) -> Iterator[None]:
        try:
            yield
        except httpx.TransportError as exc:
            self._error = exc


# --- configuration ---------------------------------------------------------------------------------


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
class ClientOptions:
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
    ) -> ClientOptions:
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


    @classmethod
    def for_operator(
        cls, *, admin_token: str | None, base_url: str | None, timeout: float | httpx.Timeout | None, max_retries: int
    ) -> ClientOptions:
        """The operator's configuration: an admin token (argument, else ``BILLBOOK_ADMIN_TOKEN``)."""
        token = admin_token or _env("BILLBOOK_ADMIN_TOKEN")
        if not token:
            raise ConfigurationError("no admin token: pass admin_token=... or set BILLBOOK_ADMIN_TOKEN")
        return cls.resolve(api_key=token, base_url=base_url, timeout=timeout, max_retries=max_retries)


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


# --- one request, and the core that runs it --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One API request and how to read its answer: ``parse`` turns the envelope's ``data`` (a JSON
    object, or an array where ``array``) into the result; ``what`` names the answer in error
    messages."""

    method: str
    path: str
    what: str
    parse: Callable[[Any], T]
    body: Mapping[str, Any] | None = None
    array: bool = False
    #: False for a write that must not be sent twice: failures go straight to the caller.
    retry: bool = True
    #: The answer is a document (a PDF), handed back as bytes; an error still comes as the envelope.
    binary: bool = False
    #: Headers of this call alone (an ``Idempotency-Key``), the same on every retry.
    headers: Mapping[str, str] | None = None


class Core:
    """Request building, retry decisions, status-to-exception mapping and response parsing."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options

    def request(self, call: Call[T]) -> Plan[T]:
        """``call`` with retries: on a retryable failure, wait (``Sleep``) and send it again."""
        attempt = 0
        while True:
            try:
                return (yield from self._attempt(call))
            except APIError as error:
                delay = self.retry_delay(error, attempt) if call.retry else None
                if delay is None:
                    raise
            yield Sleep(delay)
            attempt += 1

    def _attempt(self, call: Call[T]) -> Plan[T]:
        try:
            response = yield self.send(call)
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        if call.binary:
            return call.parse(document(call.what, response))
        return decode(call.what, call.parse, unwrap(response), array=call.array)

    def send(self, call: Call[Any]) -> Send:
        o = self.options
        headers = o.headers() | dict(call.headers) if call.headers else o.headers()
        return Send(call.method, o.base_url + call.path, headers, o.timeout, call.body)

    def retry_delay(self, error: APIError, attempt: int) -> float | None:
        """Seconds to wait before trying again after ``error``, or None to raise it now."""
        if not is_retryable(error):
            return None
        return self.options.retry.delay(attempt, getattr(error, "retry_after", None))


def is_retryable(error: APIError) -> bool:
    """No response at all, or a status saying the server could not answer yet."""
    if isinstance(error, APIConnectionError):
        return True
    response = getattr(error, "response", None)
    return isinstance(response, httpx.Response) and response.status_code in RETRYABLE_STATUSES


# --- responses and errors --------------------------------------------------------------------------


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


def document(what: str, response: httpx.Response) -> bytes:
    """A document's bytes, or the typed exception for the error envelope sent instead."""
    if response.is_success and not response.headers.get("content-type", "").startswith("application/json"):
        return response.content
    unwrap(response)  # raises for an error
    raise APIResponseValidationError(f"the server sent JSON instead of the {what}", response=response)


def _error(response: httpx.Response, code: int, message: str) -> APIError:
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    return status_error(code, message, response, retry_after)


def _fallback_message(response: httpx.Response) -> str:
    return response.reason_phrase or f"HTTP {response.status_code}"


def transport_error(exc: httpx.TransportError) -> APIError:
    """Our exception for an httpx failure that produced no response."""
    try:
        request: httpx.Request | None = exc.request
    except RuntimeError:  # raised outside a request (never by httpx's own clients)
        request = None
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"request timed out: {exc or type(exc).__name__}", request=request)
    return APIConnectionError(f"could not reach the server: {exc or type(exc).__name__}", request=request)


def decode(what: str, parse: Callable[[Any], T], data: Any, *, array: bool = False) -> T:
    """``parse(data)``, with a malformed answer reported as such rather than as a ``KeyError``."""
    if array and not isinstance(data, list):
        raise APIResponseValidationError(f"the server's {what} is not a JSON array")
    if not array and not isinstance(data, Mapping):
        raise APIResponseValidationError(f"the server's {what} is not a JSON object")
    try:
        return parse(data)
    except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
        raise APIResponseValidationError(f"the server's {what} is malformed: {exc}") from exc
