"""``billbook holds expire`` against real databases of both kinds: one full sweep, by hand or from
cron, safe to run several times at once."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from decimal import Decimal

import httpx
import pytest
from typer.testing import CliRunner

from billbook.api.app import create_app
from billbook.cli.main import app
from billbook.settings import Settings, SettingsError, load_settings
from billbook.times import now_ms
from tests.checks import assert_verify_cli
from tests.conftest import ADMIN_TOKEN
from tests.factories import acustomer, new_uuid

runner = CliRunner()
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TWO_HOURS_AGO = 2 * 3_600_000


async def _on_app(database_url: str, work):  # noqa: ANN001, ANN202
    application = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN, hold_sweep_interval_s=None))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://billbook.test") as client:
            return await work(client)


def seed(database_url: str, *, accounts: int, expired: int, fresh: int = 0) -> list[dict]:
    """``accounts`` customers with 1,000 USD each, ``expired`` back-dated charges of 0.01 USD and
    ``fresh`` new ones per account (in batches, through the internal API)."""

    async def work(client: httpx.AsyncClient) -> list[dict]:
        customers = []
        for n in range(accounts):
            who = await acustomer(client, ADMIN_TOKEN, balance="1000", name=f"c{n}")
            key = who["key"]["access_key_id"]
            charges = [{"prediction_uuid": new_uuid(), "access_key_id": key, "model_uuid": "m/x", "price": "0.01",
                        "created_at": now_ms() - (TWO_HOURS_AGO if i < expired else 0)} for i in range(expired + fresh)]
            for start in range(0, len(charges), 1000):
                response = await client.post("/internal/v1/charges/batch", json={"charges": charges[start:start + 1000]}, headers=ADMIN)
                assert response.status_code == 200 and response.json()["data"]["created"] == len(charges[start:start + 1000])
            customers.append(who)
        return customers

    return asyncio.run(_on_app(database_url, work))


def ledger_of(database_url: str, customers: list[dict]) -> list[tuple[Decimal, int]]:
    """Each customer's balance and number of refund records."""

    async def work(client: httpx.AsyncClient) -> list[tuple[Decimal, int]]:
        found = []
        for who in customers:
            balance = (await client.get("/api/v3/balance", headers=who["headers"])).json()["data"]["balance"]
            body = {"page": 1, "page_size": 1, "billing_type": "refund"}
            total = (await client.post("/api/v3/billings/search", json=body, headers=who["headers"])).json()["data"]["total"]
            found.append((Decimal(str(balance)), total))
        return found

    return asyncio.run(_on_app(database_url, work))


def expire(*args: str) -> object:
    return runner.invoke(app, ["holds", "expire", *args], catch_exceptions=False)


def test_holds_expire_refunds_expired_holds_once(database_url: str) -> None:
    customers = seed(database_url, accounts=2, expired=3, fresh=2)
    result = expire("--db", database_url, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"expired": 6}
    again = expire("--db", database_url)
    assert again.exit_code == 0 and again.output == "0 expired hold(s) refunded\n"
    # Three of five charges of 0.01 came back to each account: two are still held.
    assert ledger_of(database_url, customers) == [(Decimal("999.98"), 3)] * 2
    assert_verify_cli(database_url)


def test_two_sweeps_at_once_refund_each_hold_once(database_url: str) -> None:
    """Two ``billbook holds expire`` processes at once (as two cron hosts would) over more expired
    holds than a batch: together they expire every one, and no hold twice."""
    customers = seed(database_url, accounts=3, expired=700)
    command = [sys.executable, "-m", "billbook", "holds", "expire", "--db", database_url, "--json"]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    assert sum(json.loads(out)["expired"] for out, _ in outputs) == 2_100
    assert ledger_of(database_url, customers) == [(Decimal("1000"), 700)] * 3
    assert_verify_cli(database_url)


def test_a_database_that_cannot_be_used_is_one_line() -> None:
    result = runner.invoke(app, ["holds", "expire", "--db", "mysql://root:hunter2@db/x"])
    assert result.exit_code == 2
    assert "hunter2" not in result.output and len(result.output.strip().splitlines()) == 1
    assert "--db must start with sqlite:// or postgresql://" in result.output


# --- the settings ---------------------------------------------------------------------------------


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("BILLBOOK_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("2d", 172_800), (" 1H ", 3600)])
def test_hold_durations(text: str, seconds: int, clean_environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLBOOK_HOLD_TIMEOUT", text)
    monkeypatch.setenv("BILLBOOK_HOLD_SWEEP_INTERVAL", text)
    settings = Settings()
    assert (settings.hold_timeout_s, settings.hold_sweep_interval_s) == (seconds, seconds)


def test_hold_defaults_and_off(clean_environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Settings().hold_timeout_s, Settings().hold_sweep_interval_s) == (3600, 30)
    monkeypatch.setenv("BILLBOOK_HOLD_SWEEP_INTERVAL", "off")
    assert Settings().hold_sweep_interval_s is None


@pytest.mark.parametrize("text", ["1 hour", "90", "0s", "-5m", "1.5h", "off", ""])
def test_a_bad_hold_timeout_names_the_variable(text: str, clean_environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLBOOK_HOLD_TIMEOUT", text)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == f"BILLBOOK_HOLD_TIMEOUT must be a duration like 90s, 15m or 1h (s, m, h or d), got {text!r}"


def test_a_bad_sweep_interval_names_the_variable(clean_environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLBOOK_HOLD_SWEEP_INTERVAL", "30 sec")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (
        "BILLBOOK_HOLD_SWEEP_INTERVAL must be a duration like 90s, 15m or 1h (s, m, h or d) or off, got '30 sec'"
    )


@pytest.mark.parametrize("interval", [45, None])
def test_workers_get_the_hold_settings(interval: int | None, clean_environment: None, monkeypatch: pytest.MonkeyPatch) -> None:
    given = Settings(hold_timeout_s=90, hold_sweep_interval_s=interval)
    for name, value in given.as_environment().items():
        monkeypatch.setenv(name, value)
    assert Settings() == given
