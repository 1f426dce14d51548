"""The contract's envelope: ``{"code", "message", "data"}``, serialised with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


class JSONBody(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def success(data: Any) -> JSONBody:
    return JSONBody({"code": 200, "message": "success", "data": data})


def failure(status: int, message: str, headers: dict[str, str] | None = None) -> JSONBody:
    return JSONBody({"code": status, "message": message, "data": None}, status_code=status, headers=headers)
