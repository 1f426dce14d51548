"""Monthly statements and receipts over HTTP: figures equal a recomputation from the records after
random workloads (back-dated records and empty months included), the PDFs carry the JSON's figures
and the account's name in any script, and the edges (bad months, other accounts' records)."""

from __future__ import annotations

import io
import os
from collections import defaultdict
from collections.abc import AsyncIterator

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from billbook.api.app import create_app
from billbook.documents.page import fallback_fonts
from billbook.money import document_usd
from billbook.settings import Settings
from billbook.store.tables import accounts, billing_records
from billbook.times import month_key, month_start_ms, month_text, next_month, now_ms
from tests.conftest import ADMIN_TOKEN, DB_POOLER
from tests.factories import acreate_charge, acustomer, arecharge, aset_status, new_uuid
from tests.workload.generator import BASE_MS
from tests.workload.runner import micros, run_seed

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
OCT_2026 = month_start_ms(202610)


def _expected(records: list[tuple], month: int) -> dict:
    """The statement of ``month`` worked out from every record of the account, the slow way:
    ``records`` are ``(id, created_at, billing_type, delta, model_uuid, balance_after)``."""
    start, end = month_start_ms(month), month_start_ms(next_month(month))
    inside = [r for r in records if start <= r[1] < end]
    sums: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    by_model: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for _, _, kind, delta, model, _ in inside:
        sums[kind] += delta
        counts[kind] += 1
        if kind == "deduct":
            by_model[model][0] -= delta
            by_model[model][1] += 1
        elif kind == "refund":
            by_model[model][2] += delta
            by_model[model][3] += 1
    opening = sum(r[3] for r in records if r[1] < start)
    closing = sum(r[3] for r in records if r[1] < end)
    dated = sorted((r for r in records if r[1] < end), key=lambda r: (r[1], r[0]))
    last_after = dated[-1][5] if dated else None
    return {
        "opening_balance": opening,
        "recharges": sums["recharge"],
        "recharge_count": counts["recharge"],
        "adjustments": sums["adjust"],
        "adjustment_count": counts["adjust"],
        "charges": -sums["deduct"],
        "charge_count": counts["deduct"],
        "refunds": sums["refund"],
        "refund_count": counts["refund"],
        "net_charges": -sums["deduct"] - sums["refund"],
        "closing_balance": closing,
        "record_count": len(inside),
        "charges_by_model": {m: (c, n, r, k, c - r) for m, (c, n, r, k) in by_model.items()},
        "last_balance_after": last_after,
        "matches_balance_after": (last_after or 0) == closing,
    }


def _got(data: dict) -> dict:
    money = ("opening_balance", "recharges", "adjustments", "charges", "refunds", "net_charges", "closing_balance")
    got = {name: micros(data[name]) for name in money}
    got |= {name: data[name] for name in ("recharge_count", "adjustment_count", "charge_count", "refund_count",
                                          "record_count", "matches_balance_after")}
    got["charges_by_model"] = {
        m["model_uuid"]: (micros(m["charges"]), m["charge_count"], micros(m["refunds"]), m["refund_count"], micros(m["net"]))
        for m in data["charges_by_model"]
    }
    got["last_balance_after"] = micros(data["last_record"]["balance_after"]) if data["last_record"] else None
    return got


async def test_statements_equal_a_recomputation_after_random_workloads(client: httpx.AsyncClient, app) -> None:  # noqa: ANN001
    """Workloads back-date charges into January 2026 after the accounts' opening recharges of this
    month were written, so January's last record's ``balance_after`` is not its closing balance,
    and the months between have no activity at all."""
    for seed in range(3):
        await run_seed(client, app.state.db, ADMIN_TOKEN, 9100 + seed, 40, app.state.settings.hold_timeout_s)
    r = billing_records.c
    async with app.state.db.transaction(write=False) as conn:
        balances = dict((await conn.execute(select(accounts.c.id, accounts.c.balance))).all())
        rows = (await conn.execute(select(r.account_id, r.id, r.created_at, r.billing_type, r.delta, r.model_uuid,
                                          r.balance_after))).all()
    records: dict[int, list[tuple]] = defaultdict(list)
    for account_id, *rest in rows:
        records[account_id].append(tuple(rest))
    now_month = month_key(now_ms())
    mismatches = 0
    for account_id, balance in balances.items():
        month = month_key(BASE_MS - 40 * 86_400_000)
        while month <= now_month:
            response = await client.get(f"/internal/v1/accounts/{account_id}/statements/{month_text(month)}", headers=ADMIN)
            assert response.status_code == 200, response.text
            data = response.json()["data"]
            want = _expected(records[account_id], month)
            assert _got(data) == want, (account_id, month_text(month))
            assert data["open"] is (month == now_month)
            mismatches += not data["matches_balance_after"]
            month = next_month(month)
        assert micros(data["closing_balance"]) == balance
    assert mismatches, "the workloads were expected to back-date records across a month's end"


