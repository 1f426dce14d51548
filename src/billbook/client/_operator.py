"""``OperatorClient`` and ``AsyncOperatorClient``: the internal API with an admin token.

Every operation is a plan in ``_OperatorBase``, written once; the two clients only run them on their
loop. Writes are safe to retry because each carries its idempotency key, made here once per logical
call and reused on every retry the core makes: a recharge's or an adjustment's ``reference`` (made
when the caller gives none), a charge's ``prediction_uuid`` (the caller's), and an
``Idempotency-Key`` header for account and key creation. A retried key creation is answered with a
replacement key, the first one revoked, so one call leaves one usable key.

Reads answer with the server's JSON, money as ``Decimal`` (``Page.items`` are those objects).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from billbook.client._base import AsyncBase, Base, Http, SyncBase
from billbook.client._core import DEFAULT_MAX_RETRIES, Call, ClientOptions, Plan

Money = Decimal | int | str
#: Audit rows read per request by ``audit_iter``.
AUDIT_CHUNK = 1000


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


def _money(value: Money, name: str) -> str:
    """Money as exact decimal text: a float is refused (it cannot hold most cents exactly)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"{name} must be a Decimal, an int or a decimal string, not {type(value).__name__}")
    return str(value)


def _query(path: str, params: Mapping[str, Any]) -> str:
    kept = {k: v for k, v in params.items() if v is not None}
    return f"{path}?{urlencode(kept)}" if kept else path


@dataclass(frozen=True, slots=True)
class Page:
    """One page of an operator list: accounts, keys, records, audit rows."""

    page: int
    total: int
    has_more: bool
    items: list[dict[str, Any]]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Page:
        return cls(int(data["page"]), int(data["total"]), bool(data["has_more"]), list(data["items"]))


def _data(data: Any) -> dict[str, Any]:
    return dict(data)


