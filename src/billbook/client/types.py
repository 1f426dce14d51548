"""Typed results. Money is ``Decimal``, times are aware UTC ``datetime``s, and each record keeps the
exact object the server sent (``raw``) so exports can reproduce it field for field, including fields
a newer server adds."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from billbook.client._convert import to_datetime, to_decimal
from billbook.times import datetime_to_ms

BillingType = Literal["deduct", "refund", "recharge", "adjust"]
SortOrder = Literal["asc", "desc"]

#: Which way each billing type moves the balance, where the type alone says so. An ``adjust`` can go
#: either way, so only a server that sends ``amount`` can tell.
_SIGNS: Mapping[str, int] = {"deduct": -1, "refund": 1, "recharge": 1}


def signed_amount(billing_type: str, price: Decimal) -> Decimal | None:
    """The change to the balance a record made, from its type and (always positive) price.

    For servers that do not send ``amount`` (the upstream service): None where the sign is unknown.
    """
    sign = _SIGNS.get(billing_type)
    return None if sign is None else price.copy_abs() * sign


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def _opt_decimal(data: Mapping[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    return None if value is None else to_decimal(value, key)


@dataclass(frozen=True, slots=True)
class Order:
    """The order behind a charge: ``state`` is ``pre``, ``done`` or ``refunded``."""

    uuid: str
    state: str
    status: str
    price: Decimal
    origin_price: Decimal
    ak_id: int | None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Order:
        return cls(
            uuid=str(data["uuid"]),
            state=str(data.get("state", "")),
            status=str(data.get("status", "")),
            price=to_decimal(data.get("price"), "order.price"),
            origin_price=to_decimal(data.get("origin_price", data.get("price")), "order.origin_price"),
            ak_id=data.get("ak_id"),
        )


@dataclass(frozen=True, slots=True)
class Prediction:
    uuid: str
    model_uuid: str
    status: str

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Prediction:
        return cls(
            uuid=str(data["uuid"]),
            model_uuid=str(data.get("model_uuid", "")),
            status=str(data.get("status", "")),
        )


@dataclass(frozen=True, slots=True)
class BillingRecord:
    """One ledger entry. ``price`` is always positive; ``amount`` is the signed change to the balance
    (negative for a deduct) and ``balance_after`` the balance right after it, both as the server sent
    them. A server that omits ``amount`` gets it derived from ``billing_type`` and ``price`` (None for
    an ``adjust``, whose sign only the server knows); one that omits ``balance_after`` leaves it None."""

    uuid: str
    billing_type: str
    price: Decimal
    amount: Decimal | None
    balance_after: Decimal | None
    created_at: datetime
    updated_at: datetime
    access_key_id: str | None
    access_key_name: str | None
    order: Order | None
    prediction: Prediction | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def created_at_ms(self) -> int:
        return datetime_to_ms(self.created_at)

    @property
    def model_uuid(self) -> str | None:
        return self.prediction.model_uuid if self.prediction else None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> BillingRecord:
        created = to_datetime(data.get("created_at"), "created_at")
        order, prediction = data.get("order"), data.get("prediction")
        billing_type = str(data["billing_type"])
        price = to_decimal(data.get("price"), "price")
        amount = _opt_decimal(data, "amount")
        return cls(
            uuid=str(data["uuid"]),
            billing_type=billing_type,
            price=price,
            amount=signed_amount(billing_type, price) if amount is None else amount,
            balance_after=_opt_decimal(data, "balance_after"),
            created_at=created,
            updated_at=to_datetime(data.get("updated_at", data["created_at"]), "updated_at"),
            access_key_id=_opt_str(data, "access_key_id"),
            access_key_name=_opt_str(data, "access_key_name"),
            order=Order.from_wire(order) if order else None,
            prediction=Prediction.from_wire(prediction) if prediction else None,
            raw=data,
        )


@dataclass(frozen=True, slots=True)
class BillingPage:
    """One page of a search. Iterating it yields its records."""

    page: int
    page_size: int
    total: int
    has_more: bool
    items: tuple[BillingRecord, ...]

    def __iter__(self) -> Iterator[BillingRecord]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], page_size: int) -> BillingPage:
        items = tuple(BillingRecord.from_wire(item) for item in data.get("items") or ())
        page, total = int(data.get("page", 1)), int(data.get("total", 0))
        # The upstream service does not send has_more; derive it the same way the server does.
        has_more = data.get("has_more")
        if not isinstance(has_more, bool):
            has_more = page * page_size < total
        return cls(page=page, page_size=page_size, total=total, has_more=has_more, items=items)


@dataclass(frozen=True, slots=True)
class Balance:
    balance: Decimal
    currency: str

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Balance:
        return cls(
            balance=to_decimal(data.get("balance"), "balance"),
            currency=str(data.get("currency", "USD")),
        )


@dataclass(frozen=True, slots=True)
class ModelUsage:
    """Spend on one model over the whole range, net of refunds."""

    model_uuid: str
    model_type: str
    unit_price: Decimal
    total_cost: Decimal
    total_count: int
    last_used_date: datetime | None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ModelUsage:
        last = data.get("last_used_date")
        return cls(
            model_uuid=str(data["model_uuid"]),
            model_type=str(data.get("model_type") or ""),
            unit_price=to_decimal(data.get("unit_price", 0), "unit_price"),
            total_cost=to_decimal(data.get("total_cost", 0), "total_cost"),
            total_count=int(data.get("total_count", 0)),
            last_used_date=to_datetime(last, "last_used_date") if last else None,
        )


@dataclass(frozen=True, slots=True)
class DailyModelUsage:
    model_uuid: str
    amount: Decimal
    count: int

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> DailyModelUsage:
        return cls(
            model_uuid=str(data["model_uuid"]),
            amount=to_decimal(data.get("amount", 0), "amount"),
            count=int(data.get("count", 0)),
        )


@dataclass(frozen=True, slots=True)
class DailyUsage:
    """Spend on one UTC day, net of refunds."""

    date: date
    amount: Decimal
    count: int
    models: tuple[DailyModelUsage, ...]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> DailyUsage:
        return cls(
            date=date.fromisoformat(str(data["date"])[:10]),
            amount=to_decimal(data.get("amount", 0), "amount"),
            count=int(data.get("count", 0)),
            models=tuple(DailyModelUsage.from_wire(m) for m in data.get("models") or ()),
        )


@dataclass(frozen=True, slots=True)
class UsageSummary:
    total_cost: Decimal
    total_requests: int
    success_requests: int

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> UsageSummary:
        return cls(
            total_cost=to_decimal(data.get("total_cost", 0), "total_cost"),
            total_requests=int(data.get("total_requests", 0)),
            success_requests=int(data.get("success_requests", 0)),
        )


@dataclass(frozen=True, slots=True)
class UsageStats:
    """Usage over ``[start, end]`` (inclusive), however many server calls it took to get it."""

    start: datetime
    end: datetime
    per_model_usage: tuple[ModelUsage, ...]
    daily_usage: tuple[DailyUsage, ...]
    summary: UsageSummary

    @classmethod
    def from_wire(cls, data: Mapping[str, Any], start: datetime, end: datetime) -> UsageStats:
        return cls(
            start=start,
            end=end,
            per_model_usage=tuple(ModelUsage.from_wire(m) for m in data.get("per_model_usage") or ()),
            daily_usage=tuple(DailyUsage.from_wire(d) for d in data.get("daily_usage") or ()),
            summary=UsageSummary.from_wire(data.get("summary") or {}),
        )
