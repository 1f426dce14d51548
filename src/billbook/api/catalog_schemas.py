"""Request bodies and response shapes of the price catalog's routes."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field, PlainValidator, StrictStr, WithJsonSchema

from billbook.api.fields import NameText, TimeMs, Usd, bounded
from billbook.api.schemas import Body

ModelId = Annotated[StrictStr, Field(min_length=1, max_length=200)]
#: Inputs a formula reads: any JSON object (bounded in size and depth by the ledger).
Inputs = dict[str, Any]
SortOrder = Annotated[int, bounded(-1_000_000_000, 1_000_000_000)]


def _rate(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError("must be a number between 0 and 100")
    rate = Decimal(value)
    if not rate.is_finite() or not 0 <= rate <= 100:
        raise ValueError("must be between 0 and 100")
    if rate * 100 != (rate * 100).to_integral_value():
        raise ValueError("must have at most 2 decimal places")
    return rate


RatePercent = Annotated[
    Decimal,
    PlainValidator(_rate),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 100, "examples": [10, 12.5]}),
]


class PriceRequest(Body):
    model_id: ModelId
    inputs: Inputs | None = None


class ModelVersionRequest(Body):
    """A new price version. ``name`` defaults to the model id; ``effective_from`` to now."""

    name: Annotated[NameText, Field(min_length=1, max_length=200)] | None = None
    type: Annotated[StrictStr, Field(max_length=100)] = ""
    description: Annotated[StrictStr, Field(max_length=2000)] = ""
    base_price: Usd
    formula: Annotated[StrictStr, Field(max_length=10_000)] | None = None
    sort_order: SortOrder = 0
    effective_from: TimeMs | None = None


class DiscountRequest(Body):
    model_id: ModelId | None = None
    rate_percent: RatePercent


# --- Response shapes, for the OpenAPI document ------------------------------------------------------


class CatalogModelOut(BaseModel):
    model_id: str
    name: str
    description: str
    type: str
    base_price: float
    sort_order: int
    formula: str | None


class ModelVersionOut(CatalogModelOut):
    version: int
    effective_from: str
    created_at: str


class AddedVersionOut(ModelVersionOut):
    created: bool


class VersionsPage(BaseModel):
    page: int
    total: int
    has_more: bool
    items: list[ModelVersionOut]


class PriceOut(BaseModel):
    model_id: str
    price: float
    discounted_price: float
    discount_rate: float
    currency: str = "USD"


class PricingOut(BaseModel):
    model_id: str
    unit_price: float
    currency: str = "USD"


class DiscountOut(BaseModel):
    account_id: int
    model_id: str | None
    rate_percent: float
    set_at: str
    changed: bool
