"""Operator commands against a real database file; every command has help with an example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from billbook.cli.main import app

runner = CliRunner()


def invoke(*args: str) -> object:
    return runner.invoke(app, list(args), catch_exceptions=False)


def is_group(command: object) -> bool:
    return hasattr(command, "commands")


def commands(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    """Every command and group below ``group``, with its path of names."""
    found: list[tuple[tuple[str, ...], object]] = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        path = (*prefix, name)
        found.append((path, command))
        if is_group(command):
            found += commands(command, path)
    return found


def test_every_command_has_help_with_an_example() -> None:
    root = typer.main.get_command(app)
    assert is_group(root)
    listed = commands(root)
    assert len(listed) >= 9
    for path, command in listed:
        if is_group(command):
            assert command.help, f"group {' '.join(path)} has no help"
            continue
        assert command.help and "Example:" in command.help, f"billbook {' '.join(path)} has no example in its help"
        result = invoke(*path, "--help")
        assert result.exit_code == 0 and "Example:" in result.output


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_accounts_keys_recharge_round_trip(db: str) -> None:
    result = invoke("accounts", "create", "--name", "Acme", "--balance", "12.50", "--db", db, "--json")
    account = json.loads(result.output)
    assert account == {"id": 1, "name": "Acme", "balance": 12.5}
    key = json.loads(invoke("keys", "create", "--account", "1", "--name", "prod", "--db", db, "--json").output)
    assert key["api_key"].startswith("bb_") and key["access_key_id"].startswith("1_")
    first = json.loads(invoke("recharge", "--account", "1", "--amount", "5", "--reference", "r1", "--db", db, "--json").output)
    again = json.loads(invoke("recharge", "--account", "1", "--amount", "5", "--reference", "r1", "--db", db, "--json").output)
    assert first["created"] and not again["created"] and again["balance"] == 17.5
    revoked = json.loads(invoke("keys", "revoke", key["access_key_id"], "--db", db, "--json").output)
    assert revoked["access_key_id"] == key["access_key_id"] and revoked["revoked_at"].endswith("Z")


def test_human_output_and_errors(db: str) -> None:
    result = invoke("accounts", "create", "--name", "Acme", "--db", db)
    assert result.exit_code == 0 and "account 1" in result.output
    bad = invoke("recharge", "--account", "1", "--amount", "lots", "--db", db)
    assert bad.exit_code == 2 and "--amount" in bad.output
    missing = invoke("keys", "create", "--account", "42", "--name", "x", "--db", db)
    assert missing.exit_code == 1 and "account 42 not found" in missing.output
    assert invoke("db", "upgrade", "--db", db).exit_code == 0


def test_bad_database_url_is_one_clear_line(db: str) -> None:
    result = runner.invoke(app, ["accounts", "create", "--name", "x", "--db", "mysql://x"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --db must start with sqlite:// or postgresql://, got 'mysql://x'"
    ]
