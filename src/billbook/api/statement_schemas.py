"""The documented shape of a monthly statement (for the OpenAPI document and the tests)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel


class ModelChargesOut(BaseModel):
    model_uuid: str
    charges: Decimal
    charge_count: int
    refunds: Decimal
    refund_count: int
    net: Decimal


class LastRecordOut(BaseModel):
    uuid: str
    created_at: str
    balance_after: Decimal


class StatementData(BaseModel):
    """Money in USD. ``charges`` and ``refunds`` are positive; ``closing_balance`` = ``opening_balance``
    + ``recharges`` + ``adjustments`` - ``charges`` + ``refunds``."""

    account_id: int
    account_name: str
    month: str
    start_time: str
    end_time: str
    open: bool
    generated_at: str
    currency: str
    opening_balance: Decimal
    recharges: Decimal
    recharge_count: int
    adjustments: Decimal
    adjustment_count: int
    charges: Decimal
    charge_count: int
    refunds: Decimal
    refund_count: int
    net_charges: Decimal
    charges_by_model: list[ModelChargesOut]
    closing_balance: Decimal
    record_count: int
    last_record: LastRecordOut | None
    matches_balance_after: bool
