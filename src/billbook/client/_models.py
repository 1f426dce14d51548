"""``client.models``: the price catalog and what a request costs.

Both operations are written once, as plans in ``_ModelsBase``; ``Models`` and ``AsyncModels`` only
hand them to their loop. Both calls are reads (a quote charges nothing), so the core's blanket retry
policy is as safe for them as for a search.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from billbook.client._core import Call, Core, Plan
from billbook.client._http import AsyncLoop, SyncLoop
from billbook.client.types import CatalogModel, PriceQuote

MODELS_PATH = "/api/v3/models"
PRICE_PATH = "/api/v3/model/price"
Loop = TypeVar("Loop", SyncLoop, AsyncLoop)


def _catalog(data: list[Any]) -> tuple[CatalogModel, ...]:
    """The catalog's ``data`` is an array (the core checks that), one object per model."""
    return tuple(CatalogModel.from_wire(item) for item in data)


def price_body(model_id: str, inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    """The quote's request body; ``inputs`` left out when there are none (the base price)."""
    if not isinstance(model_id, str) or not model_id:
        raise ValueError("model_id must be a non-empty string")
    if inputs is not None and not isinstance(inputs, Mapping):
        raise ValueError("inputs must be a mapping of input names to values")
    return {"model_id": model_id} if inputs is None else {"model_id": model_id, "inputs": dict(inputs)}


class _ModelsBase(Generic[Loop]):
    """The plans behind ``client.models``; the subclasses only run them on their loop."""

    def __init__(self, core: Core, loop: Loop) -> None:
        self._core = core
        self._loop: Loop = loop

    def _list(self) -> Plan[tuple[CatalogModel, ...]]:
        return self._core.request(Call("GET", MODELS_PATH, "model catalog", _catalog, array=True))

    def _price(self, model_id: str, inputs: Mapping[str, Any] | None) -> Plan[PriceQuote]:
        body = price_body(model_id, inputs)
        return self._core.request(Call("POST", PRICE_PATH, "price quote", PriceQuote.from_wire, body))


class Models(_ModelsBase[SyncLoop]):
    def list(self) -> tuple[CatalogModel, ...]:
        """Every model with a price in force now, in catalog order (``sort_order``)."""
        return self._loop.run(self._list())

    def price(self, model_id: str, inputs: Mapping[str, Any] | None = None) -> PriceQuote:
        """The list price for ``inputs`` (none: the base price), your discount, and what you pay."""
        return self._loop.run(self._price(model_id, inputs))


class AsyncModels(_ModelsBase[AsyncLoop]):
    async def list(self) -> tuple[CatalogModel, ...]:
        """Every model with a price in force now, in catalog order (``sort_order``)."""
        return await self._loop.run(self._list())

    async def price(self, model_id: str, inputs: Mapping[str, Any] | None = None) -> PriceQuote:
        """The list price for ``inputs`` (none: the base price), your discount, and what you pay."""
        return await self._loop.run(self._price(model_id, inputs))
