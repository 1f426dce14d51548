"""Rate limits from a live server: the SDK waits what ``Retry-After`` says, or hands long waits back.

Sleeps are recorded, not slept; the assertions are about what the SDK was told and did, not time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from billbook.client import Client, RateLimitError
from billbook.client import _http
from tests.conftest import ADMIN_TOKEN, start_server, stop_server
from tests.factories import create_account, create_key


def _limited_server(tmp: Path, rate: str) -> Iterator[tuple[str, str]]:
    """A server allowing one request per key at once and ``rate`` after that; yields (url, key)."""
    proc, base = start_server(
        f"sqlite:///{tmp / 'limited.db'}", env={"BILLBOOK_RATE_LIMIT": rate, "BILLBOOK_RATE_LIMIT_BURST": "1"}
    )
    try:
        with httpx.Client(base_url=base) as admin:
            account = create_account(admin, ADMIN_TOKEN, name="limited")
            key = create_key(admin, ADMIN_TOKEN, account["id"])
        yield base, key["api_key"]
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def per_half_minute(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    yield from _limited_server(tmp_path_factory.mktemp("rl-minute"), "2/minute")


@pytest.fixture(scope="module")
def per_day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    yield from _limited_server(tmp_path_factory.mktemp("rl-day"), "1/day")


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(_http, "_sleep", recorded.append)
    return recorded


def test_429_is_retried_after_the_server_s_retry_after(per_half_minute: Any, sleeps: list[float]) -> None:
    base, key = per_half_minute
    with Client(api_key=key, base_url=base, max_retries=2) as client:
        client.balance()  # uses the burst
        with pytest.raises(RateLimitError) as caught:
            client.balance()
    assert caught.value.code == 429 and "rate limit" in caught.value.message
    assert len(sleeps) == 2 and all(1 <= s <= 30 for s in sleeps)
    assert caught.value.retry_after is not None and 1 <= caught.value.retry_after <= 30


def test_a_wait_longer_than_a_minute_is_left_to_the_caller(per_day: Any, sleeps: list[float]) -> None:
    base, key = per_day
    with Client(api_key=key, base_url=base) as client:
        client.balance()
        with pytest.raises(RateLimitError) as caught:
            client.billings.search()
    assert sleeps == []
    assert caught.value.retry_after is not None and caught.value.retry_after > 3600
