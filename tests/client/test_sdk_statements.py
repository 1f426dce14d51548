"""``client.statements`` and ``client.receipts`` against the server: exact figures, PDF bytes, and
the server's errors as typed exceptions. Async over the app on both databases; sync on a live server."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from billbook.client import AsyncClient, Client, InvalidRequestError, ModelCharges, NotFoundError, Statement
from billbook.times import month_key, month_text, now_ms
from tests.client.conftest import Customer
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acustomer, arecharge, recharge


async def test_statement_receipt_and_errors(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="10", name="Statement SDK")
    paid = await arecharge(client, ADMIN_TOKEN, who["account"]["id"], "2.5")
    await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], price="0.0425", model_uuid="vendor/m")
    sdk = AsyncClient(api_key=who["key"]["api_key"], base_url=str(client.base_url), http_client=client)
    month = month_text(month_key(now_ms()))

    got = await sdk.statements.get(month)
    assert isinstance(got, Statement) and got.month == month and got.open is True
    assert (got.opening_balance, got.recharges, got.recharge_count) == (0, Decimal("12.5"), 2)
    assert got.charges == Decimal("0.0425") and got.closing_balance == Decimal("12.4575")
    assert got.charges_by_model == (ModelCharges("vendor/m", Decimal("0.0425"), 1, Decimal(0), 0, Decimal("0.0425")),)
    assert got.last_record is not None and got.last_record.balance_after == got.closing_balance
    assert (await sdk.statements.get(datetime.now(UTC).date())).closing_balance == got.closing_balance

    assert (await sdk.statements.pdf(month)).startswith(b"%PDF-")
    assert (await sdk.receipts.pdf(paid["uuid"])).startswith(b"%PDF-")
    with pytest.raises(NotFoundError):
        await sdk.receipts.pdf("0" * 32)
    with pytest.raises(InvalidRequestError, match="month"):
        await sdk.statements.pdf("2099-01")
    with pytest.raises(ValueError, match="YYYY-MM"):
        await sdk.statements.get("October")
    with pytest.raises(ValueError, match="record_uuid"):
        await sdk.receipts.pdf("nope")


def test_the_sync_client_on_a_live_server(customer: Customer) -> None:
    paid = recharge(customer.admin, customer.admin_token, customer.account["id"], "1.000001")
    with Client(api_key=customer.api_key, base_url=customer.base_url) as sdk:
        statement = sdk.statements.get(datetime.now(UTC).date())
        assert statement.recharges == Decimal("101.000001") and statement.account_name == "sdk-test"
        assert sdk.statements.pdf(datetime.now(UTC).date()).startswith(b"%PDF-")
        assert sdk.receipts.pdf(paid["uuid"]).startswith(b"%PDF-")
