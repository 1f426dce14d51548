"""The SDK's core through both shells: the same retry decisions, error mapping and requests from
``Client`` and ``AsyncClient``, filters declared once, and plans that clean up when interrupted.

Faults come from a scripted transport; sleeps are recorded instead of slept.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, get_type_hints

import httpx
import pytest

from billbook.client import (
    APIConnectionError,
    APIStatusError,
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    InsufficientBalanceError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from billbook.client import _http
from billbook.client._query import WIRE_FORMS, SearchFilters, SearchParams
from tests.client.conftest import envelope, wire_record

Handler = Callable[[httpx.Request], httpx.Response]
BALANCE = envelope({"balance": "156.78", "currency": "USD"})
JAN1 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(autouse=True)
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []

    async def asleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(_http, "_sleep", recorded.append)
    monkeypatch.setattr(_http, "_asleep", asleep)
    return recorded


def scripted(*steps: httpx.Response | BaseException) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering with ``steps`` in order (the last one repeats), recording requests."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        step = steps[min(len(seen), len(steps) - 1)]
        seen.append(request)
        if isinstance(step, BaseException):
            raise step
        return httpx.Response(step.status_code, headers=step.headers, content=step.content)  # a fresh copy

    return handle, seen


def fail(status: int, message: str = "nope", headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=envelope(None, status, message), headers=headers)


def ok(data: Any = BALANCE) -> httpx.Response:
    return httpx.Response(200, json=data)


def sync_client(handler: Handler, **kwargs: Any) -> Client:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return Client(api_key="k", base_url="http://billbook.test", http_client=http, **kwargs)


def async_client(handler: Handler, **kwargs: Any) -> AsyncClient:
    async def handle(request: httpx.Request) -> httpx.Response:
        return handler(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return AsyncClient(api_key="k", base_url="http://billbook.test", http_client=http, **kwargs)


def balance_both(*steps: httpx.Response | BaseException, **kwargs: Any) -> list[tuple[str, int]]:
    """``balance()`` from each shell over the same script: (outcome, attempts) for sync, then async."""
    outcomes = []
    handler, seen = scripted(*steps)
    with sync_client(handler, **kwargs) as client:
        outcomes.append((_outcome(client.balance), len(seen)))

    handler, seen = scripted(*steps)

    async def run() -> str:
        async with async_client(handler, **kwargs) as client:
            try:
                return str((await client.balance()).balance)
            except Exception as exc:
                return type(exc).__name__

    outcomes.append((asyncio.run(run()), len(seen)))
    return outcomes


def _outcome(call: Callable[[], Any]) -> str:
    try:
        return str(call().balance)
    except Exception as exc:
        return type(exc).__name__


# --- retry decisions and error mapping: one core, the same answer from both shells -----------------


@pytest.mark.parametrize(
    ("status", "error", "attempts"),
    [
        (400, InvalidRequestError, 1),
        (401, AuthenticationError, 1),
        (402, InsufficientBalanceError, 1),
        (404, NotFoundError, 1),
        (405, APIStatusError, 1),
        (409, ConflictError, 1),
        (408, APIStatusError, 3),
        (429, RateLimitError, 3),
        (500, ServerError, 3),
        (502, ServerError, 3),
        (503, ServerError, 3),
        (504, ServerError, 3),
    ],
)
def test_which_statuses_are_retried_and_what_they_raise(
    status: int, error: type[Exception], attempts: int, sleeps: list[float]
) -> None:
    assert balance_both(fail(status)) == [(error.__name__, attempts)] * 2
    assert len(sleeps) == 2 * (attempts - 1)


def test_a_retried_failure_that_recovers_returns_the_answer() -> None:
    assert balance_both(fail(503), httpx.ConnectError("refused"), ok()) == [("156.78", 3)] * 2


def test_transport_failures_are_retried_then_raised() -> None:
    assert balance_both(httpx.ConnectError("refused")) == [("APIConnectionError", 3)] * 2
    assert balance_both(httpx.ReadTimeout("slow")) == [("APITimeoutError", 3)] * 2


def test_an_error_in_a_200_envelope_maps_by_its_code_and_is_not_retried() -> None:
    assert balance_both(ok(envelope(None, 402, "insufficient balance"))) == [("InsufficientBalanceError", 1)] * 2
    assert balance_both(ok(envelope(None, 503, "busy"))) == [("ServerError", 1)] * 2


def test_malformed_answers_are_not_retried() -> None:
    assert balance_both(ok(envelope({"currency": "USD"}))) == [("APIResponseValidationError", 1)] * 2
    assert balance_both(ok(envelope([1, 2]))) == [("APIResponseValidationError", 1)] * 2
    assert balance_both(httpx.Response(200, text="<html/>")) == [("APIResponseValidationError", 1)] * 2


def test_retry_after_is_honoured_up_to_60_seconds(sleeps: list[float]) -> None:
    assert balance_both(fail(429, headers={"Retry-After": "60"}), ok()) == [("156.78", 2)] * 2
    assert sleeps == [60.0, 60.0]
    sleeps.clear()
    assert balance_both(fail(429, headers={"Retry-After": "61"}), ok()) == [("RateLimitError", 1)] * 2
    assert sleeps == []


def test_retry_after_as_an_http_date(sleeps: list[float]) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    balance_both(fail(429, headers={"Retry-After": when}), ok())
    assert len(sleeps) == 2 and all(0 < s <= 20 for s in sleeps)


def test_backoff_grows_with_jitter_within_bounds(sleeps: list[float]) -> None:
    handler, seen = scripted(fail(500))
    with sync_client(handler, max_retries=5) as client, pytest.raises(ServerError):
        client.balance()
    assert len(seen) == 6
    for attempt, slept in enumerate(sleeps):
        nominal = min(8.0, 0.5 * 2**attempt)
        assert 0.75 * nominal <= slept <= nominal


def test_a_rate_limit_error_carries_the_wait_and_the_request_id() -> None:
    handler, _ = scripted(fail(429, "slow down", {"Retry-After": "3600", "X-Request-Id": "req-7"}))
    with sync_client(handler) as client, pytest.raises(RateLimitError) as caught:
        client.balance()
    assert caught.value.retry_after == 3600.0 and caught.value.request_id == "req-7"
    assert caught.value.request is not None and caught.value.request.url.path == "/api/v3/balance"


def test_a_connection_error_names_the_request() -> None:
    handler, _ = scripted(httpx.ConnectError("refused"))
    with sync_client(handler, max_retries=0) as client, pytest.raises(APIConnectionError) as caught:
        client.balance()
    assert caught.value.request is not None and caught.value.request.url.host == "billbook.test"


# --- requests: built once, the same from both shells -------------------------------------------------


EVERY_FILTER: SearchParams = {
    "billing_type": "deduct",
    "prediction_uuids": ["p1", "p2"],
    "model_uuid": "m",
    "access_key_uuid": ["k1", "k2"],
    "start_time": JAN1,
    "end_time": date(2026, 1, 31),
}


def _empty_page(request: httpx.Request) -> httpx.Response:
    return ok(envelope({"page": 1, "total": 0, "has_more": False, "items": []}))


def _sync_calls(handler: Handler, tmp: Path) -> None:
    with sync_client(handler) as client:
        client.balance()
        client.usage_stats(JAN1, date(2026, 3, 15), model_uuid="m", access_key_uuid="k")
        client.billings.search(page=2, page_size=5, **EVERY_FILTER)
        list(client.billings.iter(sort="asc", page_size=7, **EVERY_FILTER))
        client.billings.export(tmp / "sync.csv", **EVERY_FILTER)
        client.models.list()
        client.models.price("v/duration", {"duration": 7})
        client.models.price("v/duration")


async def _async_calls(handler: Handler, tmp: Path) -> None:
    async with async_client(handler) as client:
        await client.balance()
        await client.usage_stats(JAN1, date(2026, 3, 15), model_uuid="m", access_key_uuid="k")
        await client.billings.search(page=2, page_size=5, **EVERY_FILTER)
        [r async for r in client.billings.iter(sort="asc", page_size=7, **EVERY_FILTER)]
        await client.billings.export(tmp / "async.csv", **EVERY_FILTER)
        await client.models.list()
        await client.models.price("v/duration", {"duration": 7})
        await client.models.price("v/duration")


def test_both_shells_send_the_same_requests(tmp_path: Path) -> None:
    requests: dict[str, list[tuple[str, str, dict[str, str], Any]]] = {"sync": [], "async": []}

    def recorder(kind: str) -> Handler:
        def handle(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content) if request.content else None
            headers = {k: request.headers[k] for k in ("authorization", "accept", "user-agent")}
            requests[kind].append((request.method, str(request.url), headers, body))
            if request.url.path.endswith("/usage_stats"):
                return ok(envelope({"per_model_usage": [], "daily_usage": [], "summary": {}}))
            if request.url.path.endswith("/balance"):
                return ok()
            if request.url.path.endswith("/models"):
                return ok(envelope([]))
            if request.url.path.endswith("/model/price"):
                return ok(envelope({"model_id": "v/duration", "price": 0.14, "discounted_price": 0.14}))
            return _empty_page(request)

        return handle

    _sync_calls(recorder("sync"), tmp_path)
    asyncio.run(_async_calls(recorder("async"), tmp_path))
    assert requests["sync"] == requests["async"]
    search = requests["sync"][4][3]
    assert search["prediction_uuids"] == ["p1", "p2"] and search["model_uuid"] == "m"
    assert search["end_time"] == str(int(datetime(2026, 2, 1, tzinfo=UTC).timestamp() * 1000) - 1)
    assert (tmp_path / "sync.csv").read_text() == (tmp_path / "async.csv").read_text()
    assert [r[3] for r in requests["sync"][-2:]] == [
        {"model_id": "v/duration", "inputs": {"duration": 7}},
        {"model_id": "v/duration"},
    ]


# --- filters, declared once --------------------------------------------------------------------------


def test_every_declared_filter_has_a_wire_form() -> None:
    assert list(WIRE_FORMS) == list(get_type_hints(SearchParams)) == list(EVERY_FILTER)


def test_an_unknown_filter_is_refused_before_any_request() -> None:
    handler, seen = scripted(_empty_page(httpx.Request("POST", "/")))
    with sync_client(handler) as client, pytest.raises(TypeError, match="colour"):
        client.billings.search(colour="blue")  # type: ignore[call-arg]
    assert seen == []


def test_empty_filters_are_left_out_of_the_request() -> None:
    filters = SearchFilters.build(prediction_uuids=[], model_uuid=[], access_key_uuid=(), billing_type=None)
    assert filters.body(sort="desc", page=1, page_size=10) == {"page": 1, "page_size": 10, "sort": "created_at DESC"}


def test_a_window_keeps_the_other_filters() -> None:
    filters = SearchFilters.build(model_uuid=["a", "b"], start_time=5, end_time=9)
    moved = filters.between(7, None)
    assert (moved.start_ms, moved.end_ms) == (7, None)
    assert moved.body(sort="asc", page=1, page_size=1)["model_uuid"] == ["a", "b"]
    assert (filters.start_ms, filters.end_ms) == (5, 9)


# --- plans clean up when the shell is interrupted ----------------------------------------------------


def _one_record_then(interrupt: BaseException) -> Handler:
    """Answers the export's probe with one record, then raises ``interrupt`` from inside the send."""
    calls = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise interrupt
        item = wire_record("a" * 32, 1_767_225_600_000)
        return ok(envelope({"page": 1, "total": 1, "has_more": False, "items": [item]}))

    return handle


def test_an_interrupted_export_leaves_no_file_behind(tmp_path: Path) -> None:
    with sync_client(_one_record_then(KeyboardInterrupt())) as client, pytest.raises(KeyboardInterrupt):
        client.billings.export(tmp_path / "out.csv")
    assert list(tmp_path.iterdir()) == []


async def test_a_cancelled_async_export_leaves_no_file_behind(tmp_path: Path) -> None:
    entered, never = asyncio.Event(), asyncio.Event()

    async def handle(request: httpx.Request) -> httpx.Response:
        entered.set()
        await never.wait()
        raise AssertionError("not reached")

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    async with AsyncClient(api_key="k", base_url="http://b", http_client=http) as client:
        task = asyncio.create_task(client.billings.export(tmp_path / "out.jsonl"))
        await entered.wait()
        assert [p.name.endswith(".part") for p in tmp_path.iterdir()] == [True]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await http.aclose()
    assert list(tmp_path.iterdir()) == []
