"""Domain values to the wire's JSON: money as USD numbers, times as ISO 8601 with ``Z``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from billbook.api.envelope import usd
from billbook.times import day_to_date, ms_to_iso

if TYPE_CHECKING:
    from billbook.ledger.search import RecordView
    from billbook.ledger.statements import Statement


def billing_item(view: RecordView) -> dict:
    """A record exactly as the upstream page shows it; ``order``/``prediction`` null when absent.

    Records are append-only, but what the item shows of its order changes when the prediction
    settles or is refunded; ``updated_at`` is then the order's last change.
    """
    order = None
    if view.order_uuid is not None:
        order = {
            "uuid": view.order_uuid,
            "state": view.order_state,
            "price": usd(view.order_price),
            "origin_price": usd(view.order_origin_price),
            "status": "",
            "ak_id": view.order_ak_id,
            # billbook's own: the catalog version the price came from (null: the charge sent it).
            "price_version": view.order_price_version_id,
        }
    prediction = None
    if view.prediction_uuid is not None:
        prediction = {
            "uuid": view.prediction_uuid,
            "model_uuid": view.prediction_model_uuid,
            "status": view.prediction_status,
        }
    return {
        "uuid": view.uuid,
        "access_key_id": view.access_key_id or "",
        "access_key_name": view.access_key_name or "",
        "billing_type": view.billing_type,
        "price": usd(view.price),
        "amount": usd(view.delta),
        "balance_after": usd(view.balance_after),
        "created_at": ms_to_iso(view.created_at),
        "updated_at": ms_to_iso(max(view.updated_at, view.order_updated_at or 0)),
        "order": order,
        "prediction": prediction,
    }


def usage_stats(stats: dict) -> dict:
    return {
        "per_model_usage": [
            {
                "model_uuid": m["model_uuid"],
                "model_type": m["model_type"],
                "unit_price": usd(m["unit_price"]),
                "total_cost": usd(m["total_cost"]),
                "total_count": m["total_count"],
                "last_used_date": ms_to_iso(m["last_used_at"]),
            }
            for m in stats["per_model_usage"]
        ],
        "daily_usage": [
            {
                "date": day_to_date(d["day"]),
                "amount": usd(d["amount"]),
                "count": d["count"],
                "models": [
                    {"model_uuid": m["model_uuid"], "amount": usd(m["amount"]), "count": m["count"]}
                    for m in d["models"]
                ],
            }
            for d in stats["daily_usage"]
        ],
        "summary": {
            "total_cost": usd(stats["summary"]["total_cost"]),
            "total_requests": stats["summary"]["total_requests"],
            "success_requests": stats["summary"]["success_requests"],
        },
    }


def statement(s: Statement) -> dict:
    """A monthly statement; ``end_time`` is the month's last millisecond (bounds inclusive, as in search)."""
    last = s.last_record
    return {
        "account_id": s.account_id,
        "account_name": s.account_name,
        "month": s.month_text,
        "start_time": ms_to_iso(s.start_ms),
        "end_time": ms_to_iso(s.end_ms - 1),
        "open": s.is_open,
        "generated_at": ms_to_iso(s.generated_at),
        "currency": "USD",
        "opening_balance": usd(s.opening),
        "recharges": usd(s.recharges),
        "recharge_count": s.recharge_count,
        "adjustments": usd(s.adjustments),
        "adjustment_count": s.adjustment_count,
        "charges": usd(s.charges),
        "charge_count": s.charge_count,
        "refunds": usd(s.refunds),
        "refund_count": s.refund_count,
        "net_charges": usd(s.net_charges),
        "charges_by_model": [
            {
                "model_uuid": m.model_uuid,
                "charges": usd(m.charges),
                "charge_count": m.charge_count,
                "refunds": usd(m.refunds),
                "refund_count": m.refund_count,
                "net": usd(m.net),
            }
            for m in s.by_model
        ],
        "closing_balance": usd(s.closing),
        "record_count": s.record_count,
        "last_record": None if last is None else {
            "uuid": last.uuid, "created_at": ms_to_iso(last.created_at), "balance_after": usd(last.balance_after),
        },
        "matches_balance_after": s.matches_balance_after,
    }
