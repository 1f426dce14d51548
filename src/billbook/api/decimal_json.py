"""Request bodies parsed with JSON numbers as ``Decimal``, so money never passes through a float.

FastAPI reads a JSON body with ``await request.json()``; this route class hands it a request whose
``json()`` keeps decimals exact and refuses ``NaN``/``Infinity``. Bodies are read as JSON whatever
their ``Content-Type`` (``curl -d`` sends a form type by default), since every body here is JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

JSON_CONTENT_TYPE = (b"content-type", b"application/json")


#: Integers longer than this stay ``Decimal``: no field takes them, and the validators then say
#: "must be an integer" or "is too large" instead of Python's limit on converting long digit strings.
_MAX_INT_DIGITS = 30


def _bounded_int(text: str) -> int | Decimal:
    return int(text) if len(text) <= _MAX_INT_DIGITS else Decimal(text)


class _NotANumber(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity`` in a body: turned into a decode error with the body."""


def _reject(name: str) -> Any:
    raise _NotANumber(name)


#: One decoder for every body (``json.loads`` with these options would build one per call).
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_int=_bounded_int, parse_constant=_reject)


class DecimalJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            raw = await self.body()
            try:
                body = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise json.JSONDecodeError("body is not UTF-8", raw.decode("latin-1"), exc.start) from exc
            try:
                self._json = _DECODER.decode(body)
            except _NotANumber as exc:
                raise json.JSONDecodeError(f"{exc} is not a number", body, 0) from exc
        return self._json


class DecimalJSONRoute(APIRoute):
    """Hands the route a :class:`DecimalJSONRequest`; subclasses wrap the call in ``run``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            scope = dict(request.scope)
            scope["headers"] = [h for h in scope["headers"] if h[0] != b"content-type"] + [JSON_CONTENT_TYPE]
            return await self.run(DecimalJSONRequest(scope, request.receive), handler)

        return route

    async def run(self, request: DecimalJSONRequest, handler: Callable[[Request], Coroutine[Any, Any, Response]]) -> Response:
        """Run the FastAPI handler (which parses and validates the body) for ``request``."""
        return await handler(request)