class _OperatorBase(Base[Http]):
    """The operator's configuration and the plans behind every operator call."""

    def __init__(
        self,
        *,
        admin_token: str | None = None,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: Http | None = None,
    ) -> None:
        options = ClientOptions.for_operator(admin_token=admin_token, base_url=base_url, timeout=timeout, max_retries=max_retries)
        super().__init__(options, http_client)

    def _call(self, method: str, path: str, what: str, body: Mapping[str, Any] | None = None,
              headers: Mapping[str, str] | None = None, parse: Any = _data) -> Plan[Any]:
        return self._core.request(Call(method, path, what, parse, body, headers=headers))

    # --- writes: each with its idempotency key, made once here ------------------------------------

    def _create_account(self, name: str, balance: Money | None, idempotency_key: str | None) -> Plan[dict]:
        body: dict[str, Any] = {"name": name}
        if balance is not None:
            body["balance"] = _money(balance, "balance")
        key = {"Idempotency-Key": idempotency_key or new_idempotency_key()}
        return self._call("POST", "/internal/v1/accounts", "account", body, key)

    def _create_key(self, account_id: int, name: str, idempotency_key: str | None) -> Plan[dict]:
        key = {"Idempotency-Key": idempotency_key or new_idempotency_key()}
        return self._call("POST", f"/internal/v1/accounts/{int(account_id)}/keys", "key", {"name": name}, key)

    def _revoke_key(self, access_key_id: str) -> Plan[dict]:
        return self._call("DELETE", f"/internal/v1/keys/{quote(access_key_id, safe='')}", "revoked key")

    def _recharge(self, account_id: int, amount: Money, reference: str | None) -> Plan[dict]:
        body = {"amount": _money(amount, "amount"), "reference": reference or f"sdk-{new_idempotency_key()}"}
        return self._call("POST", f"/internal/v1/accounts/{int(account_id)}/recharges", "recharge", body)

    def _adjust(self, account_id: int, amount: Money, reason: str, reference: str | None) -> Plan[dict]:
        body = {"amount": _money(amount, "amount"), "reason": reason, "reference": reference or f"sdk-{new_idempotency_key()}"}
        return self._call("POST", f"/internal/v1/accounts/{int(account_id)}/adjustments", "adjustment", body)

    @staticmethod
    def charge_body(
        prediction_uuid: str, access_key_id: str, model_uuid: str, price: Money | None = None, **fields: Any
    ) -> dict[str, Any]:
        """One charge's body; ``prediction_uuid`` is its idempotency key (the same on every retry)."""
        body: dict[str, Any] = {"prediction_uuid": prediction_uuid, "access_key_id": access_key_id, "model_uuid": model_uuid}
        if price is not None:
            body["price"] = _money(price, "price")
        if fields.get("origin_price") is not None:
            fields["origin_price"] = _money(fields["origin_price"], "origin_price")
        return body | {k: v for k, v in fields.items() if v is not None}

    def _charge(self, body: Mapping[str, Any]) -> Plan[dict]:
        return self._call("POST", "/internal/v1/charges", "charge", dict(body))

    def _charge_batch(self, charges: Sequence[Mapping[str, Any]]) -> Plan[dict]:
        return self._call("POST", "/internal/v1/charges/batch", "batch", {"charges": [dict(c) for c in charges]})

    def _set_status(self, prediction_uuid: str, status: str, at: int | None) -> Plan[dict]:
        body: dict[str, Any] = {"status": status} | ({"at": at} if at is not None else {})
        return self._call("POST", f"/internal/v1/predictions/{quote(prediction_uuid, safe='')}/status", "status", body)

    # --- reads --------------------------------------------------------------------------------------

    def _accounts(self, query: str | None, sort: str | None, page: int, page_size: int) -> Plan[Page]:
        path = _query("/internal/v1/accounts", {"query": query, "sort": sort, "page": page, "page_size": page_size})
        return self._call("GET", path, "accounts", parse=Page.from_wire)

    def _account(self, account_id: int) -> Plan[dict]:
        return self._call("GET", f"/internal/v1/accounts/{int(account_id)}", "account")

    def _keys(self, account_id: int, page: int, page_size: int) -> Plan[Page]:
        path = _query(f"/internal/v1/accounts/{int(account_id)}/keys", {"page": page, "page_size": page_size})
        return self._call("GET", path, "keys", parse=Page.from_wire)

    def _search(self, filters: Mapping[str, Any]) -> Plan[Page]:
        body = {k: v for k, v in filters.items() if v is not None}
        return self._call("POST", "/internal/v1/billings/search", "records", body, parse=Page.from_wire)

    def _usage_stats(self, start_time: str | int, end_time: str | int, account_id: int | None, **filters: Any) -> Plan[dict]:
        body = {"start_time": start_time, "end_time": end_time, "account_id": account_id, **filters}
        return self._call("POST", "/internal/v1/usage_stats", "usage stats", {k: v for k, v in body.items() if v is not None})

    def _audit(self, page: int, page_size: int, filters: Mapping[str, Any]) -> Plan[Page]:
        path = _query("/internal/v1/audit", {**filters, "page": page, "page_size": page_size})
        return self._call("GET", path, "audit log", parse=Page.from_wire)

    def _audit_chunk(self, after_id: int, filters: Mapping[str, Any]) -> Plan[dict]:
        path = _query("/internal/v1/audit/export", {**filters, "after_id": after_id, "limit": AUDIT_CHUNK})
        return self._call("GET", path, "audit export")


class OperatorClient(_OperatorBase[httpx.Client], SyncBase):
    """The internal API, synchronously. ``admin_token`` or ``BILLBOOK_ADMIN_TOKEN``; a ``read``
    token's writes raise ``PermissionDeniedError`` (403)."""

    def create_account(self, name: str, balance: Money | None = None, *, idempotency_key: str | None = None) -> dict:
        """A new account (an opening balance is a recharge); retried, it is still one account."""
        return self._loop.run(self._create_account(name, balance, idempotency_key))

    def create_key(self, account_id: int, name: str, *, idempotency_key: str | None = None) -> dict:
        """A new API key; ``api_key`` is in this answer only."""
        return self._loop.run(self._create_key(account_id, name, idempotency_key))

    def revoke_key(self, access_key_id: str) -> dict:
        return self._loop.run(self._revoke_key(access_key_id))

    def recharge(self, account_id: int, amount: Money, *, reference: str | None = None) -> dict:
        """Top up; ``reference`` (made if not given) makes a retry a no-op (``created: false``)."""
        return self._loop.run(self._recharge(account_id, amount, reference))

    def adjust(self, account_id: int, amount: Money, reason: str, *, reference: str | None = None) -> dict:
        return self._loop.run(self._adjust(account_id, amount, reason, reference))

    def charge(self, prediction_uuid: str, access_key_id: str, model_uuid: str, price: Money | None = None, **fields: Any) -> dict:
        """Hold a prediction's price (``fields``: origin_price, model_type, created_at, inputs, hold_timeout_s)."""
        return self._loop.run(self._charge(self.charge_body(prediction_uuid, access_key_id, model_uuid, price, **fields)))

    def charge_batch(self, charges: Sequence[Mapping[str, Any]]) -> dict:
        """Up to 1,000 charges (bodies as ``charge_body`` makes them), one result each."""
        return self._loop.run(self._charge_batch(charges))

    def set_status(self, prediction_uuid: str, status: str, *, at: int | None = None) -> dict:
        return self._loop.run(self._set_status(prediction_uuid, status, at))

    def accounts(self, query: str | None = None, *, sort: str | None = None, page: int = 1, page_size: int = 10) -> Page:
        return self._loop.run(self._accounts(query, sort, page, page_size))

    def account(self, account_id: int) -> dict:
        return self._loop.run(self._account(account_id))

    def keys(self, account_id: int, *, page: int = 1, page_size: int = 10) -> Page:
        return self._loop.run(self._keys(account_id, page, page_size))

    def search(self, **filters: Any) -> Page:
        """Records of every account (or ``account_id``'s), with the public search's filters."""
        return self._loop.run(self._search(filters))

    def usage_stats(self, start_time: str | int, end_time: str | int, *, account_id: int | None = None, **filters: Any) -> dict:
        return self._loop.run(self._usage_stats(start_time, end_time, account_id, **filters))

    def audit(self, *, page: int = 1, page_size: int = 10, **filters: Any) -> Page:
        """Newest first; filters: start_time, end_time, token, account_id, target, action, route."""
        return self._loop.run(self._audit(page, page_size, filters))

    def audit_iter(self, **filters: Any) -> Iterator[dict]:
        """Every audit row matching ``filters``, oldest first: an export that misses none."""
        after = 0
        while True:
            chunk = self._loop.run(self._audit_chunk(after, filters))
            yield from chunk["items"]
            if chunk["next_after_id"] is None:
                return
            after = int(chunk["next_after_id"])


