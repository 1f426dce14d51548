"""Fixtures for the SDK's tests: a customer on the live server, and an in-memory search endpoint.

The in-memory endpoint implements the search contract (inclusive bounds, order by created_at then
insertion, page numbers, total, has_more) so that the export cursor can be driven through thousands
of adversarial interleavings quickly; the live server proves the same against the real thing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import httpx
import pytest

from billbook.times import ms_to_iso
from tests.factories import create_account, create_charge, create_key


# --- live server -----------------------------------------------------------------------------------


@dataclass
class Customer:
    """An account with one key on the live server, and an admin client to add data to it."""

    base_url: str
    admin_token: str
    admin: httpx.Client
    account: dict[str, Any]
    key: dict[str, Any]

    @property
    def api_key(self) -> str:
        return str(self.key["api_key"])

    @property
    def access_key_id(self) -> str:
        return str(self.key["access_key_id"])

    def charge(self, **kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("access_key_id", self.access_key_id)
        return create_charge(self.admin, self.admin_token, **kwargs)

    def new_key(self, name: str) -> dict[str, Any]:
        return create_key(self.admin, self.admin_token, self.account["id"], name=name)


@pytest.fixture
def admin_http(live_server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as http:
        yield http


@pytest.fixture
def customer(live_server: Any, admin_http: httpx.Client) -> Customer:
    account = create_account(admin_http, live_server.admin_token, name="sdk-test", balance="100")
    key = create_key(admin_http, live_server.admin_token, account["id"], name="primary")
    return Customer(live_server.base_url, live_server.admin_token, admin_http, account, key)


# --- in-memory search endpoint ---------------------------------------------------------------------


@dataclass
class FakeLedger:
    """The search endpoint's contract over a list, with a hook run before each search is answered
    (where tests insert records "while the read is going on")."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    before_search: Callable[[FakeLedger, dict[str, Any]], None] | None = None
    searches: int = 0

    def insert(self, created_at: int) -> str:
        uuid = uuid4().hex
        self.rows.append({"id": len(self.rows) + 1, "uuid": uuid, "created_at": created_at})
        return uuid

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.searches += 1
        if self.before_search:
            self.before_search(self, body)
        return httpx.Response(200, json={"code": 200, "message": "success", "data": self.search(body)})

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        lo = int(body.get("start_time", -(2**62)))
        hi = int(body.get("end_time", 2**62))
        rows = sorted(
            (r for r in self.rows if lo <= r["created_at"] <= hi),
            key=lambda r: (r["created_at"], r["id"]),
            reverse=body.get("sort", "created_at DESC").upper().endswith("DESC"),
        )
        page, size = body["page"], body["page_size"]
        items = rows[(page - 1) * size : page * size]
        return {
            "page": page,
            "total": len(rows),
            "has_more": page * size < len(rows),
            "items": [wire_record(r["uuid"], r["created_at"]) for r in items],
        }


def wire_record(uuid: str, created_at: int, price: str = "0.04") -> dict[str, Any]:
    at = ms_to_iso(created_at)
    return {
        "uuid": uuid,
        "access_key_id": "1_1776946986692727375",
        "access_key_name": "default",
        "billing_type": "deduct",
        "price": float(price),
        "created_at": at,
        "updated_at": at,
        "order": {
            "uuid": uuid[::-1],
            "state": "pre",
            "price": float(price),
            "origin_price": float(price),
            "status": "",
            "ak_id": 1,
        },
        "prediction": {"uuid": uuid[1:] + "0", "model_uuid": "bytedance/seedream-v4.5", "status": "created"},
    }


def envelope(data: Any, code: int = 200, message: str = "success") -> dict[str, Any]:
    return {"code": code, "message": message, "data": data}
