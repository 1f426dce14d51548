"""Operator commands never print a traceback: every failure is one line on stderr, exit 2 for a usage
or configuration error, exit 1 for a refused operation, and never a password."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import billbook
from billbook.cli.main import app

PASSWORD = "pw-Zq8-never-shown"
RATE = {"BILLBOOK_RATE_LIMIT": "600/min"}

#: The five commands, each with the arguments it needs apart from ``--db``.
COMMANDS = {
    "recharge": ["recharge", "--account", "1", "--amount", "5"],
    "keys create": ["keys", "create", "--account", "1", "--name", "prod"],
    "accounts create": ["accounts", "create", "--name", "Acme"],
    "db upgrade": ["db", "upgrade"],
    "serve": ["serve", "--port", "1"],  # never reached: each case fails before serving
}
each_command = pytest.mark.parametrize("command", COMMANDS.values(), ids=COMMANDS.keys())


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, list(args), env={"BILLBOOK_ADMIN_TOKEN": None, **(env or {})})  # type: ignore[dict-item]


def one_line(result: Result, code: int) -> str:
    """The single stderr line of a failed command (nothing on stdout, no traceback)."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == ""
    assert PASSWORD not in result.stderr
    return lines[0]


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ops.db'}"


# --- usage and configuration: exit 2 ---------------------------------------------------------------


@each_command
def test_not_a_url(command: list[str]) -> None:
    error = one_line(run(*command, "--db", "not a url"), 2)
    assert "--db is not a database URL" in error and "'not a url'" in error


@each_command
def test_an_unsupported_database_hides_its_password(command: list[str]) -> None:
    error = one_line(run(*command, "--db", f"mysql://ops:{PASSWORD}@db.example/ledger"), 2)
    assert error == "error: --db must start with sqlite:// or postgresql://, got 'mysql://ops:***@db.example/ledger'"


@each_command
def test_a_bad_rate_limit_names_the_variable(command: list[str], sqlite_db: str) -> None:
    error = one_line(run(*command, "--db", sqlite_db, env=RATE), 2)
    assert error == "error: BILLBOOK_RATE_LIMIT must look like '600/minute' (N/second|minute|hour|day), got '600/min'"


@each_command
def test_a_bad_database_url_from_the_environment_names_the_variable(command: list[str]) -> None:
    error = one_line(run(*command, env={"BILLBOOK_DATABASE_URL": f"postgresql://u:{PASSWORD}@h:port/db"}), 2)
    assert error.startswith("error: BILLBOOK_DATABASE_URL is not a database URL") and "u:***@h:port" in error


@each_command
def test_a_sqlite_file_that_cannot_be_opened(command: list[str], tmp_path: Path) -> None:
    error = one_line(run(*command, "--db", f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"), 2)
    assert "cannot use the database" in error and "unable to open database file" in error


@pytest.mark.postgres
@each_command
def test_a_postgres_database_that_does_not_exist(command: list[str], direct_pg_admin_url: str) -> None:
    # PostgreSQL's own message, so directly (a pooler words it its own way).
    name = f"billbook_missing_{uuid.uuid4().hex[:8]}"
    url = direct_pg_admin_url.rsplit("/", 1)[0].replace("postgres@", f"postgres:{PASSWORD}@") + f"/{name}"
    error = one_line(run(*command, "--db", url), 2)
    assert f'database "{name}" does not exist' in error and "postgres:***@" in error


@pytest.mark.postgres
@each_command
def test_an_unknown_postgres_role(command: list[str], direct_pg_admin_url: str) -> None:
    # PostgreSQL's own message, so directly (PgBouncer refuses a user it does not know itself).
    url = direct_pg_admin_url.replace("postgres@", f"nobody_{uuid.uuid4().hex[:6]}:{PASSWORD}@", 1)
    error = one_line(run(*command, "--db", url), 2)
    assert "role" in error and "does not exist" in error and ":***@" in error


@pytest.mark.parametrize("command", ["recharge", "keys create"])
@pytest.mark.parametrize("account", ["4294967296", "2147483648", "0", "-1", "x"])
def test_an_account_id_beyond_32_bits(command: str, account: str, database_url: str) -> None:
    args = command.split() + ["--account", account] + (["--amount", "5"] if command == "recharge" else ["--name", "k"])
    error = one_line(run(*args, "--db", database_url), 2)
    assert error.startswith("error: Invalid value for '--account': ")


def test_a_short_admin_token_refuses_to_start(sqlite_db: str) -> None:
    error = one_line(run("serve", "--db", sqlite_db, env={"BILLBOOK_ADMIN_TOKEN": "secret-123\n"}), 2)
    assert error == "error: BILLBOOK_ADMIN_TOKEN must be at least 16 characters, got 10"
    assert "secret-123" not in error


@pytest.mark.parametrize("command", [["accounts", "create"], ["keys", "create", "--account", "1"]], ids=["account", "key"])
@pytest.mark.parametrize("name", ["bad\nname", "bell\x07", "esc\x1b[31mred"])
def test_control_characters_in_names_are_refused(command: list[str], name: str, database_url: str) -> None:
    error = one_line(run(*command, "--name", name, "--db", database_url), 2)
    assert "--name" in error and "control characters" in error


def test_a_parse_error_is_one_line() -> None:
    assert "Missing option '--amount'" in one_line(run("recharge", "--account", "1"), 2)
    assert "'lots' is not an amount of USD" in one_line(run("recharge", "--account", "1", "--amount", "lots"), 2)


# --- refused operations: exit 1 --------------------------------------------------------------------


def test_a_refused_operation_exits_1(database_url: str) -> None:
    assert one_line(run("keys", "create", "--account", "42", "--name", "x", "--db", database_url), 1) == (
        "error: account 42 not found"
    )
    assert "account 42" in one_line(run("recharge", "--account", "42", "--amount", "5", "--db", database_url), 1)
    assert "not found" in one_line(run("keys", "revoke", "1_123", "--db", database_url), 1)


def test_a_value_the_ledger_refuses_is_a_usage_error(database_url: str) -> None:
    error = one_line(run("accounts", "create", "--name", "  ", "--db", database_url), 2)
    assert error == "error: name must be 1 to 200 characters"


# --- a real process: no traceback reaches the terminal ---------------------------------------------


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["serve", "--db", "not a url"], {}),
        (["serve", "--port", "1", "--db", "sqlite:////nonexistent-dir/x.db"], {}),
        (["recharge", "--account", "9999999999", "--amount", "1"], {}),
        (["db", "upgrade"], RATE),
    ],
    ids=["url", "sqlite", "account", "rate"],
)
def test_in_a_real_process(args: list[str], env: dict[str, str], tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BILLBOOK_")}
    clean["PYTHONPATH"] = str(Path(billbook.__file__).parents[1])  # this tree, from any directory
    proc = subprocess.run(
        [sys.executable, "-m", "billbook", *args], env={**clean, **env}, cwd=tmp_path,
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
