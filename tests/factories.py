"""Plain functions that build data through the internal API, for sync and async httpx clients.

``http`` is an ``httpx.Client`` (``create_*``) or ``httpx.AsyncClient`` (``acreate_*``) whose base
URL is the server; each call asserts success and returns the envelope's ``data``.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx


def _admin(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _data(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]


def new_uuid() -> str:
    return uuid.uuid4().hex


def _charge_body(
    access_key_id: str,
    price: Any,
    model_uuid: str,
    prediction_uuid: str | None,
    created_at: int | None,
    origin_price: Any,
    model_type: str | None,
) -> dict:
    body: dict[str, Any] = {
        "prediction_uuid": prediction_uuid or new_uuid(),
        "access_key_id": access_key_id,
        "model_uuid": model_uuid,
        "price": price,
    }
    if created_at is not None:
        body["created_at"] = created_at
    if origin_price is not None:
        body["origin_price"] = origin_price
    if model_type is not None:
        body["model_type"] = model_type
    return body


def create_account(http: httpx.Client, admin_token: str, name: str = "acme", balance: Any = "100") -> dict:
    return _data(http.post("/internal/v1/accounts", json={"name": name, "balance": balance}, headers=_admin(admin_token)))


def create_key(http: httpx.Client, admin_token: str, account_id: int, name: str = "default") -> dict:
    return _data(http.post(f"/internal/v1/accounts/{account_id}/keys", json={"name": name}, headers=_admin(admin_token)))


def create_charge(
    http: httpx.Client,
    admin_token: str,
    access_key_id: str,
    price: Any = "0.04",
    model_uuid: str = "bytedance/seedream-v4.5",
    prediction_uuid: str | None = None,
    created_at: int | None = None,
    origin_price: Any = None,
    model_type: str | None = None,
) -> dict:
    body = _charge_body(access_key_id, price, model_uuid, prediction_uuid, created_at, origin_price, model_type)
    return _data(http.post("/internal/v1/charges", json=body, headers=_admin(admin_token)))


def set_status(http: httpx.Client, admin_token: str, prediction_uuid: str, status: str, at: int | None = None) -> dict:
    body: dict[str, Any] = {"status": status} | ({"at": at} if at is not None else {})
    return _data(http.post(f"/internal/v1/predictions/{prediction_uuid}/status", json=body, headers=_admin(admin_token)))


def recharge(http: httpx.Client, admin_token: str, account_id: int, amount: Any, reference: str | None = None) -> dict:
    body = {"amount": amount, "reference": reference or new_uuid()}
    return _data(http.post(f"/internal/v1/accounts/{account_id}/recharges", json=body, headers=_admin(admin_token)))


async def acreate_account(http: httpx.AsyncClient, admin_token: str, name: str = "acme", balance: Any = "100") -> dict:
    body = {"name": name, "balance": balance}
    return _data(await http.post("/internal/v1/accounts", json=body, headers=_admin(admin_token)))


async def acreate_key(http: httpx.AsyncClient, admin_token: str, account_id: int, name: str = "default") -> dict:
    url = f"/internal/v1/accounts/{account_id}/keys"
    return _data(await http.post(url, json={"name": name}, headers=_admin(admin_token)))


async def acreate_charge(
    http: httpx.AsyncClient,
    admin_token: str,
    access_key_id: str,
    price: Any = "0.04",
    model_uuid: str = "bytedance/seedream-v4.5",
    prediction_uuid: str | None = None,
    created_at: int | None = None,
    origin_price: Any = None,
    model_type: str | None = None,
) -> dict:
    body = _charge_body(access_key_id, price, model_uuid, prediction_uuid, created_at, origin_price, model_type)
    return _data(await http.post("/internal/v1/charges", json=body, headers=_admin(admin_token)))


async def aset_status(
    http: httpx.AsyncClient, admin_token: str, prediction_uuid: str, status: str, at: int | None = None
) -> dict:
    body: dict[str, Any] = {"status": status} | ({"at": at} if at is not None else {})
    url = f"/internal/v1/predictions/{prediction_uuid}/status"
    return _data(await http.post(url, json=body, headers=_admin(admin_token)))


async def arecharge(
    http: httpx.AsyncClient, admin_token: str, account_id: int, amount: Any, reference: str | None = None
) -> dict:
    body = {"amount": amount, "reference": reference or new_uuid()}
    url = f"/internal/v1/accounts/{account_id}/recharges"
    return _data(await http.post(url, json=body, headers=_admin(admin_token)))


async def acustomer(http: httpx.AsyncClient, admin_token: str, balance: Any = "100", name: str = "acme") -> dict:
    """An account with one key: ``{"account": …, "key": …, "headers": …}``."""
    account = await acreate_account(http, admin_token, name=name, balance=balance)
    key = await acreate_key(http, admin_token, account["id"])
    return {"account": account, "key": key, "headers": {"Authorization": f"Bearer {key['api_key']}"}}


# --- Price catalog ---------------------------------------------------------------------------------


async def acreate_model_version(
    http: httpx.AsyncClient, admin_token: str, model_id: str, base_price: Any = "0.04", **fields: Any
) -> dict:
    """Add a price version (``fields``: name, type, description, formula, sort_order, effective_from)."""
    body = {"base_price": base_price, **fields}
    return _data(await http.put(f"/internal/v1/models/{model_id}", json=body, headers=_admin(admin_token)))


async def aset_discount(
    http: httpx.AsyncClient, admin_token: str, account_id: int, rate_percent: Any, model_id: str | None = None
) -> dict:
    body = {"model_id": model_id, "rate_percent": rate_percent}
    url = f"/internal/v1/accounts/{account_id}/discounts"
    return _data(await http.put(url, json=body, headers=_admin(admin_token)))


# --- Spend limits --------------------------------------------------------------------------------


async def aset_key_limits(http: httpx.AsyncClient, admin_token: str, access_key_id: str, **limits: Any) -> dict:
    """The operator's limits on a key (``daily=``, ``monthly=``, ``total=`` in USD; left out: none)."""
    return _data(await http.put(f"/internal/v1/keys/{access_key_id}/limits", json=limits, headers=_admin(admin_token)))


async def aset_account_limits(http: httpx.AsyncClient, admin_token: str, account_id: int, **limits: Any) -> dict:
    return _data(await http.put(f"/internal/v1/accounts/{account_id}/limits", json=limits, headers=_admin(admin_token)))


# --- Webhooks ------------------------------------------------------------------------------------


def create_webhook(http: httpx.Client, token: str, url: str, events: list[str], *, operator: bool = False) -> dict:
    """A webhook endpoint: a customer's (``token`` an API key) or, with ``operator``, a platform-wide
    one (``token`` the admin token); the answer holds the secret."""
    path = "/internal/v1/webhooks" if operator else "/api/v3/webhooks"
    return _data(http.post(path, json={"url": url, "events": events}, headers=_admin(token)))


async def acreate_webhook(
    http: httpx.AsyncClient, token: str, url: str, events: list[str], *, operator: bool = False
) -> dict:
    path = "/internal/v1/webhooks" if operator else "/api/v3/webhooks"
    return _data(await http.post(path, json={"url": url, "events": events}, headers=_admin(token)))
