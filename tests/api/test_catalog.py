"""The price catalog over HTTP, on both databases: the upstream's pricing endpoints and the
operator's versions and discounts."""

from __future__ import annotations

from decimal import Decimal

import httpx

from billbook.api.catalog_schemas import AddedVersionOut, CatalogModelOut, DiscountOut, PriceOut, PricingOut, VersionsPage
from billbook.api.responses import Envelope
from billbook.times import now_ms
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_model_version, acustomer, aset_discount

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
HOUR = 3_600_000
RESOLUTION = '$lookup({"480p": 0.1, "720p": 0.2, "1080p": 0.35}, resolution)'


async def price(client: httpx.AsyncClient, headers: dict, model_id: str, inputs: dict | None = None) -> httpx.Response:
    body: dict = {"model_id": model_id}
    if inputs is not None:
        body["inputs"] = inputs
    return await client.post("/api/v3/model/price", json=body, headers=headers)


def exact(response: httpx.Response) -> dict:
    """The envelope's data with numbers parsed exactly."""
    import json

    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)["data"]


async def test_flat_price_and_the_catalog_listing(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    await acreate_model_version(
        client, ADMIN_TOKEN, "wavespeed-ai/flux-dev", "0.025", name="FLUX dev", type="text-to-image",
        description="fast images", sort_order=2,
    )
    await acreate_model_version(client, ADMIN_TOKEN, "bytedance/seedream-v4.5", "0.04", sort_order=1)
    listed = await client.get("/api/v3/models", headers=who["headers"])
    Envelope[list[CatalogModelOut]].model_validate(listed.json())
    assert exact(listed) == [
        {
            "model_id": "bytedance/seedream-v4.5", "name": "bytedance/seedream-v4.5", "description": "",
            "type": "", "base_price": Decimal("0.04"), "sort_order": 1, "formula": None,
        },
        {
            "model_id": "wavespeed-ai/flux-dev", "name": "FLUX dev", "description": "fast images",
            "type": "text-to-image", "base_price": Decimal("0.025"), "sort_order": 2, "formula": None,
        },
    ]
    quoted = await price(client, who["headers"], "wavespeed-ai/flux-dev", {"prompt": "a cat"})
    Envelope[PriceOut].model_validate(quoted.json())
    assert exact(quoted) == {
        "model_id": "wavespeed-ai/flux-dev", "price": Decimal("0.025"), "discounted_price": Decimal("0.025"),
        "discount_rate": 0, "currency": "USD",
    }
    older = await client.post("/api/v3/model/pricing", json={"model_id": "wavespeed-ai/flux-dev"}, headers=who["headers"])
    Envelope[PricingOut].model_validate(older.json())
    assert exact(older) == {"model_id": "wavespeed-ai/flux-dev", "unit_price": Decimal("0.025"), "currency": "USD"}


async def test_formulas_price_the_inputs(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    h = who["headers"]
    await acreate_model_version(client, ADMIN_TOKEN, "v/duration", "0.1", formula="base_price * duration / 5")
    await acreate_model_version(client, ADMIN_TOKEN, "v/resolution", "0.1", formula=RESOLUTION)
    await acreate_model_version(
        client, ADMIN_TOKEN, "v/total", "0.03", formula='{"total_price": base_price * duration / 5}'
    )
    assert exact(await price(client, h, "v/duration", {"duration": 7}))["price"] == Decimal("0.14")
    assert exact(await price(client, h, "v/resolution", {"resolution": "1080p"}))["price"] == Decimal("0.35")
    # 0.03 * 7 / 5 = 0.042 in decimal; the double is 0.04200000000000001, which rounds to 0.042.
    assert exact(await price(client, h, "v/total", {"duration": 7}))["price"] == Decimal("0.042")
    # Half a micro-dollar rounds up: 0.000001 * 1 / 2 = 0.0000005 -> 0.000001.
    await acreate_model_version(client, ADMIN_TOKEN, "v/half", "0.000001", formula="base_price * n / 2")
    assert exact(await price(client, h, "v/half", {"n": 1}))["price"] == Decimal("0.000001")
    # Without inputs, the price is the base price.
    assert exact(await price(client, h, "v/duration"))["price"] == Decimal("0.1")


async def test_a_price_is_never_negative(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    await acreate_model_version(client, ADMIN_TOKEN, "v/credit", "1", formula="base_price - credit")
    quoted = exact(await price(client, who["headers"], "v/credit", {"credit": 5}))
    assert quoted["price"] == 0 and quoted["discounted_price"] == 0


async def test_versions_take_effect_at_their_time(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    now = now_ms()
    await acreate_model_version(client, ADMIN_TOKEN, "m/x", "0.01", effective_from=now - 2 * HOUR)
    await acreate_model_version(client, ADMIN_TOKEN, "m/x", "0.02", effective_from=now - HOUR)
    await acreate_model_version(client, ADMIN_TOKEN, "m/x", "0.03", effective_from=now + HOUR)
    assert exact(await price(client, who["headers"], "m/x"))["price"] == Decimal("0.02")
    listed = exact(await client.get("/api/v3/models", headers=who["headers"]))
    assert [m["base_price"] for m in listed] == [Decimal("0.02")]
    # A model whose first version is still to come is not in the catalog yet.
    await acreate_model_version(client, ADMIN_TOKEN, "m/later", "1", effective_from=now + HOUR)
    assert (await price(client, who["headers"], "m/later")).status_code == 404
    page = await client.get("/internal/v1/models/m/x/versions", params={"page_size": 2}, headers=ADMIN)
    Envelope[VersionsPage].model_validate(page.json())
    data = exact(page)
    assert data["total"] == 3 and data["has_more"] is True
    assert [v["base_price"] for v in data["items"]] == [Decimal("0.03"), Decimal("0.02")]
    second = exact(await client.get("/internal/v1/models/m/x/versions?page=2&page_size=2", headers=ADMIN))
    assert [v["base_price"] for v in second["items"]] == [Decimal("0.01")] and second["has_more"] is False


async def test_adding_a_version_is_idempotent_and_versions_are_never_edited(client: httpx.AsyncClient) -> None:
    at = now_ms() - HOUR
    first = await client.put("/internal/v1/models/m/y", json={"base_price": 0.5, "effective_from": at}, headers=ADMIN)
    Envelope[AddedVersionOut].model_validate(first.json())
    again = exact(await client.put("/internal/v1/models/m/y", json={"base_price": 0.5, "effective_from": at}, headers=ADMIN))
    assert exact(first)["created"] is True and again["created"] is False
    assert again["version"] == exact(first)["version"]
    # The same price again from now on changes nothing either.
    assert exact(await client.put("/internal/v1/models/m/y", json={"base_price": 0.5}, headers=ADMIN))["created"] is False
    edit = await client.put("/internal/v1/models/m/y", json={"base_price": 0.6, "effective_from": at}, headers=ADMIN)
    assert edit.status_code == 409 and "never edited" in edit.json()["message"]
    versions = exact(await client.get("/internal/v1/models/m/y/versions", headers=ADMIN))
    assert versions["total"] == 1


async def test_discounts_for_every_model_and_for_one(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    other = await acustomer(client, ADMIN_TOKEN, name="other")
    h, account_id = who["headers"], who["account"]["id"]
    await acreate_model_version(client, ADMIN_TOKEN, "m/a", "0.1")
    await acreate_model_version(client, ADMIN_TOKEN, "m/b", "0.03")
    response = await client.put(
        f"/internal/v1/accounts/{account_id}/discounts", json={"model_id": None, "rate_percent": 10}, headers=ADMIN
    )
    Envelope[DiscountOut].model_validate(response.json())
    assert exact(response)["rate_percent"] == 10 and exact(response)["changed"] is True
    await aset_discount(client, ADMIN_TOKEN, account_id, 12.5, model_id="m/b")
    a = exact(await price(client, h, "m/a"))
    assert (a["price"], a["discounted_price"], a["discount_rate"]) == (Decimal("0.1"), Decimal("0.09"), 10)
    b = exact(await price(client, h, "m/b"))
    # 0.03 less 12.5 % = 0.02625 exactly.
    assert (b["price"], b["discounted_price"], b["discount_rate"]) == (Decimal("0.03"), Decimal("0.02625"), Decimal("12.5"))
    older = exact(await client.post("/api/v3/model/pricing", json={"model_id": "m/b"}, headers=h))
    assert older["unit_price"] == Decimal("0.02625")
    # Another account has no discount.
    assert exact(await price(client, other["headers"], "m/a"))["discounted_price"] == Decimal("0.1")
    # Setting the same rate again changes nothing.
    assert (await aset_discount(client, ADMIN_TOKEN, account_id, 10))["changed"] is False


async def test_unknown_models_are_404(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    for path in ("/api/v3/model/price", "/api/v3/model/pricing"):
        response = await client.post(path, json={"model_id": "nobody/nothing"}, headers=who["headers"])
        assert response.status_code == 404 and response.json()["data"] is None
        assert "nobody/nothing" in response.json()["message"]
    assert (await client.get("/internal/v1/models/nobody/nothing/versions", headers=ADMIN)).status_code == 404
    discount = {"model_id": "nobody/nothing", "rate_percent": 5}
    url = f"/internal/v1/accounts/{who['account']['id']}/discounts"
    assert (await client.put(url, json=discount, headers=ADMIN)).status_code == 404
    await acreate_model_version(client, ADMIN_TOKEN, "m/a", "1")
    unknown_account = await client.put("/internal/v1/accounts/999999/discounts", json={"rate_percent": 5}, headers=ADMIN)
    assert unknown_account.status_code == 404


async def test_a_formula_that_does_not_parse_is_refused_when_added(client: httpx.AsyncClient) -> None:
    for formula in ("base_price *", "(", "$sum([1..1000000])", ""):
        response = await client.put("/internal/v1/models/m/bad", json={"base_price": 1, "formula": formula}, headers=ADMIN)
        assert response.status_code == 400, formula
        assert response.json()["message"].startswith("formula "), response.json()
    assert (await client.get("/internal/v1/models/m/bad/versions", headers=ADMIN)).status_code == 404


async def test_inputs_the_formula_cannot_price_are_400(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    await acreate_model_version(client, ADMIN_TOKEN, "m/f", "0.1", formula="base_price * duration / 5")
    await acreate_model_version(client, ADMIN_TOKEN, "m/r", "0.1", formula=RESOLUTION)
    for model_id, inputs in [
        ("m/f", {"duration": "long"}),  # a string: JSONata refuses the arithmetic
        ("m/f", {"seconds": 5}),  # no duration: the formula gives nothing
        ("m/r", {"resolution": "8k"}),  # not in the lookup
        ("m/f", {"duration": 10**400}),  # not a finite double
        ("m/f", {"duration": [[[[[[[[[[1]]]]]]]]]]}),  # nested too deeply
    ]:
        response = await price(client, who["headers"], model_id, inputs)
        assert response.status_code == 400, (inputs, response.text)
        assert response.json()["message"].startswith("inputs "), response.json()
    not_an_object = await client.post("/api/v3/model/price", json={"model_id": "m/f", "inputs": [1]}, headers=who["headers"])
    assert not_an_object.status_code == 400 and "inputs" in not_an_object.json()["message"]


async def test_bad_operator_bodies_are_400_naming_the_field(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    url = f"/internal/v1/accounts/{who['account']['id']}/discounts"
    for body, field in [
        ({"rate_percent": 101}, "rate_percent"),
        ({"rate_percent": -1}, "rate_percent"),
        ({"rate_percent": "10"}, "rate_percent"),
        ({"rate_percent": 1.234}, "rate_percent"),
        ({}, "rate_percent"),
    ]:
        response = await client.put(url, json=body, headers=ADMIN)
        assert response.status_code == 400 and response.json()["message"].startswith(field), response.text
    for model_id, body, field in [
        ("m/a", {}, "base_price"),
        ("m/a", {"base_price": -1}, "base_price"),
        ("m/a", {"base_price": 0.1234567}, "base_price"),
        ("m/a", {"base_price": 1, "effective_from": "yesterday"}, "effective_from"),
        ("m/a", {"base_price": 1, "sort_order": "1"}, "sort_order"),
        ("bad model", {"base_price": 1}, "model_id"),
    ]:
        response = await client.put(f"/internal/v1/models/{model_id}", json=body, headers=ADMIN)
        assert response.status_code == 400 and response.json()["message"].startswith(field), response.text


async def test_credentials_are_required(client: httpx.AsyncClient) -> None:
    await acreate_model_version(client, ADMIN_TOKEN, "m/a", "1")
    assert (await client.get("/api/v3/models")).status_code == 401
    assert (await client.post("/api/v3/model/price", json={"model_id": "m/a"})).status_code == 401
    who = await acustomer(client, ADMIN_TOKEN)
    # An API key is not an admin token.
    response = await client.put("/internal/v1/models/m/a", json={"base_price": 0}, headers=who["headers"])
    assert response.status_code == 401


async def test_ids_that_cannot_exist_are_unknown_without_reaching_the_database(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    assert (await client.get("/internal/v1/models/a%00b/versions", headers=ADMIN)).status_code == 404
    assert (await client.put("/internal/v1/models/a%00b", json={"base_price": 1}, headers=ADMIN)).status_code == 400
    raw = '{"model_id": "a\\u0000\\ud800"}'
    response = await client.post("/api/v3/model/price", content=raw, headers=who["headers"])
    assert response.status_code == 400 and response.json()["message"].startswith("model_id")
    assert (await price(client, who["headers"], "a/versions")).status_code == 404


async def test_the_document_lists_the_catalog_routes(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path, method in [
        ("/api/v3/models", "get"),
        ("/api/v3/model/price", "post"),
        ("/api/v3/model/pricing", "post"),
        ("/internal/v1/models/{model_id}", "put"),
        ("/internal/v1/models/{model_id}/versions", "get"),
        ("/internal/v1/accounts/{account_id}/discounts", "put"),
    ]:
        assert method in paths[path], (path, method)
        assert "422" not in paths[path][method]["responses"]
