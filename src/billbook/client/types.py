"""Typed results. Money is ``Decimal``, times are aware UTC ``datetime``s, and each record keeps the
exact object the server sent (``raw``) so exports can reproduce it field for field, including fields
a newer server adds."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Self

from billbook.client._convert import to_datetime, to_decimal
from billbook.times import datetime_to_ms

BillingType = Literal["deduct", "refund", "recharge", "adjust"]
SortOrder = Literal["asc", "desc"]

#: Whether each billing type takes from the balance, where the type alone says so. An ``adjust``
#: can go either way, so only a server that sends ``amount`` can tell.
_TAKES: Mapping[str, bool] = {"deduct": True, "refund": False, "recharge": False}


def signed_amount(billing_type: str, price: Decimal) -> Decimal | None:
    """The change to the balance a record made, from its type and (always positive) price.

    For servers that do not send ``amount`` (the upstream service): None where the sign is unknown.
    """
    takes = _TAKES.get(billing_type)
    if takes is None:
        return None
    size = price.copy_abs()
    return -size if takes else size  # negation, not * -1, keeps a free charge at 0 rather than -0


# --- reading the wire ------------------------------------------------------------------------------
# Each result type declares, per field, how that field is read from the server's JSON object;
# ``_FromWire.from_wire`` applies the declarations, so no type spells out its own constructor call.

Reader = Callable[[Mapping[str, Any], str], Any]
"""Reads one field from the wire object, given the object and the field's name."""


def _wire(read: Reader, **options: Any) -> Any:
    """A dataclass field that ``from_wire`` fills with ``read(data, name)``."""
    return field(metadata={"read": read}, **options)


class _FromWire:
    __slots__ = ()

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Self:
        """The object the server sent, each field read as its declaration says."""
        make: Any = cls
        result: Self = make(**{f.name: f.metadata["read"](data, f.name) for f in fields(make)})
        return result


def _text(data: Mapping[str, Any], name: str) -> str:
    return str(data[name])


def _text_or(default: str) -> Reader:
    return lambda data, name: str(data.get(name) or default)


