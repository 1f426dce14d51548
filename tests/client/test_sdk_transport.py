"""Configuration, error mapping and retries, through a fault-injecting transport.

Sleeps are recorded instead of slept, so the backoff schedule is asserted without timing anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from billbook.client import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AsyncClient,
    AuthenticationError,
    BillbookClientError,
    Client,
    ConfigurationError,
    ConflictError,
    InsufficientBalanceError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from billbook.client import _http
from billbook.client._core import RetryPolicy, parse_retry_after
from tests.client.conftest import envelope

Handler = Callable[[httpx.Request], httpx.Response]
BALANCE = envelope({"balance": 156.78, "currency": "USD"})


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []

    async def asleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(_http, "_sleep", recorded.append)
    monkeypatch.setattr(_http, "_asleep", asleep)
    return recorded


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BILLBOOK_API_KEY", "WAVESPEED_API_KEY", "BILLBOOK_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def scripted(*steps: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering with ``steps`` in order (the last one repeats), recording requests."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        step = steps[min(len(seen), len(steps) - 1)]
        seen.append(request)
        if isinstance(step, Exception):
            raise step
        return step

    return handle, seen


def client_for(handler: Handler, **kwargs: Any) -> Client:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return Client(api_key="sk-test", base_url="http://billbook.test", http_client=http, **kwargs)


def ok(body: dict[str, Any] = BALANCE) -> httpx.Response:
    return httpx.Response(200, json=body)


def fail(status: int, message: str = "nope", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=envelope(None, status, message), headers=headers)


# --- configuration -----------------------------------------------------------------------------------


def test_key_and_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAVESPEED_API_KEY", "ws-key")
    handler, seen = scripted(ok())
    with Client(http_client=httpx.Client(transport=httpx.MockTransport(handler))) as client:
        assert client.base_url == "http://127.0.0.1:8000"
        client.balance()
    assert seen[0].headers["Authorization"] == "Bearer ws-key"
    assert str(seen[0].url) == "http://127.0.0.1:8000/api/v3/balance"
    assert seen[0].headers["User-Agent"].startswith("billbook-python/")

    monkeypatch.setenv("BILLBOOK_API_KEY", "bb-key")
    monkeypatch.setenv("BILLBOOK_BASE_URL", "https://billing.example.com/prefix/")
    handler, seen = scripted(ok())
    with Client(http_client=httpx.Client(transport=httpx.MockTransport(handler))) as client:
        client.balance()
    assert seen[0].headers["Authorization"] == "Bearer bb-key"
    assert str(seen[0].url) == "https://billing.example.com/prefix/api/v3/balance"


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLBOOK_API_KEY", "env-key")
    handler, seen = scripted(ok())
    http = httpx.Client(transport=httpx.MockTransport(handler))
    with Client(api_key="arg-key", base_url="http://arg", http_client=http) as client:
        client.balance()
    assert seen[0].headers["Authorization"] == "Bearer arg-key"
    assert seen[0].url.host == "arg"


def test_missing_key_or_bad_url_fail_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="API key"):
        Client()
    with pytest.raises(ConfigurationError, match="http"):
        Client(api_key="k", base_url="localhost:8000")
    with pytest.raises(ConfigurationError):
        Client(api_key="k", max_retries=-1)


def test_repr_never_shows_the_key() -> None:
    assert "sk-secret" not in repr(Client(api_key="sk-secret"))


def test_a_client_leaves_a_passed_http_client_open() -> None:
    http = httpx.Client(transport=httpx.MockTransport(scripted(ok())[0]))
    with Client(api_key="k", http_client=http):
        pass
    assert not http.is_closed
    http.close()


# --- responses and errors ----------------------------------------------------------------------------


def test_money_is_decimal_never_float() -> None:
    handler, _ = scripted(ok(envelope({"balance": 0.30000000000000004, "currency": "USD"})))
    with client_for(handler) as client:
        balance = client.balance()
    assert balance.balance == Decimal("0.30000000000000004")
    assert isinstance(balance.balance, Decimal)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, InvalidRequestError),
        (401, AuthenticationError),
        (402, InsufficientBalanceError),
        (404, NotFoundError),
        (409, ConflictError),
        (405, APIStatusError),
    ],
)
def test_client_errors_map_to_types_and_are_not_retried(
    status: int, error: type[APIStatusError], sleeps: list[float]
) -> None:
    handler, seen = scripted(fail(status, "page_size must be between 1 and 100"))
    with client_for(handler) as client, pytest.raises(error) as caught:
        client.balance()
    assert caught.value.code == status == caught.value.status_code
    assert caught.value.message == "page_size must be between 1 and 100"
    assert str(caught.value) == f"page_size must be between 1 and 100 (HTTP {status})"
    assert len(seen) == 1 and sleeps == []


def test_an_error_inside_a_200_body_is_still_an_error() -> None:
    """The upstream service can report an error in the envelope of a 200."""
    handler, _ = scripted(ok(envelope(None, 401, "invalid api key")))
    with client_for(handler) as client, pytest.raises(AuthenticationError, match="invalid api key"):
        client.balance()


def test_a_page_that_is_not_the_envelope_is_reported_as_such() -> None:
    handler, _ = scripted(httpx.Response(200, text="<html>login</html>"))
    with client_for(handler) as client, pytest.raises(APIResponseValidationError, match="base URL"):
        client.balance()
    handler, _ = scripted(ok(envelope({"currency": "USD"})))
    with client_for(handler) as client, pytest.raises(APIResponseValidationError, match="balance"):
        client.balance()


def test_every_sdk_error_shares_one_base() -> None:
    for cls in (ConfigurationError, APIConnectionError, APITimeoutError, ServerError, RateLimitError):
        assert issubclass(cls, BillbookClientError)


# --- retries -------------------------------------------------------------------------------------------


def test_5xx_is_retried_with_growing_jittered_backoff(sleeps: list[float]) -> None:
    handler, seen = scripted(fail(503), fail(500), ok())
    with client_for(handler, max_retries=3) as client:
        assert client.balance().balance == Decimal("156.78")
    assert len(seen) == 3
    assert 0.375 <= sleeps[0] <= 0.5 and 0.75 <= sleeps[1] <= 1.0


def test_5xx_after_the_last_retry_raises_server_error(sleeps: list[float]) -> None:
    handler, seen = scripted(fail(500, "internal server error", {"X-Request-Id": "req-42"}))
    with client_for(handler, max_retries=2) as client, pytest.raises(ServerError) as caught:
        client.balance()
    assert len(seen) == 3 and len(sleeps) == 2
    assert caught.value.code == 500 and caught.value.request_id == "req-42"


def test_a_proxy_error_page_is_retried_then_reported(sleeps: list[float]) -> None:
    handler, seen = scripted(httpx.Response(502, text="<html>Bad Gateway</html>"))
    with client_for(handler, max_retries=1) as client, pytest.raises(ServerError, match="Bad Gateway"):
        client.balance()
    assert len(seen) == 2


def test_429_waits_as_long_as_retry_after_says(sleeps: list[float]) -> None:
    handler, seen = scripted(fail(429, "slow down", {"Retry-After": "3"}), ok())
    with client_for(handler) as client:
        client.balance()
    assert sleeps == [3.0] and len(seen) == 2


def test_429_with_a_long_retry_after_goes_straight_to_the_caller(sleeps: list[float]) -> None:
    handler, seen = scripted(fail(429, "slow down", {"Retry-After": "3600"}))
    with client_for(handler) as client, pytest.raises(RateLimitError) as caught:
        client.balance()
    assert caught.value.retry_after == 3600.0 and sleeps == [] and len(seen) == 1


def test_connection_errors_are_retried(sleeps: list[float]) -> None:
    handler, seen = scripted(httpx.ConnectError("refused"), httpx.RemoteProtocolError("reset"), ok())
    with client_for(handler) as client:
        client.balance()
    assert len(seen) == 3 and len(sleeps) == 2


def test_timeouts_raise_api_timeout_error_after_retries(sleeps: list[float]) -> None:
    handler, seen = scripted(httpx.ReadTimeout("slow"))
    with client_for(handler, max_retries=1) as client, pytest.raises(APITimeoutError):
        client.balance()
    assert len(seen) == 2
    assert issubclass(APITimeoutError, APIConnectionError)


def test_max_retries_zero_means_one_attempt(sleeps: list[float]) -> None:
    handler, seen = scripted(httpx.ConnectError("refused"))
    with client_for(handler, max_retries=0) as client, pytest.raises(APIConnectionError):
        client.balance()
    assert len(seen) == 1 and sleeps == []


def test_timeout_setting_reaches_the_request() -> None:
    handler, seen = scripted(ok())
    with client_for(handler, timeout=2.5) as client:
        client.balance()
    assert seen[0].extensions["timeout"]["read"] == 2.5


def test_backoff_is_capped() -> None:
    policy = RetryPolicy(max_retries=10, initial_delay=0.5, max_delay=8.0)
    delays = [policy.delay(attempt, None) for attempt in range(10)]
    assert all(d is not None and d <= 8.0 for d in delays)
    assert policy.delay(10, None) is None


def test_retry_after_in_both_of_its_forms() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = parse_retry_after(later)
    assert seconds is not None and 0 < seconds <= 30


async def test_async_client_retries_and_maps_errors(sleeps: list[float]) -> None:
    handler, seen = scripted(fail(503), ok())

    async def handle(request: httpx.Request) -> httpx.Response:
        return handler(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    async with AsyncClient(api_key="k", base_url="http://b", http_client=http) as client:
        assert (await client.balance()).balance == Decimal("156.78")
    assert len(seen) == 2 and len(sleeps) == 1

    handler, _ = scripted(fail(401, "invalid api key"))
    async with AsyncClient(api_key="k", base_url="http://b", http_client=http) as client:
        with pytest.raises(AuthenticationError):
            await client.balance()
    await http.aclose()


def test_search_sends_the_contract_body() -> None:
    page = envelope({"page": 1, "total": 0, "has_more": False, "items": []})
    handler, seen = scripted(ok(page))
    with client_for(handler) as client:
        result = client.billings.search(billing_type="refund", sort="asc", page_size=100)
    assert len(result) == 0 and result.total == 0
    assert json.loads(seen[0].content) == {"page": 1, "page_size": 100, "sort": "created_at ASC", "billing_type": "refund"}
    assert seen[0].method == "POST" and seen[0].url.path == "/api/v3/billings/search"


def test_usage_stats_refuses_a_reversed_range() -> None:
    handler, seen = scripted(ok())
    with client_for(handler) as client, pytest.raises(ValueError, match="after"):
        client.usage_stats(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
    assert seen == []
