"""``billbook admin-tokens`` and ``billbook audit export`` on a database, as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from billbook.cli.main import app

runner = CliRunner()


def invoke(*args: str) -> object:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_tokens_are_shown_once_listed_without_secrets_revoked_and_audited(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'b.db'}"
    made = json.loads(invoke("admin-tokens", "create", "--name", "support", "--role", "read", "--db", db, "--json").output)
    assert made["name"] == "support" and made["role"] == "read" and made["token"].startswith("bbadmin_")
    listed = json.loads(invoke("admin-tokens", "list", "--db", db, "--json").output)
    assert listed["items"][0]["name"] == "support" and made["token"] not in json.dumps(listed)
    again = invoke("admin-tokens", "create", "--name", "support", "--db", db)
    assert again.exit_code != 0 and "never reused" in again.output
    invoke("accounts", "create", "--name", "Acme", "--balance", "3", "--db", db)
    invoke("admin-tokens", "revoke", "support", "--db", db)
    out = tmp_path / "audit.jsonl"
    assert "audit rows written" in invoke("audit", "export", "--out", str(out), "--db", db).output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["action"] for r in rows] == ["audit.started", "token.create", "account.create", "token.revoke"]
    assert {r["token_name"] for r in rows[1:]} == {"cli"} and made["token"] not in out.read_text()
    assert invoke("verify", "--db", db).exit_code == 0
