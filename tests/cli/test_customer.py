"""The customer commands against a live server: billings search/export, usage, balance."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner, Result

from billbook.cli import customer as cli
from billbook.cli.customer_options import describe_client_error
from billbook.client import ServerError
from billbook.times import MS_PER_DAY, datetime_to_ms, now_ms
from tests.factories import create_account, create_charge, create_key, set_status

SEEDREAM = "bytedance/seedream-v4.5"
WAN = "alibaba/wan-2.5"
JAN1 = datetime(2025, 1, 1, tzinfo=UTC)


def make_app() -> typer.Typer:
    app = typer.Typer(name="billbook", no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None)

    @app.callback()
    def root() -> None:
        """billbook."""

    cli.register(app)
    return app


APP = make_app()


class Account:
    def __init__(self, live: Any, admin: httpx.Client) -> None:
        self.live, self.admin = live, admin
        self.account = create_account(admin, live.admin_token, name="cli", balance="100")
        self.key = create_key(admin, live.admin_token, self.account["id"], name="laptop")
        self.env = {"BILLBOOK_BASE_URL": live.base_url, "BILLBOOK_API_KEY": self.key["api_key"], "COLUMNS": "200"}

    def charge(self, **kwargs: Any) -> dict[str, Any]:
        record = create_charge(self.admin, self.live.admin_token, self.key["access_key_id"], **kwargs)["record"]
        return dict(record)

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(APP, list(args), env={**self.env, **(env or {})})


@pytest.fixture
def acct(live_server: Any) -> Any:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as admin:
        yield Account(live_server, admin)


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def one_line_error(result: Result, code: int) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


# --- help ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [["billings", "search"], ["billings", "export"], ["usage"], ["balance"]], ids=" ".join
)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(APP, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example: billbook " + " ".join(command) in " ".join(result.stdout.split())
    assert "--base-url" in result.stdout and "--api-key" in result.stdout


def test_the_root_app_registers_the_customer_commands() -> None:
    main = pytest.importorskip("billbook.cli.main")
    result = CliRunner().invoke(main.app, ["--help"])
    assert result.exit_code == 0
    for name in ("billings", "usage", "balance"):
        assert name in result.stdout


# --- balance ---------------------------------------------------------------------------------------


def test_balance(acct: Account) -> None:
    acct.charge(price="0.04")
    assert ok(acct.run("balance", "--format", "table")).strip() == "$99.96 USD"
    assert json.loads(ok(acct.run("balance", "--json")), parse_float=Decimal) == {
        "balance": Decimal("99.96"),
        "currency": "USD",
    }
    # Not a terminal: JSON by default, for scripts.
    assert json.loads(ok(acct.run("balance")))["currency"] == "USD"


def test_key_and_url_as_options(acct: Account) -> None:
    result = acct.run(
        "balance", "--json", "--api-key", acct.key["api_key"], "--base-url", acct.live.base_url,
        env={"BILLBOOK_API_KEY": "", "BILLBOOK_BASE_URL": "http://127.0.0.1:9"},
    )
    assert json.loads(ok(result))["balance"] == 100


def test_wavespeed_key_variable_is_a_fallback(acct: Account) -> None:
    env = {"BILLBOOK_API_KEY": "", "WAVESPEED_API_KEY": acct.key["api_key"]}
    assert json.loads(ok(acct.run("balance", "--json", env=env)))["balance"] == 100


# --- billings search -------------------------------------------------------------------------------


def test_search_formats(acct: Account) -> None:
    record = acct.charge(price="0.04", model_uuid=SEEDREAM)
    table = ok(acct.run("billings", "search", "--format", "table"))
    for text in ("deduct", "-$0.04", SEEDREAM, "laptop", "recharge", "+$100.00", "2 matching"):
        assert text in table
    page = json.loads(ok(acct.run("billings", "search", "--format", "json")), parse_float=Decimal)
    assert (page["page"], page["total"], page["has_more"]) == (1, 2, False)
    item = page["items"][0]
    # The server's record, with the signed amount (and the balance after it) always present.
    assert list(item)[list(item).index("price") + 1 : list(item).index("price") + 3] == ["amount", "balance_after"]
    assert item["amount"] == Decimal("-0.04") and page["items"][1]["amount"] == Decimal("100")
    added = ("amount", "balance_after")
    assert {k: v for k, v in item.items() if k not in added} == json.loads(
        json.dumps({k: v for k, v in record.items() if k not in added}), parse_float=Decimal
    )
    lines = ok(acct.run("billings", "search", "--format", "jsonl")).splitlines()
    assert [json.loads(line)["uuid"] for line in lines] == [i["uuid"] for i in page["items"]]
    rows = list(csv.DictReader(io.StringIO(ok(acct.run("billings", "search", "--format", "csv")))))
    assert rows[0]["uuid"] == record["uuid"] and rows[0]["price"] == "0.04" and rows[0]["amount"] == "-0.04"
    assert rows[1]["amount"] == "100"
    assert rows[1]["billing_type"] == "recharge"


def test_search_filters(acct: Account) -> None:
    t0 = now_ms() - 20 * MS_PER_DAY
    a = acct.charge(model_uuid=SEEDREAM, created_at=t0)
    b = acct.charge(model_uuid=WAN, created_at=t0 + MS_PER_DAY)
    c = acct.charge(model_uuid=WAN)
    set_status(acct.admin, acct.live.admin_token, c["prediction"]["uuid"], "failed")

    def found(*args: str) -> list[str]:
        out = ok(acct.run("billings", "search", "--format", "jsonl", "--page-size", "100", *args))
        return [json.loads(line)["uuid"] for line in out.splitlines()]

    assert found("--type", "deduct", "--sort", "asc") == [a["uuid"], b["uuid"], c["uuid"]]
    assert len(found("--type", "refund")) == 1
    assert found("--model", WAN, "--type", "deduct") == [c["uuid"], b["uuid"]]
    assert len(found("--model", WAN, "--model", SEEDREAM, "--type", "deduct")) == 3
    assert len(found("--prediction", a["prediction"]["uuid"], "--prediction", c["prediction"]["uuid"])) == 3
    assert len(found("--key", acct.key["access_key_id"], "--type", "deduct")) == 3
    assert found("--since", "7d", "--type", "deduct") == [c["uuid"]]
    day = datetime.fromtimestamp(t0 / 1000, tz=UTC).date().isoformat()
    assert found("--from", day, "--until", day) == [a["uuid"]]
    assert found("--from", str(t0), "--until", str(t0 + MS_PER_DAY), "--sort", "asc") == [a["uuid"], b["uuid"]]
    assert found("--type", "DEDUCT", "--sort", "ASC")[0] == a["uuid"]


def test_search_paging(acct: Account) -> None:
    for _ in range(5):
        acct.charge()
    first = json.loads(ok(acct.run("billings", "search", "--page-size", "3", "--json")))
    second = json.loads(ok(acct.run("billings", "search", "--page-size", "3", "--page", "2", "--json")))
    past = json.loads(ok(acct.run("billings", "search", "--page-size", "3", "--page", "9", "--json")))
    assert (len(first["items"]), first["has_more"], len(second["items"]), second["has_more"]) == (3, True, 3, False)
    assert (past["items"], past["total"]) == ([], 6)
    table = ok(acct.run("billings", "search", "--page-size", "3", "--format", "table"))
    assert "next: --page 2" in table


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--since", "soon"], "--since"),
        (["--since", "7d", "--from", "2026-01-01"], "either --since or --from"),
        (["--from", "yesterday"], "--from"),
        (["--from", "2026-02-01", "--until", "2026-01-01"], "after"),
    ],
)
def test_search_bad_times_are_one_line_errors(acct: Account, args: list[str], needle: str) -> None:
    assert needle in one_line_error(acct.run("billings", "search", *args), 2)


# --- billings export -------------------------------------------------------------------------------


def test_export_csv_and_jsonl(acct: Account, tmp_path: Path) -> None:
    t0 = now_ms() - 3 * MS_PER_DAY
    made = [acct.charge(created_at=t0 + i, price="0.123456") for i in range(7)]
    out = tmp_path / "deducts.csv"
    result = acct.run("billings", "export", "--out", str(out), "--type", "deduct")
    ok(result)
    assert "wrote 7 records to" in result.stderr
    with out.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["uuid"] for r in rows] == [m["uuid"] for m in made]
    assert {r["price"] for r in rows} == {"0.123456"}

    out = tmp_path / "all.jsonl"
    ok(acct.run("billings", "export", "-o", str(out), "--since", "30d"))
    lines = out.read_text().splitlines()
    assert len(lines) == 8 and json.loads(lines[0])["uuid"] == made[0]["uuid"]
    assert json.loads(lines[-1])["billing_type"] == "recharge"


def test_export_with_filters(acct: Account, tmp_path: Path) -> None:
    t0 = now_ms() - 10 * MS_PER_DAY
    a = acct.charge(model_uuid=WAN, created_at=t0)
    acct.charge(model_uuid=SEEDREAM, created_at=t0)
    out = tmp_path / "wan.jsonl"
    day = datetime.fromtimestamp(t0 / 1000, tz=UTC).date().isoformat()
    ok(acct.run("billings", "export", "--out", str(out), "--model", WAN, "--from", day, "--until", day))
    assert [json.loads(line)["uuid"] for line in out.read_text().splitlines()] == [a["uuid"]]


def test_export_refuses_an_unknown_extension(acct: Account, tmp_path: Path) -> None:
    error = one_line_error(acct.run("billings", "export", "--out", str(tmp_path / "x.xlsx")), 2)
    assert ".csv or .jsonl" in error
    assert list(tmp_path.iterdir()) == []


def test_export_into_a_missing_directory_is_one_line(acct: Account, tmp_path: Path) -> None:
    error = one_line_error(acct.run("billings", "export", "--out", str(tmp_path / "no" / "x.csv")), 1)
    assert "No such file or directory" in error


# --- usage -----------------------------------------------------------------------------------------


def _usage_history(acct: Account) -> None:
    for day, model, price, status in [
        (0, SEEDREAM, "0.04", "completed"),
        (1, WAN, "0.25", "completed"),
        (1, SEEDREAM, "0.04", "failed"),
        (40, WAN, "0.25", "completed"),
        (70, SEEDREAM, "0.05", "completed"),
    ]:
        at = datetime_to_ms(JAN1 + timedelta(days=day, hours=6))
        record = acct.charge(model_uuid=model, price=price, created_at=at)
        set_status(acct.admin, acct.live.admin_token, record["prediction"]["uuid"], status, at=at + 1)


def test_usage_table_and_chart(acct: Account) -> None:
    _usage_history(acct)
    out = ok(acct.run("usage", "--from", "2025-01-01", "--until", "2025-03-15", "--format", "table"))
    for text in ("By model", "By day", "Daily spend", SEEDREAM, WAN, "$0.59 net of refunds", "5 requests (4 completed)"):
        assert text in out
    chart = out[out.index("Daily spend") :].splitlines()
    day_lines = [line for line in chart if line.startswith("2025-")]
    assert len(day_lines) == 31 + 28 + 15  # every day of the range, idle days included
    full = next(line for line in day_lines if line.startswith("2025-01-02"))
    assert "█" * 40 in full and "$0.25" in full
    assert "█" not in next(line for line in day_lines if line.startswith("2025-01-03"))


def test_usage_json_over_a_long_range(acct: Account) -> None:
    _usage_history(acct)
    out = ok(acct.run("usage", "--from", "2025-01-01", "--until", "2025-03-15", "--json"))
    data = json.loads(out, parse_float=Decimal)
    assert data["summary"] == {"total_cost": Decimal("0.59"), "total_requests": 5, "success_requests": 4}
    assert [d["date"] for d in data["daily_usage"]] == ["2025-01-01", "2025-01-02", "2025-02-10", "2025-03-12"]
    assert {m["model_uuid"]: m["total_cost"] for m in data["per_model_usage"]} == {
        WAN: Decimal("0.5"), SEEDREAM: Decimal("0.09"),
    }
    assert data["end_time"] == "2025-03-15T23:59:59.999Z"


def test_usage_filters_by_model_and_defaults_to_30_days(acct: Account) -> None:
    _usage_history(acct)
    data = json.loads(ok(acct.run("usage", "--from", "2025-01-01", "--until", "2025-01-31", "--model", WAN, "--json")))
    assert [m["model_uuid"] for m in data["per_model_usage"]] == [WAN]
    acct.charge(price="1.5")
    recent = json.loads(ok(acct.run("usage", "--json")))
    assert recent["summary"]["total_cost"] == 1.5
    assert recent["start_time"].endswith("T00:00:00.000Z")


# --- errors ----------------------------------------------------------------------------------------


def test_a_bad_key_is_one_line_and_exit_1(acct: Account) -> None:
    error = one_line_error(acct.run("balance", env={"BILLBOOK_API_KEY": "bb_nope"}), 1)
    assert "HTTP 401" in error and "--api-key" in error


def test_a_missing_key_is_a_usage_error(acct: Account) -> None:
    error = one_line_error(acct.run("billings", "search", env={"BILLBOOK_API_KEY": "", "WAVESPEED_API_KEY": ""}), 2)
    assert "no API key" in error


def test_an_unreachable_server_is_one_line(acct: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    from billbook.client import _http

    monkeypatch.setattr(_http, "_sleep", lambda seconds: None)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    error = one_line_error(acct.run("usage", env={"BILLBOOK_BASE_URL": f"http://127.0.0.1:{port}"}), 1)
    assert f"127.0.0.1:{port}" in error and "is the server running" in error


def test_a_base_url_that_is_not_billbook(acct: Account) -> None:
    error = one_line_error(acct.run("balance", env={"BILLBOOK_BASE_URL": acct.live.base_url + "/x"}), 1)
    assert "HTTP 404" in error


def test_the_customer_commands_need_no_server_stack() -> None:
    """The SDK imports nothing from the server's stack, and the customer CLI runs without it."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in {'fastapi', 'sqlalchemy', 'starlette', 'uvicorn', 'alembic', 'asyncpg'}:\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import billbook.client\n"
        "assert 'pydantic' not in sys.modules, 'the SDK must not import pydantic'\n"
        "import typer\n"
        "from typer.testing import CliRunner\n"
        "from billbook.cli import customer\n"
        "app = typer.Typer()\n"
        "@app.callback()\n"
        "def root() -> None: pass\n"
        "customer.register(app)\n"
        "result = CliRunner().invoke(app, ['balance', '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_server_errors_carry_the_request_id_into_the_message() -> None:
    response = httpx.Response(
        500,
        headers={"X-Request-Id": "req-7"},
        request=httpx.Request("GET", "http://b/api/v3/balance"),
    )
    error = ServerError("internal server error", response=response, code=500)
    assert describe_client_error(error, "http://b") == "internal server error (HTTP 500); request id req-7"


