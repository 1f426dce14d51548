"""Response shapes, for the OpenAPI document. Routes build plain dicts (see ``render``) and the
tests check those against these models, so the document describes what is really sent."""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    code: int = 200
    message: str = "success"
    data: T


class ErrorEnvelope(BaseModel):
    code: int
    message: str
    data: None = None


class OrderOut(BaseModel):
    uuid: str
    state: Literal["pre", "done", "refunded"]
    price: float
    origin_price: float
    status: str
    ak_id: int
    #: billbook's own: the price version the order was priced from; null when the charge sent its price.
    price_version: int | None = None


class PredictionOut(BaseModel):
    uuid: str
    model_uuid: str
    status: str


class BillingItem(BaseModel):
    uuid: str
    access_key_id: str
    access_key_name: str
    billing_type: Literal["deduct", "refund", "recharge", "adjust"]
    price: float
    #: The signed change to the balance: negative for a deduct, either sign for an adjust.
    amount: float
    #: The balance right after this record, in the ledger's write order.
    balance_after: float
    created_at: str
    updated_at: str
    order: OrderOut | None
    prediction: PredictionOut | None


class SearchData(BaseModel):
    page: int
    total: int
    has_more: bool
    items: list[BillingItem]


class BalanceData(BaseModel):
    balance: float
    currency: Literal["USD"] = "USD"


class ModelUsage(BaseModel):
    model_uuid: str
    model_type: str
    unit_price: float
    total_cost: float
    total_count: int
    last_used_date: str


class DayModel(BaseModel):
    model_uuid: str
    amount: float
    count: int


class DailyUsage(BaseModel):
    date: str
    amount: float
    count: int
    models: list[DayModel]


class UsageSummary(BaseModel):
    total_cost: float
    total_requests: int
    success_requests: int


class UsageStatsData(BaseModel):
    per_model_usage: list[ModelUsage]
    daily_usage: list[DailyUsage]
    summary: UsageSummary


class AccountOut(BaseModel):
    id: int
    name: str
    balance: float


class KeyOut(BaseModel):
    access_key_id: str
    ak_id: int
    name: str
    api_key: str


class RevokedKeyOut(BaseModel):
    access_key_id: str
    ak_id: int
    name: str
    revoked_at: str


class FundsOut(BaseModel):
    uuid: str
    billing_type: Literal["recharge", "adjust"]
    amount: float
    reference: str
    balance: float
    created: bool


class ChargeOut(BaseModel):
    created: bool
    record: BillingItem


class BatchResultOut(BaseModel):
    index: int
    prediction_uuid: str | None
    status: Literal["created", "duplicate", "insufficient", "invalid", "limited"]
    code: int
    message: str
    record_uuid: str | None


class BatchOut(BaseModel):
    results: list[BatchResultOut]
    created: int
    duplicate: int
    insufficient: int
    invalid: int
    limited: int


class StatusOut(BaseModel):
    prediction_uuid: str
    status: str
    changed: bool
    order_state: str
    refund: BillingItem | None


class WindowsOut(BaseModel):
    """USD per window; null: no limit."""

    daily: float | None
    monthly: float | None
    total: float | None


class LimitSetsOut(BaseModel):
    operator: WindowsOut
    customer: WindowsOut
    #: The lower of the two, which is what charges are held to.
    applied: WindowsOut


class LimitsOut(BaseModel):
    """Spend today (``daily``), this UTC month (``monthly``) and ever (``total``), and the limits."""

    spend: WindowsOut
    limits: LimitSetsOut


class AccessKeyOut(LimitsOut):
    access_key_id: str
    access_key_name: str
    created: str
    revoked: bool
    revoked_at: str | None


class AccessKeysOut(BaseModel):
    items: list[AccessKeyOut]


class AlertsOut(BaseModel):
    low_balance: list[float]


ERRORS = {status: {"model": ErrorEnvelope} for status in (400, 401, 403, 404, 405, 409, 413, 429, 500)}