async def test_the_customer_sees_the_operators_statement(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="10")
    month = month_text(month_key(now_ms()))
    mine = (await client.get(f"/api/v3/statements/{month}", headers=who["headers"])).json()["data"]
    url = f"/internal/v1/accounts/{who['account']['id']}/statements/{month}"
    theirs = (await client.get(url, headers=ADMIN)).json()["data"]
    assert {k: v for k, v in mine.items() if k != "generated_at"} == {k: v for k, v in theirs.items() if k != "generated_at"}
    assert mine["open"] is True and mine["recharges"] == 10 and mine["closing_balance"] == 10


async def test_a_back_dated_charge_changes_the_earlier_month(client: httpx.AsyncClient) -> None:
    """October's closing balance and every later opening move by the back-dated charge's price; the
    ``balance_after`` already written stays, so October's last record no longer matches it."""
    who = await acustomer(client, ADMIN_TOKEN, balance="0")
    account_id, key = who["account"]["id"], who["key"]["access_key_id"]
    await arecharge(client, ADMIN_TOKEN, account_id, "5")
    await acreate_charge(client, ADMIN_TOKEN, key, price="1", created_at=OCT_2026 + 1000)

    async def october() -> dict:
        response = await client.get("/api/v3/statements/2026-10", headers=who["headers"])
        assert response.status_code == 200, response.text
        return response.json()["data"]

    before = await october()
    assert (before["opening_balance"], before["charges"], before["closing_balance"]) == (0, 1, -1)
    assert before["matches_balance_after"] is False  # the charge was written after this month's recharge
    await acreate_charge(client, ADMIN_TOKEN, key, price="0.0425", created_at=OCT_2026 + 2000)
    after = await october()
    assert (micros(after["charges"]), after["charge_count"], micros(after["closing_balance"])) == (1_042_500, 2, -1_042_500)
    september = (await client.get("/api/v3/statements/2026-09", headers=who["headers"])).json()["data"]
    assert september["record_count"] == 0 and september["closing_balance"] == 0 and september["last_record"] is None


@pytest.mark.parametrize("month", ["2026-13", "2026-1", "26-10", "1999-12", "2026-10-01", "9999-01", "٢٠٢٦-١٠"])
async def test_a_bad_month_is_a_400_naming_it(client: httpx.AsyncClient, month: str) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    for path in (f"/api/v3/statements/{month}", f"/api/v3/statements/{month}.pdf"):
        response = await client.get(path, headers=who["headers"])
        assert response.status_code == 400, (path, response.text)
        assert "month" in response.json()["message"]


async def test_unknown_account_and_foreign_records_are_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/internal/v1/accounts/999999/statements/2026-10", headers=ADMIN)).status_code == 404
    one = await acustomer(client, ADMIN_TOKEN, balance="3")
    other = await acustomer(client, ADMIN_TOKEN, balance="4")
    theirs = await arecharge(client, ADMIN_TOKEN, other["account"]["id"], "2")
    charge = await acreate_charge(client, ADMIN_TOKEN, one["key"]["access_key_id"])
    for uuid in (theirs["uuid"], charge["record"]["uuid"], new_uuid()):
        response = await client.get(f"/api/v3/receipts/{uuid}.pdf", headers=one["headers"])
        assert response.status_code == 404, response.text
    assert (await client.get("/api/v3/receipts/not-a-uuid.pdf", headers=one["headers"])).status_code == 400
    assert (await client.get("/api/v3/statements/2026-10")).status_code == 401


# --- PDF -------------------------------------------------------------------------------------------

NAME = "ООО «Ромашка» Ελληνικά"
CJK_NAME = "株式会社ひかり 한빛"
OPERATOR = Settings(
    admin_token=ADMIN_TOKEN,
    hold_sweep_interval_s=None,
    operator_name="Acme Inference GmbH",
    operator_address="Hauptstraße 1\\n10115 Berlin",
)


