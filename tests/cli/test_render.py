"""How records are shown: the signed amount and the balance after each, from what the server sent."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from rich.console import Console

from billbook.cli.render import format_change, format_usd, print_page, records_table
from billbook.client import BillingPage


def record(billing_type: str, price: str, **extra: Any) -> dict[str, Any]:
    return {
        "uuid": f"{billing_type}-{price}",
        "billing_type": billing_type,
        "price": Decimal(price),
        **extra,
        "created_at": "2026-04-01T09:30:00.000Z",
        "updated_at": "2026-04-01T09:30:00.000Z",
        "access_key_id": None,
        "access_key_name": None,
        "order": None,
        "prediction": None,
    }


#: A server that sends ``amount`` and ``balance_after`` (billbook) and one that does not (the upstream).
SIGNED = [
    record("recharge", "100", amount=Decimal("100"), balance_after=Decimal("100")),
    record("deduct", "0.04", amount=Decimal("-0.04"), balance_after=Decimal("99.96")),
    record("adjust", "5", amount=Decimal("-5"), balance_after=Decimal("94.96")),
    record("adjust", "2.5", amount=Decimal("2.5"), balance_after=Decimal("97.46")),
]
UNSIGNED = [record("recharge", "100"), record("deduct", "0.04"), record("refund", "0.04"), record("adjust", "5")]


def page_of(items: list[dict[str, Any]]) -> BillingPage:
    return BillingPage.from_wire({"page": 1, "total": len(items), "has_more": False, "items": items}, page_size=10)


def rendered_table(items: list[dict[str, Any]]) -> str:
    console = Console(width=200, record=True)
    console.print(records_table(page_of(items)))
    return console.export_text()


@pytest.mark.parametrize(
    ("amount", "price", "shown"),
    [("-5", "5", "-$5.00"), ("2.5", "2.5", "+$2.50"), ("0.000001", "0.000001", "+$0.000001"),
     (None, "5", "±$5.00"), ("-1234.5", "1234.5", "-$1,234.50")],
)
def test_a_change_always_shows_its_sign(amount: str | None, price: str, shown: str) -> None:
    assert format_change(None if amount is None else Decimal(amount), Decimal(price)) == shown


def test_format_usd_is_exact() -> None:
    assert format_usd(Decimal("99999999999.999999")) == "$99,999,999,999.999999"


def test_the_table_shows_signed_amounts_and_the_balance_after() -> None:
    text = rendered_table(SIGNED)
    assert "Balance after" in text
    lines = {line.split("│")[2].strip(): line for line in text.splitlines() if line.startswith("│ 2026")}
    assert "+$100.00" in lines["recharge"] and "-$0.04" in lines["deduct"] and "$99.96" in lines["deduct"]
    assert "-$5.00" in text and "+$2.50" in text and "$97.46" in text and "±" not in text


def test_without_the_servers_amount_the_sign_comes_from_the_type() -> None:
    text = rendered_table(UNSIGNED)
    assert "Balance after" not in text
    assert "+$100.00" in text and "-$0.04" in text and "+$0.04" in text and "±$5.00" in text


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_json_carries_amount_and_balance_after(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    print_page(page_of(SIGNED + UNSIGNED), fmt)
    out = capsys.readouterr().out
    items = json.loads(out, parse_float=Decimal)["items"] if fmt == "json" else [
        json.loads(line, parse_float=Decimal) for line in out.splitlines()
    ]
    assert [i["amount"] for i in items] == [
        Decimal("100"), Decimal("-0.04"), Decimal("-5"), Decimal("2.5"),
        Decimal("100"), Decimal("-0.04"), Decimal("0.04"), None,
    ]
    assert [i["balance_after"] for i in items[:4]] == [Decimal(v) for v in ("100", "99.96", "94.96", "97.46")]
    assert all(i["balance_after"] is None for i in items[4:])


def test_csv_carries_amount_and_balance_after(capsys: pytest.CaptureFixture[str]) -> None:
    print_page(page_of(SIGNED + UNSIGNED), "csv")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["billing_type"], r["price"], r["amount"], r["balance_after"]) for r in rows] == [
        ("recharge", "100", "100", "100"), ("deduct", "0.04", "-0.04", "99.96"),
        ("adjust", "5", "-5", "94.96"), ("adjust", "2.5", "2.5", "97.46"),
        ("recharge", "100", "100", ""), ("deduct", "0.04", "-0.04", ""),
        ("refund", "0.04", "0.04", ""), ("adjust", "5", "", ""),
    ]
