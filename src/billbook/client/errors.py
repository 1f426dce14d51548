"""Exceptions raised by the SDK.

Every failure a caller can act on has its own class, so scripts that move money can tell "fix your
key" from "try later" from "the server broke" without parsing messages::

    BillbookClientError
     ├── ConfigurationError ............ no API key, unusable base URL
     └── APIError ...................... anything that happened on the way to or from the server
          ├── APIConnectionError ........ no response (DNS, refused, reset)
          │    └── APITimeoutError ...... no response in time
          ├── APIResponseValidationError  a response that is not the contract's envelope
          └── APIStatusError ............ the server answered with an error code
               ├── InvalidRequestError (400)
               ├── AuthenticationError (401)
               ├── InsufficientBalanceError (402)
               ├── SpendLimitError (403) . a charge past a spend limit
               ├── NotFoundError (404)
               ├── ConflictError (409)
               ├── RateLimitError (429) .. carries ``retry_after``
               └── ServerError (5xx)
"""

from __future__ import annotations

import httpx


class BillbookClientError(Exception):
    """Root of everything the SDK raises, so one ``except`` clause can catch them all."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(BillbookClientError):
    """The client cannot be used as configured (raised before any request is sent)."""


class APIError(BillbookClientError):
    """A request was attempted and did not produce the data asked for."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class APIConnectionError(APIError):
    """No HTTP response arrived: the server is unreachable or the connection broke."""


class APITimeoutError(APIConnectionError):
    """No HTTP response arrived within the configured timeout."""


class APIResponseValidationError(APIError):
    """The server answered, but not with the contract's ``{code, message, data}`` envelope.

    Usually a proxy or load balancer page in front of the server, or the wrong base URL.
    """

    def __init__(self, message: str, *, response: httpx.Response | None = None) -> None:
        super().__init__(message, request=response.request if response is not None else None)
        self.response = response
        self.status_code = response.status_code if response is not None else None


class APIStatusError(APIError):
    """The server refused or failed the request; ``code`` and ``message`` are the server's own."""

    def __init__(self, message: str, *, response: httpx.Response, code: int) -> None:
        super().__init__(message, request=response.request)
        self.response = response
        self.status_code = response.status_code
        #: The envelope's ``code`` (equals the HTTP status on billbook; may differ upstream).
        self.code = code
        #: The server's id for this request (``X-Request-Id``): quote it when reporting a problem.
        self.request_id: str | None = response.headers.get("x-request-id")

    def __str__(self) -> str:
        return f"{self.message} (HTTP {self.code})"


class InvalidRequestError(APIStatusError):
    """400: a parameter was rejected; the message names it."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing, malformed, unknown or revoked."""


class InsufficientBalanceError(APIStatusError):
    """402: the account's balance does not cover the charge."""


class SpendLimitError(APIStatusError):
    """403 on a charge: it would take a key's or account's spend past a limit (daily, monthly or
    total). Nothing was charged. The message names the limit, who set it and what is left in the
    window (``spend limit: access key 1_2 has a daily limit of 50 USD (set by the operator) with
    0.3 USD left for the window starting 2026-05-01; the charge of 0.5 USD would pass it``)."""


class NotFoundError(APIStatusError):
    """404: wrong path (often a wrong base URL) or an unknown object."""


class ConflictError(APIStatusError):
    """409: an idempotency key reused with another payload, or an illegal state change."""


class RateLimitError(APIStatusError):
    """429 after all retries; ``retry_after`` is the server's requested wait in seconds, if given."""

    def __init__(
        self, message: str, *, response: httpx.Response, code: int, retry_after: float | None
    ) -> None:
        super().__init__(message, response=response, code=code)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """5xx after all retries: the fault is the server's, not the request's."""


_BY_CODE: dict[int, type[APIStatusError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    402: InsufficientBalanceError,
    403: SpendLimitError,
    404: NotFoundError,
    409: ConflictError,
}


def status_error(
    code: int, message: str, response: httpx.Response, retry_after: float | None = None
) -> APIStatusError:
    """The typed exception for an error ``code`` (the envelope's, or the HTTP status)."""
    if code == 429:
        return RateLimitError(message, response=response, code=code, retry_after=retry_after)
    if code >= 500:
        return ServerError(message, response=response, code=code)
    cls = _BY_CODE.get(code, APIStatusError)
    return cls(message, response=response, code=code)