@pytest.fixture
async def issuing(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    application = create_app(OPERATOR.replace(database_url=database_url, db_pooler=DB_POOLER))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://billbook.test") as http:
            yield http


def pdf_text(content: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


async def test_the_statement_pdf_carries_the_json_figures(issuing: httpx.AsyncClient) -> None:
    who = await acustomer(issuing, ADMIN_TOKEN, balance="100", name=NAME)
    key = who["key"]["access_key_id"]
    await arecharge(issuing, ADMIN_TOKEN, who["account"]["id"], "20.5")
    for n in range(45):  # enough models for a second page
        charge = await acreate_charge(issuing, ADMIN_TOKEN, key, price="0.0425", model_uuid=f"vendor/model-{n:02d}")
        if n % 7 == 0:
            await aset_status(issuing, ADMIN_TOKEN, charge["record"]["prediction"]["uuid"], "failed")
    month = month_text(month_key(now_ms()))
    data = (await issuing.get(f"/api/v3/statements/{month}", headers=who["headers"])).json()["data"]
    response = await issuing.get(f"/api/v3/statements/{month}.pdf", headers=who["headers"])
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert f"statement-{who['account']['id']}-{month}.pdf" in response.headers["content-disposition"]
    text, pages = pdf_text(response.content)
    assert pages == 2 and "Page 1 of 2" in text and "Page 2 of 2" in text
    for figure in ("opening_balance", "recharges", "adjustments", "refunds", "closing_balance"):
        assert document_usd(micros(data[figure])) in text, figure
    assert document_usd(-micros(data["charges"])) in text and document_usd(-micros(data["net_charges"])) in text
    for model in data["charges_by_model"]:
        assert model["model_uuid"] in text
        assert document_usd(micros(model["net"])) in text
    assert "0.0425" in text and "1.9125" in text  # 45 charges less 7 refunds of 0.0425: micro-dollars, not cents
    assert NAME in text and "Acme Inference GmbH" in text and "10115 Berlin" in text
    assert "still open" in text and str(data["record_count"]) in text


async def test_a_receipt_for_a_recharge(issuing: httpx.AsyncClient) -> None:
    who = await acustomer(issuing, ADMIN_TOKEN, balance="1", name="Иван Петров")
    paid = await arecharge(issuing, ADMIN_TOKEN, who["account"]["id"], "12.345678", reference="invoice-77")
    for url, headers in (
        (f"/api/v3/receipts/{paid['uuid']}.pdf", who["headers"]),
        (f"/internal/v1/accounts/{who['account']['id']}/receipts/{paid['uuid']}.pdf", ADMIN),
    ):
        response = await issuing.get(url, headers=headers)
        assert response.status_code == 200, response.text
        text, pages = pdf_text(response.content)
        assert pages == 1 and "Page 1 of 1" in text
        for expected in ("Иван Петров", paid["uuid"], "invoice-77", "12.345678", "13.345678", "Acme Inference GmbH"):
            assert expected in text, expected


async def test_chinese_japanese_and_korean_names_print_with_a_system_font(issuing: httpx.AsyncClient) -> None:
    if len(fallback_fonts()) < 2:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("no CJK fonts for PDFs under CI: apt-get install fonts-droid-fallback fonts-nanum (scripts/test does)")
        pytest.skip("no CJK fonts installed (apt-get install fonts-droid-fallback fonts-nanum)")
    who = await acustomer(issuing, ADMIN_TOKEN, balance="3", name=CJK_NAME)
    url = f"/internal/v1/accounts/{who['account']['id']}/statements/{month_text(month_key(now_ms()))}.pdf"
    text, _ = pdf_text((await issuing.get(url, headers=ADMIN)).content)
    assert CJK_NAME in text


async def test_an_empty_month_prints(issuing: httpx.AsyncClient) -> None:
    who = await acustomer(issuing, ADMIN_TOKEN, balance="0", name="شركة النور")
    response = await issuing.get(f"/internal/v1/accounts/{who['account']['id']}/statements/2026-01.pdf", headers=ADMIN)
    assert response.status_code == 200, response.text
    text, _ = pdf_text(response.content)
    assert "No charges or refunds" in text and "0.00" in text and "still open" not in text
