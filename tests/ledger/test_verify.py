"""``verify`` passes on a ledger built through the API and names each kind of corruption."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from billbook.cli.main import app as cli
from billbook.store.db import Database
from tests.checks import assert_verified, averify
from tests.conftest import ADMIN_TOKEN
from tests.factories import acreate_charge, acustomer, arecharge, aset_status, new_uuid

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
DAY = 86_400_000


async def _ledger(client: httpx.AsyncClient) -> dict:
    """Two accounts with every kind of record, over two days; returns the uuids by what happened."""
    first = await acustomer(client, ADMIN_TOKEN, balance="1")
    second = await acustomer(client, ADMIN_TOKEN, balance="5", name="other")
    key = first["key"]["access_key_id"]
    made = {name: new_uuid() for name in ("pending", "done", "failed", "processing")}
    for i, uuid in enumerate(made.values()):
        await acreate_charge(client, ADMIN_TOKEN, key, price="0.2", prediction_uuid=uuid, created_at=1_767_225_600_000 + i * DAY // 2)
    await aset_status(client, ADMIN_TOKEN, made["done"], "completed")
    await aset_status(client, ADMIN_TOKEN, made["failed"], "failed")
    await aset_status(client, ADMIN_TOKEN, made["processing"], "processing")
    await arecharge(client, ADMIN_TOKEN, first["account"]["id"], "2")
    body = {"amount": "-0.5", "reason": "chargeback", "reference": "cb-1"}
    r = await client.post(f"/internal/v1/accounts/{first['account']['id']}/adjustments", json=body, headers=ADMIN)
    assert r.status_code == 200
    await acreate_charge(client, ADMIN_TOKEN, second["key"]["access_key_id"], price="1")
    return {"uuids": made, "first": first, "second": second}


async def _execute(db: Database, sql: str, **params: object) -> None:
    async with db.transaction(write=True) as conn:
        await conn.execute(text(sql), params)


def _pred(uuid: str) -> str:
    return f"(SELECT id FROM predictions WHERE uuid = '{uuid}')"


def _order(uuid: str) -> str:
    return f"(SELECT id FROM orders WHERE prediction_id = {_pred(uuid)})"


async def test_a_ledger_built_through_the_api_verifies(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    await _ledger(client)
    report = await assert_verified(app.state.db)
    assert report.checked["accounts"] == 2 and report.checked["orders"] == 5
    assert {"balance", "orders", "overdraft", "usage_daily", "spend_windows", "account_spend", "account_count"} <= set(report.checks)


CORRUPTIONS = {
    "balance": ["UPDATE accounts SET balance = balance + 1"],
    "one_deduct": ["DELETE FROM billing_records WHERE order_id = {order[pending]} AND billing_type = 'deduct'"],
    "refund": [
        "UPDATE predictions SET status = 'completed' WHERE uuid = '{pending_uuid}'",
        "INSERT INTO billing_records (uuid, account_id, billing_type, price, delta, balance_after, ak_id, access_key_id,"
        " order_id, prediction_id, model_uuid, created_at, updated_at) SELECT 'x' || SUBSTR(uuid, 2), account_id, 'refund',"
        " price, price, balance_after + price, ak_id, access_key_id, order_id, prediction_id, model_uuid, created_at, updated_at FROM billing_records"
        " WHERE order_id = {order[pending]}",
    ],
    "order_state": ["UPDATE orders SET state = 'done' WHERE id = {order[pending]}"],
    "order_price": ["UPDATE orders SET price = price + 1 WHERE id = {order[done]}"],
    "record_amount": ["UPDATE billing_records SET delta = price WHERE order_id = {order[done]} AND billing_type = 'deduct'"],
    "record_links": [
        "UPDATE billing_records SET ak_id = (SELECT MAX(id) FROM access_keys) WHERE order_id = {order[done]}"
    ],
    "usage_daily": ["UPDATE usage_daily SET refund_count = refund_count + 1"],
    "billing_daily": ["UPDATE billing_daily SET count = count + 1"],
    "billing_daily_shards": ["UPDATE billing_daily_shards SET count = count + 1 WHERE billing_type = 'deduct'"],
    "spend_windows": ["UPDATE spend_windows SET amount = amount + 1 WHERE period = 'monthly'"],
    "billing_monthly": ["UPDATE billing_monthly SET amount = amount + 1 WHERE billing_type = 'deduct'"],
    "account_spend": ["UPDATE account_spend SET amount = amount + 1 WHERE account_id = {account}"],
    "account_count": ["UPDATE account_count SET accounts = accounts + 1"],
    "balance_after": ["UPDATE billing_records SET balance_after = balance_after + 1 WHERE order_id = {order[done]}"],
    "overdraft": [
        # The opening recharge of 1 USD becomes 0.1: the first 0.2 charge then overdrew.
        "UPDATE billing_records SET price = 100000, delta = 100000 WHERE reference = 'opening-balance'"
        " AND account_id = {account}",
        "UPDATE accounts SET balance = balance - 900000 WHERE id = {account}",
    ],
}


@pytest.mark.parametrize("check", sorted(CORRUPTIONS))
async def test_each_corruption_is_named(client: httpx.AsyncClient, app, check: str) -> None:  # noqa: ANN001
    made = await _ledger(client)
    db: Database = app.state.db
    await assert_verified(db)
    uuids = made["uuids"]
    values = {
        "order": {name: _order(uuid) for name, uuid in uuids.items()},
        "pending_uuid": uuids["pending"],
        "account": made["first"]["account"]["id"],
    }
    for sql in CORRUPTIONS[check]:
        await _execute(db, sql.format(**values))
    report = await averify(db)
    assert not report.ok
    named = {v.check for v in report.violations}
    assert check in named, [str(v) for v in report.violations]


async def test_balance_after_names_the_record_and_the_last_one(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    """A wrong ``balance_after`` in the middle breaks the running sum; a balance changed behind the
    records' back disagrees with the last record's ``balance_after``."""
    made = await _ledger(client)
    db: Database = app.state.db
    await _execute(db, f"UPDATE billing_records SET balance_after = balance_after - 1 WHERE order_id = {_order(made['uuids']['done'])}")
    await _execute(db, "UPDATE accounts SET balance = balance + 1 WHERE id = :a", a=made["second"]["account"]["id"])
    found = [v for v in (await averify(db)).violations if v.check == "balance_after"]
    assert len(found) == 2, [str(v) for v in found]
    middle, last = sorted(found, key=lambda v: v.account_id or 0)
    assert middle.account_id == made["first"]["account"]["id"]
    assert "is not the running sum of the account's records" in middle.message
    assert last.account_id == made["second"]["account"]["id"]
    assert last.message.startswith("last record ") and "is not the account's balance, 4.000001 USD" in last.message


async def test_missing_rollup_cell_and_half_a_charge(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    made = await _ledger(client)
    db: Database = app.state.db
    await _execute(db, "DELETE FROM usage_daily WHERE account_id = :a", a=made["second"]["account"]["id"])
    await _execute(
        db,
        "INSERT INTO predictions (uuid, account_id, ak_id, model_uuid, model_type, status, created_at, updated_at,"
        " hold_until) VALUES (:u, :a, :k, 'm', '', 'created', 0, 0, 3600000)",
        u=new_uuid(),
        a=made["first"]["account"]["id"],
        k=made["first"]["key"]["ak_id"],
    )
    messages = [str(v) for v in (await averify(db)).violations]
    assert any("usage_daily" in m and "missing from usage_daily" in m for m in messages), messages
    assert any(m.startswith("one_deduct") and "has no order" in m for m in messages), messages


def test_cli_exit_codes_and_output(tmp_path: Path) -> None:
    """``billbook verify`` on a database made by the operator commands: 0, then 1 with the violation."""
    import sqlite3

    runner = CliRunner()
    url = f"sqlite:///{tmp_path / 'v.db'}"
    assert runner.invoke(cli, ["accounts", "create", "--name", "A", "--balance", "3", "--db", url]).exit_code == 0
    ok = runner.invoke(cli, ["verify", "--db", url])
    assert ok.exit_code == 0 and ok.output.startswith("ok: checked 1 accounts, 1 records"), ok.output
    with sqlite3.connect(tmp_path / "v.db") as raw:
        raw.execute("UPDATE accounts SET balance = 7000000")
    bad = runner.invoke(cli, ["verify", "--db", url])
    assert bad.exit_code == 1
    assert "balance: account 1: balance is 7 USD but its records sum to 3 USD" in bad.output
    assert runner.invoke(cli, ["verify", "--db", "mysql://x"]).exit_code == 2
