"""``client.keys``, ``client.limits`` and ``client.alerts`` against a live server, sync and async,
and the 403 of a charge refused by a limit as ``SpendLimitError``."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from billbook.client import AsyncClient, Client, InvalidRequestError, SpendLimitError
from billbook.client._core import unwrap
from tests.client.conftest import Customer


def test_keys_limits_and_alerts_round_trip(customer: Customer) -> None:
    customer.charge(price="0.25")
    with Client(api_key=customer.api_key, base_url=customer.base_url) as client:
        account = client.limits.set(daily="5", monthly=Decimal("20"))
        assert account.customer.daily == Decimal("5") and account.customer.total is None
        assert account.applied.monthly == Decimal("20") and account.spend.total == Decimal("0.25")
        assert client.limits.get() == account
        key = client.limits.set(access_key_id=customer.access_key_id, total="1")
        assert key.applied.total == Decimal("1")
        (listed,) = client.keys.list()
        assert listed.access_key_id == customer.access_key_id and listed.access_key_name == "primary"
        assert listed.limits.spend.daily == Decimal("0.25") and listed.limits.customer.total == Decimal("1")
        assert not listed.revoked
        assert client.alerts.set(["5", 10]).low_balance == (Decimal("10"), Decimal("5"))
        assert client.alerts.get().low_balance == (Decimal("10"), Decimal("5"))
        with pytest.raises(InvalidRequestError, match="daily"):
            client.limits.set(daily="-1")


async def test_the_async_client_does_the_same(customer: Customer) -> None:
    async with AsyncClient(api_key=customer.api_key, base_url=customer.base_url) as client:
        assert (await client.limits.set(total="3")).applied.total == Decimal("3")
        assert (await client.limits.get()).customer.total == Decimal("3")
        assert len(await client.keys.list()) == 1
        assert (await client.alerts.set([])).low_balance == ()


def test_a_charge_refused_by_a_limit_is_a_spend_limit_error(customer: Customer) -> None:
    """The SDK maps the 403 of any charge route (the operator's included) to ``SpendLimitError``."""
    with Client(api_key=customer.api_key, base_url=customer.base_url) as client:
        client.limits.set(access_key_id=customer.access_key_id, daily="0.1")
    body = {"prediction_uuid": "a" * 32, "access_key_id": customer.access_key_id, "model_uuid": "m", "price": "0.2"}
    response = customer.admin.post(
        "/internal/v1/charges", json=body, headers={"Authorization": f"Bearer {customer.admin_token}"}
    )
    with pytest.raises(SpendLimitError, match="daily limit of 0.1 USD") as caught:
        unwrap(response)
    assert caught.value.code == 403 and isinstance(caught.value.response, httpx.Response)
