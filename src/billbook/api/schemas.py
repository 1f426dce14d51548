"""Request bodies. Unknown fields are ignored; types are strict (``"1"`` is not a page number)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, WithJsonSchema, field_validator, model_validator

from billbook.api.fields import EndBound, EndTimeMs, NameText, Page, PageSize, StartBound, TimeMs, Usd, bounded
from billbook.ledger.charges import MAX_HOLD_TIMEOUT_S

BillingType = Literal["deduct", "refund", "recharge", "adjust"]
Status = Literal["created", "processing", "completed", "failed", "cancelled", "timeout"]
ShortStr = Annotated[StrictStr, Field(max_length=200)]
OneOrMany = ShortStr | Annotated[list[ShortStr], Field(max_length=100)]
Name = Annotated[NameText, Field(max_length=200)]


def storable(text: str) -> bool:
    """Text both databases can keep: no NUL (PostgreSQL refuses it) and no unpaired surrogate
    (not encodable as UTF-8). JSON can carry both as ``\\u0000`` and ``\\ud800``."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        """Refuse a body that is not an object, and unstorable text in any declared field (400),
        before either reaches a query. (FastAPI validates with ``from_attributes``: without the
        first check a number such as ``0.0`` would be read as an object with every field left out.)"""
        if not isinstance(data, dict | BaseModel):
            raise ValueError("request body must be a JSON object")
        if isinstance(data, dict):
            for name, value in data.items():
                if name not in cls.model_fields:
                    continue
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str) and not storable(item):
                        raise ValueError(f"{name} must not contain NUL characters or unpaired surrogates")
        return data


def _no_filter_when_empty(data: Any, fields: tuple[str, ...]) -> Any:
    """``""``, ``[]`` and ``["", ""]`` in a filter field all mean the same as leaving it out."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for name in fields:
        value = data.get(name)
        if isinstance(value, str) and not value.strip():
            data[name] = None
        elif isinstance(value, list):
            kept = [v for v in value if not (isinstance(v, str) and not v.strip())]
            data[name] = kept or None
    return data


class Filters(Body):
    """What search and usage statistics filter on; empty values mean no filter (docs/api-rules.md)."""

    _FILTERS: ClassVar[tuple[str, ...]] = ("model_uuid", "access_key_uuid")

    model_uuid: OneOrMany | None = None
    access_key_uuid: OneOrMany | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_filters(cls, data: Any) -> Any:
        return _no_filter_when_empty(data, cls._FILTERS)


class SearchRequest(Filters):
    _FILTERS: ClassVar[tuple[str, ...]] = (
        "model_uuid", "access_key_uuid", "billing_type", "prediction_uuids", "sort",
    )

    billing_type: BillingType | None = None
    prediction_uuids: Annotated[list[ShortStr], Field(max_length=100)] | None = None
    sort: StrictStr | None = Field(default=None, examples=["created_at DESC", "created_at ASC"])
    start_time: StartBound = None
    end_time: EndBound = None
    page: Page = 1
    page_size: PageSize = 10

    @field_validator("sort")
    @classmethod
    def _sort(cls, value: str | None) -> str | None:
        if value is None:
            return None
        normal = " ".join(value.split()).lower()
        if normal not in ("created_at desc", "created_at asc"):
            raise ValueError("must be 'created_at DESC' or 'created_at ASC'")
        return normal

    @model_validator(mode="after")
    def _range(self) -> SearchRequest:
        if self.start_time is not None and self.end_time is not None and self.start_time > self.end_time:
            raise ValueError("start_time must not be after end_time")
        return self

    @property
    def ascending(self) -> bool:
        return self.sort == "created_at asc"


def as_tuple(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


class UsageStatsRequest(Filters):
    start_time: TimeMs
    end_time: EndTimeMs


class CreateAccountRequest(Body):
    name: Name
    balance: Usd | None = None


class CreateKeyRequest(Body):
    name: Name


class RechargeRequest(Body):
    amount: Usd
    reference: ShortStr
    #: Why the money came in (an invoice, a goodwill credit), kept on the record; optional.
    reason: Annotated[StrictStr, Field(max_length=1000)] | None = None


class AdjustmentRequest(Body):
    amount: Usd
    reason: Annotated[StrictStr, Field(max_length=1000)]
    reference: ShortStr


HoldTimeout = Annotated[
    int,
    bounded(1, MAX_HOLD_TIMEOUT_S),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_HOLD_TIMEOUT_S}),
]


class ChargeRequest(Body):
    """Without ``price``, the catalog prices the charge at ``created_at`` with ``inputs``."""

    prediction_uuid: ShortStr
    access_key_id: ShortStr
    model_uuid: ShortStr
    price: Usd | None = None
    origin_price: Usd | None = None
    model_type: Annotated[StrictStr, Field(max_length=100)] | None = None
    created_at: TimeMs | None = None
    #: What a price formula reads: any JSON object (bounded in size and depth by the ledger).
    inputs: dict[str, Any] | None = None
    hold_timeout_s: HoldTimeout | None = None


class BatchChargeRequest(Body):
    #: Items are validated one by one, so one bad charge is reported without failing the batch; the
    #: document says so (any item is accepted) rather than promise a 400 the route never sends.
    charges: Annotated[
        list[Any],
        Field(
            min_length=1,
            max_length=1000,
            json_schema_extra={
                "items": {
                    "anyOf": [{"$ref": "#/components/schemas/ChargeRequest"}, {}],
                    "description": "a charge as in ChargeRequest; an item that is not one gets status invalid",
                }
            },
        ),
    ]


class StatusRequest(Body):
    status: Status
    at: TimeMs | None = None


class LimitsRequest(Body):
    """One setter's whole set of limits, in USD: a field left out or null means no limit there."""

    daily: Usd | None = None
    monthly: Usd | None = None
    total: Usd | None = None


class AlertsRequest(Body):
    """Low-balance thresholds in USD: an alert each time the balance goes below one."""

    low_balance: Annotated[list[Usd], Field(max_length=10)]
