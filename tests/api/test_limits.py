"""Body size limit (413) and per-key rate limiting (429 + Retry-After), in memory and in Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest

from billbook.api import metrics
from billbook.api.app import create_app
from billbook.api.ratelimit import MemoryLimiter, Rate
from billbook.settings import Settings
from tests.conftest import ADMIN_TOKEN, IN_CI, start_server, stop_server
from tests.factories import acustomer, create_account, create_key

REDIS_URL = "redis://127.0.0.1:6379/0"
SEARCH = "/api/v3/billings/search"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@asynccontextmanager
async def serving(database_url: str, **settings: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN, **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://billbook.test") as http:
            yield http


def _redis_reachable() -> bool:
    from redis.asyncio import Redis

    async def probe() -> bool:
        client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()

    try:
        return asyncio.run(probe())
    except OSError:
        return False
    except Exception:  # noqa: BLE001 - any failure to talk to it means "not there"
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    if not _redis_reachable():
        message = f"Redis is not reachable at {REDIS_URL}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own, so tests sharing one Redis never share a schedule."""
    return f"billbook-test:{uuid.uuid4().hex}:"


def assert_envelope(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == status and body["data"] is None
    for word in words:
        assert word in body["message"], (word, body["message"])


# --- body size ----------------------------------------------------------------------------------


async def test_declared_body_over_the_limit_is_413(database_url: str) -> None:
    async with serving(database_url, max_body_bytes=1000) as http:
        response = await http.post(SEARCH, content=b"{" + b" " * 2000 + b"}", headers=ADMIN)
    assert_envelope(response, 413, "request body too large", "1000 bytes")
    assert response.headers["x-request-id"]


async def test_chunked_body_over_the_limit_is_413(database_url: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(50):
            yield b"x" * 100
        yield b'"}'

    async with serving(database_url, max_body_bytes=1000) as http:
        response = await http.post("/internal/v1/accounts", content=chunks(), headers=ADMIN)
        assert "content-length" not in response.request.headers
        assert_envelope(response, 413, "request body too large")
        # Nothing was written.
        listed = await http.post("/internal/v1/accounts", json={"name": "after"}, headers=ADMIN)
        assert listed.json()["data"]["id"] == 1


async def test_chunked_body_under_the_limit_is_served(database_url: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": '
        yield b'"chunked"}'

    async with serving(database_url, max_body_bytes=1000) as http:
        response = await http.post("/internal/v1/accounts", content=chunks(), headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["name"] == "chunked"


async def test_body_at_the_limit_is_served(database_url: str) -> None:
    body = b'{"name": "exact"}'
    async with serving(database_url, max_body_bytes=len(body)) as http:
        response = await http.post("/internal/v1/accounts", content=body, headers=ADMIN)
    assert response.status_code == 200, response.text


async def test_default_limit_refuses_a_large_batch(client: httpx.AsyncClient) -> None:
    charges = [{"prediction_uuid": "a" * 32, "access_key_id": "x", "model_uuid": "m" * 1000, "price": 1}] * 1000
    response = await client.post("/internal/v1/charges/batch", json={"charges": charges}, headers=ADMIN)
    assert_envelope(response, 413, "1048576 bytes")


# --- rate limit: the rule -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count", "period"),
    [("600/minute", 600, 60), ("10/second", 10, 1), ("5/s", 5, 1), ("1000/5m", 1000, 300), ("2/Hours", 2, 3600),
     ("100 / day", 100, 86400)],
)
def test_rate_parses(text: str, count: int, period: float) -> None:
    rate = Rate.parse(text)
    assert rate is not None and (rate.count, rate.period, rate.burst) == (count, period, count)


@pytest.mark.parametrize("text", [None, "", "off", "OFF", "0"])
def test_rate_off(text: str | None) -> None:
    assert Rate.parse(text) is None


@pytest.mark.parametrize("text", ["600", "600/fortnight", "-1/minute", "x/minute", "0/minute"])
def test_bad_rate_is_refused_at_start(text: str) -> None:
    with pytest.raises(ValueError, match="BILLBOOK_RATE_LIMIT"):
        create_app(Settings(database_url="sqlite:///unused.db", rate_limit=text))


async def test_gcra_allows_the_burst_then_the_rate() -> None:
    limiter = MemoryLimiter(Rate.parse("60/minute", burst=3))  # one a second, three at once
    now = [1000.0]
    limiter._now = lambda: now[0]  # type: ignore[method-assign]
    assert [await limiter.wait_time("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert await limiter.wait_time("k") == pytest.approx(1.0)
    assert await limiter.wait_time("other") == 0.0  # keys are independent
    now[0] += 1.0
    assert await limiter.wait_time("k") == 0.0  # one interval later, one more
    assert await limiter.wait_time("k") == pytest.approx(1.0)
    now[0] += 100.0  # a long pause refills the burst, and no more
    assert [await limiter.wait_time("k") for _ in range(4)][:3] == [0.0, 0.0, 0.0]
    assert await limiter.wait_time("k") > 0


# --- rate limit: over HTTP ----------------------------------------------------------------------


async def _exhaust(http: httpx.AsyncClient, headers: dict, allowed: int) -> httpx.Response:
    for _ in range(allowed):
        assert (await http.get("/api/v3/balance", headers=headers)).status_code == 200
    return await http.get("/api/v3/balance", headers=headers)


async def test_no_limit_by_default(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    for _ in range(50):
        assert (await client.get("/api/v3/balance", headers=who["headers"])).status_code == 200


async def test_in_process_limit(database_url: str) -> None:
    async with serving(database_url, rate_limit="3/hour") as http:
        alice = await acustomer(http, ADMIN_TOKEN, name="alice")
        bob = await acustomer(http, ADMIN_TOKEN, name="bob")
        before = metrics.RATE_LIMITED._value.get()
        refused = await _exhaust(http, alice["headers"], 3)
        assert_envelope(refused, 429, "rate limit", "3 requests per hour")
        assert 1 <= int(refused.headers["retry-after"]) <= 1200
        assert refused.headers["x-request-id"]
        assert metrics.RATE_LIMITED._value.get() == before + 1
        # Refused before routing, still counted under the route's template.
        scraped = (await http.get("/metrics")).text
        assert 'billbook_http_requests_total{method="GET",route="/api/v3/balance",status="429"}' in scraped
        # Every public route shares the key's allowance; other keys are not affected.
        assert (await http.post(SEARCH, json={}, headers=alice["headers"])).status_code == 429
        assert (await http.get("/api/v3/balance", headers=bob["headers"])).status_code == 200
        # Internal routes are the platform's own calls: not limited.
        for _ in range(10):
            assert (await http.post("/internal/v1/accounts", json={"name": "n"}, headers=ADMIN)).status_code == 200
        # No well-formed key, no bucket: the answer stays 401, not 429.
        for _ in range(5):
            bad = await http.get("/api/v3/balance", headers={"Authorization": "Bearer nonsense"})
            assert bad.status_code == 401


async def test_limit_is_per_key_even_with_a_wrong_secret(database_url: str) -> None:
    """The bucket is the key's lookup, so guessing a key's secret is limited like using it."""
    async with serving(database_url, rate_limit="2/hour") as http:
        who = await acustomer(http, ADMIN_TOKEN)
        key = who["key"]["api_key"]
        forged = {"Authorization": f"Bearer {key[:-4]}AAAA"}
        assert (await http.get("/api/v3/balance", headers=forged)).status_code == 401
        assert (await http.get("/api/v3/balance", headers=forged)).status_code == 401
        assert (await http.get("/api/v3/balance", headers=who["headers"])).status_code == 429


async def test_burst_setting(database_url: str) -> None:
    async with serving(database_url, rate_limit="100/hour", rate_limit_burst=2) as http:
        who = await acustomer(http, ADMIN_TOKEN)
        refused = await _exhaust(http, who["headers"], 2)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 36


async def test_redis_limit_is_shared_by_two_app_instances(database_url: str, redis_url: str, prefix: str) -> None:
    settings = {"rate_limit": "4/hour", "redis_url": redis_url, "rate_limit_prefix": prefix}
    async with serving(database_url, **settings) as one, serving(database_url, **settings) as two:
        who = await acustomer(one, ADMIN_TOKEN)
        h = who["headers"]
        assert (await one.get("/api/v3/balance", headers=h)).status_code == 200
        assert (await two.get("/api/v3/balance", headers=h)).status_code == 200
        assert (await one.get("/api/v3/balance", headers=h)).status_code == 200
        assert (await two.get("/api/v3/balance", headers=h)).status_code == 200
        refused = await one.get("/api/v3/balance", headers=h)
        assert_envelope(refused, 429, "rate limit")
        assert 1 <= int(refused.headers["retry-after"]) <= 900
        assert (await two.get("/api/v3/balance", headers=h)).status_code == 429

    # Redis holds a hash and a time: nothing of the key.
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        names = [n async for n in client.scan_iter(match=f"{prefix}*")]
        assert len(names) == 1
        stored = (await client.get(names[0])) or b""
        ttl = await client.pttl(names[0])
    finally:
        await client.aclose()
    key = who["key"]["api_key"]
    lookup = key.split("_")[1]
    for secret in (key, lookup, who["key"]["access_key_id"]):
        assert secret.encode() not in names[0] + stored
    assert stored.isdigit() and 0 < ttl <= 3_600_000


async def test_redis_unreachable_lets_requests_through(database_url: str, prefix: str) -> None:
    settings = {"rate_limit": "1/hour", "redis_url": "redis://127.0.0.1:1/0", "rate_limit_prefix": prefix}
    async with serving(database_url, **settings) as http:
        who = await acustomer(http, ADMIN_TOKEN)
        before = metrics.RATE_LIMIT_ERRORS._value.get()
        for _ in range(3):
            assert (await http.get("/api/v3/balance", headers=who["headers"])).status_code == 200
        assert metrics.RATE_LIMIT_ERRORS._value.get() == before + 3


@pytest.fixture
def two_servers(tmp_path, redis_url: str, prefix: str) -> Iterator[tuple[str, str]]:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'billbook.db'}"
    env = {"BILLBOOK_RATE_LIMIT": "5/hour", "BILLBOOK_REDIS_URL": redis_url, "BILLBOOK_RATE_LIMIT_PREFIX": prefix}
    first, base_one = start_server(url, env=env)
    try:
        second, base_two = start_server(url, env=env)
        try:
            yield base_one, base_two
        finally:
            stop_server(second)
    finally:
        stop_server(first)


def test_redis_limit_is_shared_by_two_server_processes(two_servers: tuple[str, str]) -> None:
    base_one, base_two = two_servers
    with httpx.Client(base_url=base_one, timeout=30) as one, httpx.Client(base_url=base_two, timeout=30) as two:
        account = create_account(one, ADMIN_TOKEN)
        key = create_key(one, ADMIN_TOKEN, account["id"])
        h = {"Authorization": f"Bearer {key['api_key']}"}
        codes = [(one if i % 2 else two).get("/api/v3/balance", headers=h).status_code for i in range(5)]
        assert codes == [200] * 5
        for http in (one, two):
            refused = http.get("/api/v3/balance", headers=h)
            assert_envelope(refused, 429, "rate limit")
            assert int(refused.headers["retry-after"]) >= 1
