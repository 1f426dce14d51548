"""The contract's envelope: ``{"code", "message", "data"}``, serialised with orjson."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
from starlette.responses import Response

from billbook.money import usd_text


class JSONBody(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


@lru_cache(maxsize=16_384)
def usd(micros: int) -> orjson.Fragment:
    """Money as a JSON number in USD, written as exact decimal text straight into the response:
    a float would turn ``8999999999.999999`` into ``8999999999.999998``. Cached: prices repeat
    on every page, and a fragment is immutable."""
    return orjson.Fragment(usd_text(micros))


def success(data: Any) -> JSONBody:
    return JSONBody({"code": 200, "message": "success", "data": data})


def failure(status: int, message: str, headers: dict[str, str] | None = None) -> JSONBody:
    return JSONBody({"code": status, "message": message, "data": None}, status_code=status, headers=headers)
