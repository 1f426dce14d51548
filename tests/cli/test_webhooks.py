"""``billbook webhooks`` commands against a real server (dispatcher off: nothing is sent)."""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

from billbook.cli.main import app
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_account, create_key, recharge
from tests.servers import Server

PUBLIC = "https://93.184.215.14/hooks"


@pytest.mark.parametrize(
    "command", [["create"], ["list"], ["delete"], ["rotate"], ["deliveries"], ["resend"], ["dispatch"], ["new-key"]]
)
def test_every_webhooks_command_has_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(app, ["webhooks", *command, "--help"])
    assert result.exit_code == 0
    assert "Example: billbook webhooks " + command[0] in " ".join(result.stdout.split())


def test_create_list_deliveries_resend_delete(tmp_path) -> None:  # noqa: ANN001
    server = Server(f"sqlite:///{tmp_path / 'billbook.db'}", env={"BILLBOOK_WEBHOOK_DISPATCH": "false"})
    try:
        with httpx.Client(base_url=server.base_url) as http:
            account = create_account(http, ADMIN_TOKEN)
            key = create_key(http, ADMIN_TOKEN, account["id"])
            env = {"BILLBOOK_BASE_URL": server.base_url, "BILLBOOK_API_KEY": key["api_key"]}

            def run(*args: str) -> dict | list:
                result = CliRunner().invoke(app, ["webhooks", *args, "--json"], env=env)
                assert result.exit_code == 0, result.output
                return json.loads(result.stdout)

            made = run("create", PUBLIC, "-e", "recharge.created")
            assert made["secret"].startswith("whsec_")
            assert [e["id"] for e in run("list")] == [made["id"]]
            recharge(http, ADMIN_TOKEN, account["id"], "2")
            log = run("deliveries", made["id"])
            assert log["total"] == 1 and log["items"][0]["state"] == "pending"
            assert run("resend", made["id"], str(log["items"][0]["id"]))["id"] == log["items"][0]["id"]
            assert run("rotate", made["id"])["secret"] != made["secret"]
            assert run("delete", made["id"]) == {"id": made["id"], "deleted": True}
            bad = CliRunner().invoke(app, ["webhooks", "create", "ftp://x", "-e", "recharge.created"], env=env)
            assert bad.exit_code == 1 and "url" in bad.output
    finally:
        server.stop()


def test_new_key_prints_a_usable_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from billbook.settings import Settings

    result = CliRunner().invoke(app, ["webhooks", "new-key"])
    assert result.exit_code == 0
    assert Settings(webhook_secret_key=result.stdout.strip()).webhook_secret_key == result.stdout.strip()
