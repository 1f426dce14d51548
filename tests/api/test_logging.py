"""JSON log lines with a request id (also in ``X-Request-ID``), and no secret in any line."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from billbook.logs import JSONFormatter, add_secret, redact
from tests.conftest import ADMIN_TOKEN, free_port
from tests.factories import acreate_charge, acustomer, create_account, create_key

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class Capture(logging.Handler):
    """Every record of every logger, formatted as the server writes it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JSONFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def entries(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def captured() -> Iterator[Capture]:
    handler = Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def access_lines(capture: Capture) -> list[dict]:
    return [e for e in capture.entries() if e["logger"] == "billbook.access"]


async def test_access_line_per_request_with_the_request_id(client: httpx.AsyncClient, captured: Capture) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    captured.lines.clear()
    response = await client.post("/api/v3/billings/search", json={"page": 2}, headers=who["headers"])
    rid = response.headers["x-request-id"]
    [line] = access_lines(captured)
    assert line["request_id"] == rid and len(rid) == 32
    assert line["method"] == "POST" and line["path"] == "/api/v3/billings/search" and line["status"] == 200
    assert line["level"] == "INFO" and line["message"] == "POST /api/v3/billings/search 200"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["time"].endswith("Z") and len(line["time"]) == len("2026-04-23T12:23:30.933Z")
    # Every captured line is exactly one JSON object.
    assert all(line.count("\n") == 0 for line in captured.lines)


async def test_incoming_request_id_is_kept_when_sane(client: httpx.AsyncClient, captured: Capture) -> None:
    kept = await client.get("/healthz", headers={"X-Request-ID": "req-42.abc:7"})
    assert kept.headers["x-request-id"] == "req-42.abc:7"
    replaced = await client.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert len(replaced.headers["x-request-id"]) == 32
    odd = await client.get("/healthz", headers={"X-Request-ID": 'a"b\\c d'})
    assert odd.headers["x-request-id"] != 'a"b\\c d'
    assert [e["request_id"] for e in access_lines(captured)] == [
        "req-42.abc:7", replaced.headers["x-request-id"], odd.headers["x-request-id"],
    ]


async def test_errors_carry_the_request_id_too(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/no/such/path"),
        await client.get("/api/v3/balance"),
        await client.post("/api/v3/billings/search", content=b"{nope", headers=ADMIN),
    ):
        assert response.status_code >= 400 and len(response.headers["x-request-id"]) == 32


def _secrets(who: dict) -> list[str]:
    key = who["key"]["api_key"]
    return [key, key.split("_", 2)[2], ADMIN_TOKEN]


async def test_no_secret_in_any_line(client: httpx.AsyncClient, captured: Capture) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    await acreate_charge(client, ADMIN_TOKEN, who["key"]["access_key_id"])
    await client.post("/api/v3/billings/search", json={}, headers=who["headers"])
    await client.get("/api/v3/balance", headers={"Authorization": who["headers"]["Authorization"] + "x"})
    await client.get("/internal/v1/nothing", headers=who["headers"])  # an API key on an internal route
    await client.get("/api/v3/balance", headers=ADMIN)  # the admin token on a public route
    assert access_lines(captured)
    text = "\n".join(captured.lines)
    for secret in _secrets(who):
        assert secret not in text


async def test_no_secret_in_the_log_of_a_500(app, captured: Capture, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from billbook.ledger import accounts

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://billbook.test") as client:
        who = await acustomer(client, ADMIN_TOKEN)
        key = who["key"]["api_key"]

        async def broken(*_args: object, **_kwargs: object) -> int:
            # The worst case: a failure whose text holds every secret the request had.
            raise RuntimeError(
                f"failed for {key} with Authorization: Bearer {ADMIN_TOKEN} on postgresql://billbook:hunter22@db/x"
            )

        monkeypatch.setattr(accounts, "get_balance", broken)
        response = await client.get("/api/v3/balance", headers=who["headers"])
    assert response.status_code == 500 and response.json()["message"] == "internal server error"
    rid = response.headers["x-request-id"]
    errors = [e for e in captured.entries() if e["level"] == "ERROR"]
    assert errors and errors[0]["request_id"] == rid and "RuntimeError" in errors[0]["exception"]
    [access] = [e for e in access_lines(captured) if e["request_id"] == rid]
    assert access["status"] == 500
    text = "\n".join(captured.lines)
    for secret in [*_secrets(who), "hunter22"]:
        assert secret not in text
    assert "[redacted]" in text


@pytest.mark.parametrize(
    ("line", "hidden"),
    [
        ("key bb_0123456789abcdef_s3cr3t-Value_x here", "s3cr3t-Value_x"),
        ("token bbadmin_AbC-123_xyz", "AbC-123_xyz"),
        ('{"authorization": "Bearer abc.def-ghi"}', "abc.def-ghi"),
        ("authorization: bearer lowercase-token", "lowercase-token"),
        ("connect postgresql://user:p%40ss@host:5432/db failed", "p%40ss"),
    ],
)
def test_redact(line: str, hidden: str) -> None:
    assert hidden not in redact(line) and "[redacted]" in redact(line)


def test_redact_keeps_ordinary_text() -> None:
    line = "GET /api/v3/balance 200 http://127.0.0.1:8000/x user@example.com bb_short"
    assert redact(line) == line


def test_configured_admin_token_is_redacted_whatever_its_shape() -> None:
    add_secret('plain"token\\with-quotes')
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "saw %s", ('plain"token\\with-quotes',), None)
    line = JSONFormatter().format(record)
    assert "plain" not in line and json.loads(line)["message"] == "saw [redacted]"


def test_serve_writes_json_lines_without_secrets(tmp_path: Path) -> None:
    """The real server: access lines on stdout, the rest on stderr, every one JSON, no secret."""
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "billbook", "serve", "--port", str(port), "--db", f"sqlite:///{tmp_path / 'b.db'}"],
            env={**os.environ, "BILLBOOK_ADMIN_TOKEN": ADMIN_TOKEN},
            stdout=stdout,
            stderr=stderr,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
                    time.sleep(0.1)
            with httpx.Client(base_url=base, timeout=30) as http:
                account = create_account(http, ADMIN_TOKEN)
                key = create_key(http, ADMIN_TOKEN, account["id"])["api_key"]
                ok = http.get("/api/v3/balance", headers={"Authorization": f"Bearer {key}", "X-Request-ID": "soak-1"})
                assert ok.headers["x-request-id"] == "soak-1"
                http.get("/api/v3/balance", headers={"Authorization": f"Bearer {key}zz"})
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    stdout_lines = out.read_text().splitlines()
    stderr_lines = err.read_text().splitlines()
    entries = [json.loads(line) for line in stdout_lines + stderr_lines]
    access = [e for e in entries if e["logger"] == "billbook.access"]
    assert [e["status"] for e in access if e["path"] == "/api/v3/balance"] == [200, 401]
    assert any(e["request_id"] == "soak-1" for e in access)
    assert all(e["logger"] == "billbook.access" for e in map(json.loads, stdout_lines))
    assert any(e["logger"].startswith("uvicorn") for e in map(json.loads, stderr_lines))
    text = "\n".join(stdout_lines + stderr_lines)
    for secret in (key, key.split("_", 2)[2], ADMIN_TOKEN):
        assert secret not in text
