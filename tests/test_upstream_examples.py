"""The upstream page's examples, with only the host changed, against a real server filled by the demo.

The page's curl commands quote ``'Authorization: Bearer ${WAVESPEED_API_KEY}'`` in single quotes,
which a shell sends literally; a reader pastes their key there, and so does this test.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from billbook.cli.demo import build_history
from tests.conftest import start_server, stop_server

SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "wavespeed-check-billings.txt"
UPSTREAM = "https://api.wavespeed.ai"


def upstream_curls() -> list[str]:
    text = SPEC.read_text()
    return [m.group(0) for m in re.finditer(r"curl --location .*?--data-raw '\{.*?\}'", text, re.S)]


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    made = asyncio.run(build_history(url, days=20))
    proc, base = start_server(url)
    yield base, made.keys[0][2]
    stop_server(proc)


def check_item(item: dict) -> None:
    assert set(item) == {"uuid", "access_key_id", "access_key_name", "billing_type", "price", "amount",
                         "balance_after", "created_at", "updated_at", "order", "prediction"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", item["created_at"])
    if item["billing_type"] in ("deduct", "refund"):
        assert set(item["order"]) == {"uuid", "state", "price", "origin_price", "status", "ak_id", "price_version"}
        assert set(item["prediction"]) == {"uuid", "model_uuid", "status"}


@pytest.mark.skipif(not SPEC.exists(), reason=f"the upstream page is not at {SPEC}")
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_upstream_curl_commands(demo_server: tuple[str, str]) -> None:
    base, api_key = demo_server
    commands = upstream_curls()
    assert len(commands) == 4
    for command in commands:
        command = command.replace(UPSTREAM, base).replace("${WAVESPEED_API_KEY}", api_key)
        out = subprocess.run(["bash", "-c", command + " --silent --show-error"], capture_output=True, text=True, check=True)
        body = json.loads(out.stdout)
        assert body["code"] == 200 and body["message"] == "success", body
        assert {"page", "total", "items"} <= set(body["data"])
        for item in body["data"]["items"]:
            check_item(item)
    filtered = json.loads(subprocess.run(
        ["bash", "-c", commands[1].replace(UPSTREAM, base).replace("${WAVESPEED_API_KEY}", api_key) + " -s"],
        capture_output=True, text=True, check=True).stdout)
    assert filtered["data"]["total"] > 0 and {i["billing_type"] for i in filtered["data"]["items"]} == {"deduct"}


def test_upstream_python_example(demo_server: tuple[str, str]) -> None:
    """The page's Python example, with httpx in place of requests and the host changed."""
    base, api_key = demo_server

    def get_billings(page: int = 1, page_size: int = 10, billing_type: str | None = None) -> dict:
        payload: dict = {"page": page, "page_size": page_size}
        if billing_type:
            payload["billing_type"] = billing_type
        response = httpx.post(
            f"{base}/api/v3/billings/search",
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
            json=payload,
        )
        return response.json()["data"]

    billings = get_billings()
    assert billings["total"] > 100 and len(billings["items"]) == 10
    for item in billings["items"]:
        check_item(item)
        assert f"{item['created_at']}: ${item['price']} ({item['billing_type']})"
    assert {i["billing_type"] for i in get_billings(page_size=100, billing_type="refund")["items"]} == {"refund"}
