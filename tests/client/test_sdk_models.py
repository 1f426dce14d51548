"""``client.models`` against the server: the catalog and quotes, exact, from both clients.

The async client runs over the app on SQLite and PostgreSQL; the sync one against a live server.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest

from billbook.client import (
    APIResponseValidationError,
    AsyncClient,
    BillingRecord,
    CatalogModel,
    Client,
    InvalidRequestError,
    NotFoundError,
    Order,
    PriceQuote,
)
from billbook.client._convert import parse_json
from tests.client.conftest import envelope, wire_record
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acreate_model_version, acustomer, aset_discount

VIDEO_FORMULA = '{"total_price": base_price * duration / 5}'


async def _catalog(http: httpx.AsyncClient, prefix: str) -> tuple[str, str]:
    """A flat-priced image model and a video model priced by ``duration``; their ids."""
    image, video = f"{prefix}/image", f"{prefix}/video"
    await acreate_model_version(
        http, ADMIN_TOKEN, image, "0.025", name="Image", type="text-to-image", description="fast", sort_order=2
    )
    await acreate_model_version(
        http, ADMIN_TOKEN, video, "0.3", name="Video", type="text-to-video", formula=VIDEO_FORMULA, sort_order=1
    )
    return image, video


async def test_the_catalog_and_quotes_with_a_discount(client: httpx.AsyncClient) -> None:
    prefix = f"t{uuid4().hex[:8]}"
    image, video = await _catalog(client, prefix)
    who = await acustomer(client, ADMIN_TOKEN)
    await aset_discount(client, ADMIN_TOKEN, who["account"]["id"], 12.5, model_id=video)
    sdk = AsyncClient(api_key=who["key"]["api_key"], base_url=str(client.base_url), http_client=client)

    listed = [m for m in await sdk.models.list() if m.model_id.startswith(prefix)]
    assert listed == [
        CatalogModel(video, "Video", "", "text-to-video", Decimal("0.3"), 1, VIDEO_FORMULA),
        CatalogModel(image, "Image", "fast", "text-to-image", Decimal("0.025"), 2, None),
    ]
    assert isinstance(listed[0].base_price, Decimal)

    assert await sdk.models.price(image) == PriceQuote(image, Decimal("0.025"), Decimal("0.025"), Decimal(0), "USD")
    assert await sdk.models.price(video) == PriceQuote(video, Decimal("0.3"), Decimal("0.2625"), Decimal("12.5"), "USD")
    # 0.3 * 7 / 5 = 0.42; less 12.5 % = 0.3675, to the micro-dollar.
    quote = await sdk.models.price(video, {"duration": 7})
    assert (quote.price, quote.discounted_price, quote.discount_rate) == (
        Decimal("0.42"), Decimal("0.3675"), Decimal("12.5")
    )
    with pytest.raises(NotFoundError):
        await sdk.models.price(f"{prefix}/missing")
    with pytest.raises(InvalidRequestError, match="inputs"):
        await sdk.models.price(video, {"duration": "long"})


async def test_an_order_sent_with_its_price_has_no_price_version(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"], price="0.04")
    sdk = AsyncClient(api_key=who["key"]["api_key"], base_url=str(client.base_url), http_client=client)
    (record,) = (await sdk.billings.search(billing_type="deduct")).items
    assert record.order is not None and record.order.price_version is None


def test_the_sync_client_against_a_live_server(live_server: Any) -> None:
    import asyncio

    prefix = f"t{uuid4().hex[:8]}"

    async def setup() -> dict:
        async with httpx.AsyncClient(base_url=live_server.base_url) as admin:
            _, video = await _catalog(admin, prefix)
            who = await acustomer(admin, live_server.admin_token)
            await aset_discount(admin, live_server.admin_token, who["account"]["id"], 10)
            return who

    who = asyncio.run(setup())
    with Client(api_key=who["key"]["api_key"], base_url=live_server.base_url) as sdk:
        listed = [m.model_id for m in sdk.models.list() if m.model_id.startswith(prefix)]
        quote = sdk.models.price(f"{prefix}/video", {"duration": 10})
        flat = sdk.models.price(f"{prefix}/image")
    assert listed == [f"{prefix}/video", f"{prefix}/image"]
    assert (quote.price, quote.discounted_price, quote.discount_rate) == (Decimal("0.6"), Decimal("0.54"), Decimal("10"))
    assert (flat.price, flat.discounted_price) == (Decimal("0.025"), Decimal("0.0225"))


# --- reading the wire --------------------------------------------------------------------------------


def _order(**order: Any) -> Order | None:
    sent = wire_record("a" * 32, 1_767_225_600_000)
    sent["order"].update(order)
    return BillingRecord.from_wire(parse_json(json.dumps(sent).encode())).order


def test_price_version_is_read_when_sent_and_none_when_absent() -> None:
    assert _order() == _order(price_version=None)
    assert _order().price_version is None  # type: ignore[union-attr]
    assert _order(price_version=7).price_version == 7  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="price_version"):
        _order(price_version="7")


def test_a_catalog_that_is_not_an_array_is_a_validation_error() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=envelope({"model_id": "x"}))

    http = httpx.Client(transport=httpx.MockTransport(handle))
    with Client(api_key="k", base_url="http://billbook.test", http_client=http) as sdk:
        with pytest.raises(APIResponseValidationError, match="not a JSON array"):
            sdk.models.list()


def test_bad_arguments_are_refused_before_any_request() -> None:
    with Client(api_key="k", base_url="http://127.0.0.1:9", max_retries=0) as sdk:
        with pytest.raises(ValueError, match="model_id"):
            sdk.models.price("")
        with pytest.raises(ValueError, match="inputs"):
            sdk.models.price("m", ["duration"])  # type: ignore[arg-type]
