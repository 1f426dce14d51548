"""``billbook keys list``, ``limits get|set`` and ``alerts get|set`` against a live server, and the
operator's ``accounts limit`` / ``keys limit`` on a database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from billbook.cli.main import app
from tests.factories import create_account, create_charge, create_key

runner = CliRunner()


def test_customer_commands_round_trip(live_server: Any) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as admin:
        account = create_account(admin, live_server.admin_token, name="cli-limits", balance="10")
        key = create_key(admin, live_server.admin_token, account["id"], name="laptop")
        create_charge(admin, live_server.admin_token, key["access_key_id"], price="0.5")
    env = {"BILLBOOK_BASE_URL": live_server.base_url, "BILLBOOK_API_KEY": key["api_key"], "COLUMNS": "200"}

    def run(*args: str) -> Any:
        result = runner.invoke(app, list(args), env=env)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return result.stdout

    put = json.loads(run("limits", "set", "--daily", "5", "--json"))
    assert put["limits"]["customer"] == {"daily": "5", "monthly": None, "total": None}
    assert json.loads(run("limits", "get", "--json"))["spend"]["total"] == "0.5"
    run("limits", "set", "--key", key["access_key_id"], "--total", "2")
    listed = json.loads(run("keys", "list", "--json"))["items"]
    assert listed[0]["limits"]["applied"]["total"] == "2" and listed[0]["spend"]["daily"] == "0.5"
    assert "limit $2.00" in run("keys", "list")
    assert json.loads(run("alerts", "set", "10", "5", "--json")) == {"low_balance": ["10", "5"]}
    assert "$10.00, $5.00" in run("alerts", "get")
    bad = runner.invoke(app, ["limits", "set", "--daily", "-3"], env=env)
    assert bad.exit_code == 1 and "daily" in bad.stderr


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_operator_limits_on_accounts_and_keys(db: str) -> None:
    runner.invoke(app, ["accounts", "create", "--name", "Acme", "--db", db], catch_exceptions=False)
    key = json.loads(runner.invoke(app, ["keys", "create", "--account", "1", "--name", "k", "--db", db, "--json"]).output)
    account = runner.invoke(app, ["accounts", "limit", "--account", "1", "--daily", "50", "--db", db, "--json"])
    assert json.loads(account.output) == {"operator": {"daily": 50, "monthly": None, "total": None}}
    on_key = runner.invoke(app, ["keys", "limit", key["access_key_id"], "--total", "7.5", "--db", db])
    assert on_key.exit_code == 0 and "total 7.5 USD" in on_key.output
    missing = runner.invoke(app, ["accounts", "limit", "--account", "9", "--daily", "1", "--db", db])
    assert missing.exit_code == 1 and "account 9 not found" in missing.output