# --- signed amounts --------------------------------------------------------------------------------


def test_adjustments_show_their_sign(acct: Account) -> None:
    admin = {"Authorization": f"Bearer {acct.live.admin_token}"}
    made = []
    for amount, ref in (("-5", "chargeback-1"), ("2.5", "goodwill-1")):
        response = acct.admin.post(
            f"/internal/v1/accounts/{acct.account['id']}/adjustments",
            json={"amount": amount, "reason": "test", "reference": ref},
            headers=admin,
        )
        assert response.status_code == 200, response.text
        made.append(response.json()["data"])
    page = json.loads(ok(acct.run("billings", "search", "--type", "adjust", "--json")), parse_float=Decimal)
    shown = {item["uuid"]: item["amount"] for item in page["items"]}
    table = ok(acct.run("billings", "search", "--type", "adjust", "--format", "table"))
    wire = acct.admin.post(
        "/api/v3/billings/search", json={"billing_type": "adjust"},
        headers={"Authorization": f"Bearer {acct.key['api_key']}"},
    ).json()["data"]["items"]
    if "amount" in wire[0]:  # a server that says which way an adjustment went: shown as it said
        assert shown == {made[0]["uuid"]: Decimal("-5"), made[1]["uuid"]: Decimal("2.5")}
        assert "-$5.00" in table and "+$2.50" in table and "Balance after" in table
    else:  # the upstream's shape: the sign is unknown, and said to be
        assert shown == {made[0]["uuid"]: None, made[1]["uuid"]: None}
        assert "±$5.00" in table and "±$2.50" in table