class AsyncOperatorClient(_OperatorBase[httpx.AsyncClient], AsyncBase):
    """The internal API, awaited; the same calls as ``OperatorClient``."""

    async def create_account(self, name: str, balance: Money | None = None, *, idempotency_key: str | None = None) -> dict:
        return await self._loop.run(self._create_account(name, balance, idempotency_key))

    async def create_key(self, account_id: int, name: str, *, idempotency_key: str | None = None) -> dict:
        return await self._loop.run(self._create_key(account_id, name, idempotency_key))

    async def revoke_key(self, access_key_id: str) -> dict:
        return await self._loop.run(self._revoke_key(access_key_id))

    async def recharge(self, account_id: int, amount: Money, *, reference: str | None = None) -> dict:
        return await self._loop.run(self._recharge(account_id, amount, reference))

    async def adjust(self, account_id: int, amount: Money, reason: str, *, reference: str | None = None) -> dict:
        return await self._loop.run(self._adjust(account_id, amount, reason, reference))

    async def charge(self, prediction_uuid: str, access_key_id: str, model_uuid: str, price: Money | None = None, **fields: Any) -> dict:
        return await self._loop.run(self._charge(self.charge_body(prediction_uuid, access_key_id, model_uuid, price, **fields)))

    async def charge_batch(self, charges: Sequence[Mapping[str, Any]]) -> dict:
        return await self._loop.run(self._charge_batch(charges))

    async def set_status(self, prediction_uuid: str, status: str, *, at: int | None = None) -> dict:
        return await self._loop.run(self._set_status(prediction_uuid, status, at))

    async def accounts(self, query: str | None = None, *, sort: str | None = None, page: int = 1, page_size: int = 10) -> Page:
        return await self._loop.run(self._accounts(query, sort, page, page_size))

    async def account(self, account_id: int) -> dict:
        return await self._loop.run(self._account(account_id))

    async def keys(self, account_id: int, *, page: int = 1, page_size: int = 10) -> Page:
        return await self._loop.run(self._keys(account_id, page, page_size))

    async def search(self, **filters: Any) -> Page:
        return await self._loop.run(self._search(filters))

    async def usage_stats(self, start_time: str | int, end_time: str | int, *, account_id: int | None = None, **filters: Any) -> dict:
        return await self._loop.run(self._usage_stats(start_time, end_time, account_id, **filters))

    async def audit(self, *, page: int = 1, page_size: int = 10, **filters: Any) -> Page:
        return await self._loop.run(self._audit(page, page_size, filters))

    async def audit_iter(self, **filters: Any) -> AsyncIterator[dict]:
        after = 0
        while True:
            chunk = await self._loop.run(self._audit_chunk(after, filters))
            for item in chunk["items"]:
                yield item
            if chunk["next_after_id"] is None:
                return
            after = int(chunk["next_after_id"])