def _text_or_none(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    return None if value is None else str(value)


def _count(data: Mapping[str, Any], name: str) -> int:
    return int(data.get(name, 0))


def _money(*, default: int | None = None, label: str | None = None) -> Reader:
    """Exact money; required unless ``default`` is given (the upstream leaves out zero totals)."""
    return lambda data, name: to_decimal(data.get(name, default), label or name)


def _money_or_none(data: Mapping[str, Any], name: str) -> Decimal | None:
    value = data.get(name)
    return None if value is None else to_decimal(value, name)


def _time(data: Mapping[str, Any], name: str) -> datetime:
    return to_datetime(data.get(name), name)


def _time_or_none(data: Mapping[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    return to_datetime(value, name) if value else None


def _one(kind: type[_FromWire]) -> Reader:
    """A nested object, or None where the server sent none."""
    return lambda data, name: kind.from_wire(data[name]) if data.get(name) else None


def _many(kind: type[_FromWire]) -> Reader:
    return lambda data, name: tuple(kind.from_wire(item) for item in data.get(name) or ())


def _int_or_none(data: Mapping[str, Any], name: str) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} is not an integer: {value!r}")
    return value


def _as_sent(data: Mapping[str, Any], name: str) -> Any:
    return data.get(name)


def _origin_price(data: Mapping[str, Any], name: str) -> Decimal:
    """The price before any discount: the price itself where the server sends none."""
    return to_decimal(data.get(name, data.get("price")), "order.origin_price")


# --- records ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Order(_FromWire):
    """The order behind a charge: ``state`` is ``pre``, ``done`` or ``refunded``."""

    uuid: str = _wire(_text)
    state: str = _wire(_text_or(""))
    status: str = _wire(_text_or(""))
    price: Decimal = _wire(_money(label="order.price"))
    origin_price: Decimal = _wire(_origin_price)
    ak_id: int | None = _wire(_as_sent)
    #: billbook's extension: the catalog price version a catalog-priced charge was priced by; None
    #: for a charge sent with its price, and from servers that do not send it (the upstream).
    price_version: int | None = _wire(_int_or_none)


@dataclass(frozen=True, slots=True)
class Prediction(_FromWire):
    uuid: str = _wire(_text)
    model_uuid: str = _wire(_text_or(""))
    status: str = _wire(_text_or(""))


def _amount(data: Mapping[str, Any], name: str) -> Decimal | None:
    """As sent, or derived from the type and price where the server leaves it out."""
    sent = _money_or_none(data, name)
    if sent is not None:
        return sent
    return signed_amount(str(data["billing_type"]), to_decimal(data.get("price"), "price"))


def _updated_at(data: Mapping[str, Any], name: str) -> datetime:
    return to_datetime(data.get(name, data["created_at"]), name)


@dataclass(frozen=True, slots=True)
class BillingRecord(_FromWire):
    """One ledger entry. ``price`` is always positive; ``amount`` is the signed change to the balance
    (negative for a deduct) and ``balance_after`` the balance right after it, both as the server sent
    them. A server that omits ``amount`` gets it derived from ``billing_type`` and ``price`` (None for
    an ``adjust``, whose sign only the server knows); one that omits ``balance_after`` leaves it None."""

    uuid: str = _wire(_text)
    billing_type: str = _wire(_text)
    price: Decimal = _wire(_money())
    amount: Decimal | None = _wire(_amount)
    balance_after: Decimal | None = _wire(_money_or_none)
    created_at: datetime = _wire(_time)
    updated_at: datetime = _wire(_updated_at)
    access_key_id: str | None = _wire(_text_or_none)
    access_key_name: str | None = _wire(_text_or_none)
    order: Order | None = _wire(_one(Order))
    prediction: Prediction | None = _wire(_one(Prediction))
    #: The object exactly as the server sent it.
    raw: Mapping[str, Any] = _wire(lambda data, name: data, repr=False, compare=False)

    @property
    def created_at_ms(self) -> int:
        return datetime_to_ms(self.created_at)

    @property
    def model_uuid(self) -> str | None:
        return self.prediction.model_uuid if self.prediction else None


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
class Balance(_FromWire):
    balance: Decimal = _wire(_money())
    currency: str = _wire(_text_or("USD"))


# --- the price catalog -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogModel(_FromWire):
    """One model in the price catalog, as the version in force now says. ``formula`` is a JSONata
    expression over ``base_price`` and a request's inputs (None: every request costs ``base_price``);
    ask ``client.models.price`` for what given inputs cost rather than evaluating it yourself."""

    model_id: str = _wire(_text)
    name: str = _wire(_text_or(""))
    description: str = _wire(_text_or(""))
    type: str = _wire(_text_or(""))
    base_price: Decimal = _wire(_money())
    sort_order: int = _wire(_count)
    formula: str | None = _wire(_text_or_none)


@dataclass(frozen=True, slots=True)
class PriceQuote(_FromWire):
    """What a request costs: ``price`` is the list price, ``discounted_price`` what your account
    pays, ``discount_rate`` your discount in percent (0 to 100)."""

    model_id: str = _wire(_text)
    price: Decimal = _wire(_money())
    discounted_price: Decimal = _wire(_money())
    discount_rate: Decimal = _wire(_money(default=0))
    currency: str = _wire(_text_or("USD"))


@dataclass(frozen=True, slots=True)
class ModelUsage(_FromWire):
    """Spend on one model over the whole range, net of refunds."""

    model_uuid: str = _wire(_text)
    model_type: str = _wire(_text_or(""))
    unit_price: Decimal = _wire(_money(default=0))
    total_cost: Decimal = _wire(_money(default=0))
    total_count: int = _wire(_count)
    last_used_date: datetime | None = _wire(_time_or_none)


@dataclass(frozen=True, slots=True)
class DailyModelUsage(_FromWire):
    model_uuid: str = _wire(_text)
    amount: Decimal = _wire(_money(default=0))
    count: int = _wire(_count)


@dataclass(frozen=True, slots=True)
class DailyUsage(_FromWire):
    """Spend on one UTC day, net of refunds."""

    date: date = _wire(lambda data, name: date.fromisoformat(str(data[name])[:10]))
    amount: Decimal = _wire(_money(default=0))
    count: int = _wire(_count)
    models: tuple[DailyModelUsage, ...] = _wire(_many(DailyModelUsage))


@dataclass(frozen=True, slots=True)
class UsageSummary(_FromWire):
    total_cost: Decimal = _wire(_money(default=0))
    total_requests: int = _wire(_count)
    success_requests: int = _wire(_count)


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


# --- webhooks --------------------------------------------------------------------------------------


def _texts(data: Mapping[str, Any], name: str) -> tuple[str, ...]:
    return tuple(str(v) for v in data.get(name) or ())


@dataclass(frozen=True, slots=True)
class WebhookEndpoint(_FromWire):
    """Where your account's events are sent (``secret`` is only set right after ``create``)."""

    id: str = _wire(_text)
    url: str = _wire(_text)
    events: tuple[str, ...] = _wire(_texts)
    created_at: datetime = _wire(_time)
    disabled_at: datetime | None = _wire(_time_or_none)
    previous_secret_expires_at: datetime | None = _wire(_time_or_none)
    secret: str | None = _wire(_text_or_none)


@dataclass(frozen=True, slots=True)
class RotatedSecret(_FromWire):
    """A new signing secret; the previous one signs too until ``previous_secret_expires_at``."""

    id: str = _wire(_text)
    secret: str = _wire(_text)
    previous_secret_expires_at: datetime = _wire(_time)


@dataclass(frozen=True, slots=True)
class WebhookAttempt(_FromWire):
    """One try to send a delivery: ``status_code`` None when no answer came (``error`` says why)."""

    at: datetime = _wire(_time)
    status_code: int | None = _wire(_int_or_none)
    latency_ms: int | None = _wire(_int_or_none)
    error: str | None = _wire(_text_or_none)
    response_body: str | None = _wire(_text_or_none)


@dataclass(frozen=True, slots=True)
class WebhookDelivery(_FromWire):
    """One event's delivery to one endpoint: ``state`` is ``pending``, ``delivered`` or ``failed``."""

    id: int = _wire(lambda data, name: int(data[name]))
    event_id: str = _wire(_text)
    type: str = _wire(_text)
    state: str = _wire(_text)
    created_at: datetime = _wire(_time)
    next_attempt_at: datetime | None = _wire(_time_or_none)
    delivered_at: datetime | None = _wire(_time_or_none)
    attempts: tuple[WebhookAttempt, ...] = _wire(_many(WebhookAttempt))


@dataclass(frozen=True, slots=True)
class DeliveryPage(_FromWire):
    page: int = _wire(_count)
    page_size: int = _wire(_count)
    total: int = _wire(_count)
    has_more: bool = _wire(lambda data, name: bool(data.get(name)))
    items: tuple[WebhookDelivery, ...] = _wire(_many(WebhookDelivery))


# --- statements ------------------------------------------------------------------------------------


def _flag(data: Mapping[str, Any], name: str) -> bool:
    return bool(data.get(name, False))


@dataclass(frozen=True, slots=True)
class ModelCharges(_FromWire):
    """One model's charges in a statement's month: deducts and refunds dated in it, and the net."""

    model_uuid: str = _wire(_text)
    charges: Decimal = _wire(_money())
    charge_count: int = _wire(_count)
    refunds: Decimal = _wire(_money())
    refund_count: int = _wire(_count)
    net: Decimal = _wire(_money())


@dataclass(frozen=True, slots=True)
class EdgeRecord(_FromWire):
    """The last record dated in a statement's month or before it, with its stored ``balance_after``."""

    uuid: str = _wire(_text)
    created_at: datetime = _wire(_time)
    balance_after: Decimal = _wire(_money())


@dataclass(frozen=True, slots=True)
class Statement(_FromWire):
    """A UTC month's statement: ``opening_balance + recharges + adjustments - charges + refunds ==
    closing_balance`` (``charges`` and ``refunds`` positive). ``open``: the month has not ended and
    its figures can change. ``matches_balance_after``: the month's last record's stored
    ``balance_after`` equals ``closing_balance`` (false once a record was back-dated across the
    month's end). ``start_time``/``end_time`` bound the month's records, both inclusive."""

    account_id: int = _wire(_count)
    account_name: str = _wire(_text_or(""))
    month: str = _wire(_text)
    start_time: datetime = _wire(_time)
    end_time: datetime = _wire(_time)
    open: bool = _wire(_flag)
    generated_at: datetime = _wire(_time)
    currency: str = _wire(_text_or("USD"))
    opening_balance: Decimal = _wire(_money())
    recharges: Decimal = _wire(_money())
    recharge_count: int = _wire(_count)
    adjustments: Decimal = _wire(_money())
    adjustment_count: int = _wire(_count)
    charges: Decimal = _wire(_money())
    charge_count: int = _wire(_count)
    refunds: Decimal = _wire(_money())
    refund_count: int = _wire(_count)
    net_charges: Decimal = _wire(_money())
    charges_by_model: tuple[ModelCharges, ...] = _wire(_many(ModelCharges))
    closing_balance: Decimal = _wire(_money())
    record_count: int = _wire(_count)
    last_record: EdgeRecord | None = _wire(_one(EdgeRecord))
    matches_balance_after: bool = _wire(_flag)
    raw: Mapping[str, Any] = _wire(lambda data, name: data, repr=False, compare=False)
