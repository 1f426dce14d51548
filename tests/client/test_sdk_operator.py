"""The operator SDK against a real server, with timeouts injected after the server committed.

The transport below passes every request to the real app and, on the attempts it is told to, throws
the response away and raises a timeout instead: the write happened, the client never heard. The
SDK retries with the same idempotency key, so whatever the faults, each logical call is applied
once: balances, records and keys are counted afterwards through the read routes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from billbook.client import AsyncOperatorClient, OperatorClient, _http
from billbook.client.errors import AuthenticationError, ConflictError
from tests.conftest import ADMIN_TOKEN
from tests.factories import new_uuid


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    async def asleep(seconds: float) -> None:
        return None

    monkeypatch.setattr(_http, "_sleep", lambda seconds: None)
    monkeypatch.setattr(_http, "_asleep", asleep)


class LostAnswers(httpx.AsyncBaseTransport):
    """Forwards to ``inner``; the first ``lose`` answers to each write are dropped after the
    server sent them (a timeout on the way back)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, lose: int) -> None:
        self.inner, self.lose = inner, lose
        self.lost: dict[tuple[str, str], int] = {}
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.sent += 1
        if request.method == "GET":
            return response
        await response.aread()
        key = (request.method, request.url.path + request.content.decode())
        if self.lost.get(key, 0) < self.lose:
            self.lost[key] = self.lost.get(key, 0) + 1
            raise httpx.ReadTimeout("answer lost after the server committed", request=request)
        return response


async def test_writes_retried_after_lost_answers_apply_once(app) -> None:  # noqa: ANN001
    lossy = LostAnswers(httpx.ASGITransport(app=app), lose=2)
    http = httpx.AsyncClient(transport=lossy)
    async with AsyncOperatorClient(admin_token=ADMIN_TOKEN, base_url="http://billbook.test", max_retries=3, http_client=http) as ops:
        account = await ops.create_account("Lossy Labs", Decimal("10"))
        key = await ops.create_key(account["id"], "platform")
        await ops.recharge(account["id"], "5")
        await ops.adjust(account["id"], "-1.5", "goodwill reversed")
        first, second = new_uuid(), new_uuid()
        charged = await ops.charge(first, key["access_key_id"], "bytedance/seedream-v4.5", "2")
        assert charged["created"] is False  # the answer that arrived was the retry's: the first charge stood
        batch = await ops.charge_batch([ops.charge_body(second, key["access_key_id"], "m", "1")])
        assert [r["status"] for r in batch["results"]] == ["duplicate"]
        await ops.set_status(first, "failed")
        await ops.set_status(second, "completed")

        assert lossy.lost and all(n == 2 for n in lossy.lost.values())
        listing = await ops.accounts("Lossy")
        assert listing.total == 1
        (item,) = listing.items
        # 10 opening + 5 - 1.5 - 2 (refunded) - 1 = 12.5; each write once.
        assert item["balance"] == Decimal("12.5") and item["held"] == 0 and item["keys"] == 1
        records = await ops.search(account_id=account["id"], page_size=100)
        kinds = sorted(r["billing_type"] for r in records.items)
        assert kinds == ["adjust", "deduct", "deduct", "recharge", "recharge", "refund"]
        keys = await ops.keys(account["id"])
        # Key creation retried twice: the first two keys were revoked by the retries, one is usable.
        assert [k["active"] for k in keys.items].count(True) == 1 and keys.total == 3
        audit = [row async for row in ops.audit_iter(account_id=account["id"])]
        assert [r["action"] for r in audit].count("recharge") == 3  # every attempt is audited; one moved money
        assert sum(1 for r in audit if r["action"] == "recharge" and r["summary"]["created"]) == 1


def test_the_sync_client_reads_and_writes(live_server: Any) -> None:
    with OperatorClient(admin_token=live_server.admin_token, base_url=live_server.base_url) as ops:
        account = ops.create_account("sync-sdk", "3", idempotency_key="sync-sdk-once")
        assert ops.create_account("sync-sdk", "3", idempotency_key="sync-sdk-once") == account
        with pytest.raises(ConflictError):
            ops.create_account("other", "3", idempotency_key="sync-sdk-once")
        ops.recharge(account["id"], 2, reference="sync-pay-1")
        ops.recharge(account["id"], 2, reference="sync-pay-1")
        detail = ops.account(account["id"])
        assert detail["balance"] == Decimal("5") and detail["keys"] == []
        page = ops.audit(account_id=account["id"], action="recharge")
        assert page.total == 2 and {r["summary"]["created"] for r in page.items} == {True, False}
        with pytest.raises(ValueError, match="float"):
            ops.recharge(account["id"], 0.1)
    with OperatorClient(admin_token="bbadmin_0000000000000000_nope", base_url=live_server.base_url) as bad:
        with pytest.raises(AuthenticationError):
            bad.accounts()
