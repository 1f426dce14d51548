"""Records as the SDK reads them: the signed amount and the balance after, from a server that sends
them and from one that does not (the upstream service), and how they reach a CSV or JSONL export."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest

from billbook.client import CSV_COLUMNS, AsyncClient, BillingRecord
from billbook.client._convert import dumps, parse_json
from billbook.client._export import csv_row, record_writer
from billbook.client.types import signed_amount
from tests.client.conftest import wire_record
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acustomer, arecharge, aset_status

AT = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def record(billing_type: str = "deduct", price: str = "0.04", **extra: Any) -> BillingRecord:
    """A record parsed from the wire exactly as a response body would be (numbers as Decimal)."""
    data = wire_record("a" * 32, AT) | {"billing_type": billing_type, "price": Decimal(price)} | extra
    parsed = parse_json(dumps(data).encode())
    return BillingRecord.from_wire(parsed)


def test_the_csv_columns_are_the_documented_list() -> None:
    assert CSV_COLUMNS == (
        "uuid", "created_at", "updated_at", "billing_type", "price", "amount", "balance_after",
        "access_key_id", "access_key_name", "model_uuid", "prediction_uuid", "prediction_status",
        "order_uuid", "order_state", "order_price", "order_origin_price", "order_ak_id",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("billing_type", "expected"),
    [("deduct", Decimal("-0.04")), ("refund", Decimal("0.04")), ("recharge", Decimal("0.04")), ("adjust", None)],
)
def test_amount_is_derived_where_the_type_gives_the_sign(billing_type: str, expected: Decimal | None) -> None:
    parsed = record(billing_type)
    assert parsed.amount == expected and parsed.balance_after is None
    assert signed_amount(billing_type, Decimal("0.04")) == expected


def test_amount_and_balance_after_from_the_wire_win() -> None:
    parsed = record("adjust", "5", amount=-5, balance_after=95.123456)
    assert parsed.amount == Decimal("-5") and parsed.balance_after == Decimal("95.123456")
    assert isinstance(parsed.balance_after, Decimal)
    assert record("deduct", amount=None).amount == Decimal("-0.04")


def test_a_free_charge_is_zero_not_minus_zero() -> None:
    free = record("deduct", "0.00")
    assert free.amount is not None and str(free.amount) == "0.00"
    assert csv_row(free)[CSV_COLUMNS.index("amount")] == "0.00"


def test_a_record_is_immutable() -> None:
    with pytest.raises(AttributeError):
        record().amount = Decimal(0)  # type: ignore[misc]


def _csv(*records: BillingRecord) -> list[dict[str, str]]:
    stream = io.StringIO()
    write = record_writer(stream, "csv")
    for r in records:
        write(r)
    return list(csv.DictReader(io.StringIO(stream.getvalue())))


def test_csv_rows_carry_exact_amounts_and_empty_cells_for_unknowns() -> None:
    sent = record("deduct", "0.000001", amount=Decimal("-0.000001"), balance_after=Decimal("8999999999.999999"))
    upstream = record("adjust", "5")
    first, second = _csv(sent, upstream)
    assert (first["price"], first["amount"], first["balance_after"]) == ("0.000001", "-0.000001", "8999999999.999999")
    assert (second["amount"], second["balance_after"]) == ("", "")
    assert csv_row(record("refund", "100"))[CSV_COLUMNS.index("amount")] == "100"


def _jsonl(*records: BillingRecord) -> list[str]:
    stream = io.StringIO()
    write = record_writer(stream, "jsonl")
    for r in records:
        write(r)
    return stream.getvalue().splitlines()


def test_jsonl_keeps_the_server_s_object_and_fills_in_what_it_left_out() -> None:
    sent = record("adjust", "5", amount=-5, balance_after=Decimal("95.5"))
    (line,) = _jsonl(sent)
    assert json.loads(line, parse_float=Decimal) == dict(sent.raw)

    (line,) = _jsonl(record("deduct", "0.04"))
    keys = list(json.loads(line))
    assert keys[keys.index("price") + 1 : keys.index("price") + 3] == ["amount", "balance_after"]
    assert '"amount":-0.04,"balance_after":null' in line
    assert '"amount":null' in _jsonl(record("adjust"))[0]


# --- against the server, on SQLite and PostgreSQL: the balance rebuilt from the records -------------


async def test_the_balance_is_rebuilt_from_the_records(client: httpx.AsyncClient, tmp_path: Path) -> None:
    """Charges, a refund, a top-up and adjustments both ways: the signed amounts add up to every
    ``balance_after`` in order, and the last one is the balance; the CSV carries the same."""
    who = await acustomer(client, ADMIN_TOKEN)
    account_id, key = who["account"]["id"], who["key"]
    await acreate_charge(client, ADMIN_TOKEN, key["access_key_id"], price="0.04")
    failed = await acreate_charge(client, ADMIN_TOKEN, key["access_key_id"], price="1.25")
    await aset_status(client, ADMIN_TOKEN, failed["record"]["prediction"]["uuid"], "failed")
    await arecharge(client, ADMIN_TOKEN, account_id, "10")
    for amount in ("-5", "2.5"):
        body = {"amount": amount, "reason": "correction", "reference": uuid4().hex}
        adjusted = await client.post(
            f"/internal/v1/accounts/{account_id}/adjustments", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert adjusted.status_code == 200, adjusted.text

    sdk = AsyncClient(api_key=key["api_key"], base_url=str(client.base_url), http_client=client)
    records = [r async for r in sdk.billings.iter(sort="asc")]
    balance = (await sdk.balance()).balance
    await sdk.billings.export(tmp_path / "all.csv")

    running = Decimal(0)
    for r in records:
        assert r.amount is not None
        running += r.amount
        assert r.balance_after == running, r.billing_type
    assert [r.amount for r in records if r.billing_type == "adjust"] == [Decimal("-5"), Decimal("2.5")]
    assert running == balance == Decimal("107.46")
    with (tmp_path / "all.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(Decimal(row["amount"]), Decimal(row["balance_after"])) for row in rows] == [
        (r.amount, r.balance_after) for r in records
    ]
