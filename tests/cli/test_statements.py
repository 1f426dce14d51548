"""``billbook statements get|receipt`` against a live server: the terminal table, JSON, and files
chosen by extension (PDF, the statement's JSON, the month's records as CSV)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from typer.testing import CliRunner

from tests.cli.test_customer import APP, Account, ok, one_line_error
from tests.factories import recharge

MONTH = datetime.now(UTC).strftime("%Y-%m")


@pytest.fixture
def acct(live_server: Any) -> Any:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as admin:
        yield Account(live_server, admin)


@pytest.mark.parametrize("command", [["statements", "get"], ["statements", "receipt"]], ids=" ".join)
def test_help_has_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(APP, [*command, "--help"])
    assert result.exit_code == 0
    assert "Example: billbook " + " ".join(command) in " ".join(result.stdout.split())


def test_statement_to_terminal_json_and_files(acct: Account, tmp_path: Path) -> None:
    acct.charge(price="0.0425", model_uuid="vendor/model-a")
    table = ok(acct.run("statements", "get", "--month", MONTH, "--format", "table"))
    assert "Closing balance" in table and "$99.9575" in table and "vendor/model-a" in table
    figures = json.loads(ok(acct.run("statements", "get", "--month", MONTH, "--json")), parse_float=Decimal)
    assert figures["closing_balance"] == Decimal("99.9575") and figures["open"] is True

    pdf, data, rows = tmp_path / "oct.pdf", tmp_path / "oct.json", tmp_path / "oct.csv"
    ok(acct.run("statements", "get", "--month", MONTH, "--out", str(pdf)))
    text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "99.9575" in text and "0.0425" in text
    ok(acct.run("statements", "get", "--out", str(data)))
    assert json.loads(data.read_text(), parse_float=Decimal)["closing_balance"] == Decimal("99.9575")
    ok(acct.run("statements", "get", "--month", MONTH, "--out", str(rows)))
    with rows.open(newline="") as stream:
        records = list(csv.DictReader(stream))
    assert sorted(r["billing_type"] for r in records) == ["deduct", "recharge"]


def test_receipt_and_errors(acct: Account, tmp_path: Path) -> None:
    paid = recharge(acct.admin, acct.live.admin_token, acct.account["id"], "7.000001")
    out = tmp_path / "receipt.pdf"
    ok(acct.run("statements", "receipt", paid["uuid"], "--out", str(out)))
    assert "7.000001" in PdfReader(out).pages[0].extract_text()
    assert "no recharge" in one_line_error(acct.run("statements", "receipt", "0" * 32, "--out", str(out)), 1)
    assert "month" in one_line_error(acct.run("statements", "get", "--month", "2026-13"), 1)
    assert "--out" in one_line_error(acct.run("statements", "get", "--out", str(tmp_path / "x.txt")), 2)
