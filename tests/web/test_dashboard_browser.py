"""The billing dashboard in real headless Chromium (Debian's ``chromium``, driven by Playwright).

Every check compares what the page shows with what the public API returns for the same key. Screenshots
(desktop and phone) are saved under each test's ``tmp_path``, and also in ``$BILLBOOK_SCREENSHOTS`` when
that names a directory.

Needs ``playwright`` (the Python package only; no downloaded browsers) and a Chromium binary at
``/usr/bin/chromium`` or ``$BILLBOOK_CHROMIUM``. Without them the tests skip, except under ``CI=true``,
where they fail.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from tests import factories

CHROMIUM = os.environ.get("BILLBOOK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# A zone with a half-hour offset and no daylight saving: local-time conversion mistakes show up.
TIMEZONE = "Asia/Kolkata"
IST = timezone(timedelta(hours=5, minutes=30))
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 15_000
SCREENSHOTS = os.environ.get("BILLBOOK_SCREENSHOTS")

MODELS = [
    ("bytedance/seedream-v4.5", "0.04"),
    ("wavespeed-ai/flux-dev", "0.1"),
    ("openai/whisper-large-v3", "0.0035"),
    ("google/veo3-fast", "1.2"),
]
MODEL_TYPES = {"openai/whisper-large-v3": "audio-to-text", "google/veo3-fast": "text-to-video"}
N_CHARGES = 105  # the deduct filter spans two CSV pages of 100
HOUR_MS = 3_600_000


# ---------------------------------------------------------------------------- helpers


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright==1.65.2)"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set BILLBOOK_CHROMIUM)"
    return None


def fmt_usd(value: Any, *, sign: str = "") -> str:
    """What the page shows for an amount: "$1,234.50", "$0.0035", "−$2.00"."""
    d = Decimal(str(value))
    negative = d < 0
    whole, frac = f"{abs(d).quantize(Decimal('0.000001')):f}".split(".")
    frac = frac.rstrip("0").ljust(2, "0")
    return ("\u2212" if negative else sign) + f"${int(whole):,}.{frac}"


def csv_money(value: Any) -> str:
    """The CSV's money: the number as the server wrote it, without an exponent (as the SDK's export)."""
    return format(Decimal(value), "f")


class PublicApi:
    """The public API as the page sees it, with money parsed as Decimal."""

    def __init__(self, base_url: str, key: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def _data(self, response: httpx.Response) -> Any:
        payload = json.loads(response.text, parse_float=Decimal)
        assert response.status_code == 200, payload
        return payload["data"]

    def balance(self) -> dict:
        return self._data(self.http.get("/api/v3/balance"))

    def search(self, **body: Any) -> dict:
        return self._data(self.http.post("/api/v3/billings/search", json=body))

    def search_all(self, **body: Any) -> list[dict]:
        items: list[dict] = []
        page = 1
        while True:
            data = self.search(**body, page=page, page_size=100)
            items += data["items"]
            if not data["has_more"]:
                return items
            page += 1

    def usage_last_30_days(self) -> dict:
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start = today - timedelta(days=29)
        end = today + timedelta(days=1) - timedelta(milliseconds=1)
        iso = lambda dt: dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"  # noqa: E731
        return self._data(self.http.post("/api/v3/user/usage_stats", json={"start_time": iso(start), "end_time": iso(end)}))

    def close(self) -> None:
        self.http.close()


def local_input(ms: int) -> str:
    """Epoch ms -> the value a datetime-local input holds in the browser's zone (seconds precision)."""
    return datetime.fromtimestamp(ms / 1000, tz=IST).strftime("%Y-%m-%dT%H:%M:%S")


def local_input_to_ms(value: str, *, end: bool) -> int:
    ms = int(datetime.strptime(value, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=IST).timestamp() * 1000)
    return ms + 999 if end else ms


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def browser():
    missing = _missing_browser()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"browser tests cannot run under CI: {missing}", pytrace=False)
        pytest.skip(f"browser tests skipped: {missing}")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def demo(live_server):
    """A demo account with a month of charges over four models, some refunded, and a bystander account."""
    base, admin = live_server.base_url, live_server.admin_token
    with httpx.Client(base_url=base, timeout=30) as http:
        account = factories.create_account(http, admin, name="Demo Co", balance="250")
        key = factories.create_key(http, admin, account["id"], name="production")
        now = int(time.time() * 1000)
        failed: list[str] = []
        for i in range(N_CHARGES):
            model, price = MODELS[i % len(MODELS)] if i % 9 else MODELS[3]
            prediction = uuid.uuid4().hex
            # Spread over the last ~26 days, distinct times, newest first by index.
            created_at = now - (i * 6 + 1) * HOUR_MS - i * 137
            factories.create_charge(http, admin, key["access_key_id"], price=price, model_uuid=model,
                                    prediction_uuid=prediction, created_at=created_at,
                                    model_type=MODEL_TYPES.get(model, "text-to-image"))
            if i % 7 == 3:
                factories.set_status(http, admin, prediction, "failed", at=created_at + 95_000)
                failed.append(prediction)
            elif i % 13 != 5:
                factories.set_status(http, admin, prediction, "completed", at=created_at + 40_000)
        other = factories.create_account(http, admin, name="Bystander", balance="10")
        other_key = factories.create_key(http, admin, other["id"], name="other")
        factories.create_charge(http, admin, other_key["access_key_id"], price="3.5", model_uuid="other/model")
    api = PublicApi(base, key["api_key"])
    yield SimpleNamespace(base_url=base, key=key["api_key"], access_key_id=key["access_key_id"], api=api,
                          failed=failed, now=now)
    api.close()


class Session:
    def __init__(self, browser, base_url: str, tmp_path: Path, *, phone: bool = False, color_scheme: str = "light"):
        self.context = browser.new_context(
            base_url=base_url,
            viewport=PHONE if phone else DESKTOP,
            is_mobile=phone,
            has_touch=phone,
            device_scale_factor=2 if phone else 1,
            locale="en-US",
            timezone_id=TIMEZONE,
            color_scheme=color_scheme,
            accept_downloads=True,
        )
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        # Console errors other than HTTP failures the tests provoke (a 401, a 500): CSP refusals and the like.
        self.page.on("console", lambda msg: self.errors.append(msg.text)
                     if msg.type == "error" and not msg.text.startswith("Failed to load resource") else None)
        self.tmp_path = tmp_path

    def shot(self, name: str, *, full_page: bool = True) -> Path:
        path = self.tmp_path / f"{name}.png"
        if full_page:
            self.page.evaluate("window.scrollTo(0, 0)")
        self.page.screenshot(path=str(path), full_page=full_page)
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(SCREENSHOTS) / path.name)
        return path

    def sign_in(self, key: str) -> None:
        from playwright.sync_api import expect

        page = self.page
        page.goto("/")
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("#app-view")).to_be_visible()
        expect(page.locator("#records-body tr").first).to_be_visible()
        expect(page.locator("#stat-cost")).not_to_have_text("…")
        expect(page.locator("#balance")).not_to_have_text("…")

    def close(self) -> None:
        self.context.close()
        assert not self.errors, f"errors in the page: {self.errors}"


@pytest.fixture
def session(browser, demo, tmp_path):
    s = Session(browser, demo.base_url, tmp_path)
    yield s
    s.close()


def status_text(first: int, last: int, total: int) -> str:
    return f"{first:,}\u2013{last:,} of {total:,}"


def row_uuids(page) -> list[str]:
    return page.locator("#records-body tr").evaluate_all("rows => rows.map(r => r.dataset.uuid)")


# ---------------------------------------------------------------------------- tests


def test_wrong_key_shows_an_error_and_keeps_nothing(session, demo):
    from playwright.sync_api import expect

    page = session.page
    page.goto("/")
    key_input = page.get_by_label("API key")
    expect(key_input).to_be_focused()
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_have_text("Enter your API key.")

    key_input.fill("bb_this_is_not_a_key_0000000000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_contain_text("API key was not accepted")
    expect(key_input).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#app-view")).to_be_hidden()
    assert page.evaluate("sessionStorage.length + localStorage.length") == 0
    assert "bb_this" not in page.url
    session.shot("wrong-key-desktop")


def test_a_key_revoked_while_signed_in_signs_the_tab_out(session, demo, live_server):
    from playwright.sync_api import expect

    with httpx.Client(base_url=demo.base_url, timeout=30) as http:
        account = factories.create_account(http, live_server.admin_token, name="Short-lived", balance="5")
        key = factories.create_key(http, live_server.admin_token, account["id"], name="temp")
        session.sign_in(key["api_key"])
        # A new account: no spend yet, one opening recharge.
        expect(session.page.locator("#usage-state")).to_contain_text("No spend in the last 30 days")
        expect(session.page.get_by_test_id("page-status")).to_have_text(status_text(1, 1, 1))
        session.shot("new-account-desktop")
        response = http.delete(f"/internal/v1/keys/{key['access_key_id']}",
                               headers={"Authorization": f"Bearer {live_server.admin_token}"})
        assert response.status_code == 200, response.text
    session.page.get_by_role("button", name="Refresh").click()
    expect(session.page.locator("#signin-error")).to_contain_text("no longer accepted")
    assert session.page.evaluate("sessionStorage.length") == 0


def test_balance_totals_and_models_equal_the_api(session, demo):
    from playwright.sync_api import expect

    page = session.page
    session.sign_in(demo.key)

    # The key lives in this tab's sessionStorage only: never the URL, a cookie or localStorage.
    assert demo.key not in page.url
    assert session.context.cookies() == []
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("sessionStorage.getItem('billbook.apiKey')") == demo.key

    balance = demo.api.balance()
    expect(page.get_by_test_id("balance")).to_have_text(fmt_usd(balance["balance"]))

    usage = demo.api.usage_last_30_days()
    summary = usage["summary"]
    # Independent of the server's arithmetic: every charge is in the window; refunded ones do not count.
    expected_cost = sum(
        (Decimal(MODELS[i % 4][1] if i % 9 else MODELS[3][1]) for i in range(N_CHARGES) if i % 7 != 3), Decimal(0))
    assert summary["total_cost"] == expected_cost
    assert summary["total_requests"] == N_CHARGES
    expect(page.get_by_test_id("stat-cost")).to_have_text(fmt_usd(summary["total_cost"]))
    expect(page.get_by_test_id("stat-requests")).to_have_text(f"{summary['total_requests']:,}")
    expect(page.get_by_test_id("stat-success")).to_have_text(f"{summary['success_requests']:,}")
    expect(page.get_by_test_id("stat-models")).to_have_text(str(len(usage["per_model_usage"])))

    rows = page.locator("#models-table tbody tr")
    expect(rows).to_have_count(len(usage["per_model_usage"]))
    for m in usage["per_model_usage"]:
        row = rows.filter(has_text=m["model_uuid"])
        cells = row.locator("td")
        expect(cells.nth(0)).to_have_text(f"{m['total_count']:,}")
        expect(cells.nth(1)).to_have_text(fmt_usd(m["total_cost"]))
        expect(cells.nth(2)).to_have_text(fmt_usd(m["unit_price"]))
    # The daily table behind the chart adds up to the same total.
    daily_total = sum((Decimal(d["amount"]) for d in usage["daily_usage"]), Decimal(0))
    assert daily_total == summary["total_cost"]
    expect(page.locator("#daily-table tbody tr")).to_have_count(30)

    first = demo.api.search(page=1, page_size=20)
    expect(page.get_by_test_id("page-status")).to_have_text(status_text(1, 20, first["total"]))
    assert row_uuids(page) == [item["uuid"] for item in first["items"]]

    # Every form control has a label.
    unlabeled = page.evaluate(
        """() => [...document.querySelectorAll('input, select')]
             .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id)""")
    assert unlabeled == []

    session.shot("dashboard-desktop")
    # Hover a bar: the tooltip shows the day's values.
    chart = page.locator("#chart svg")
    box = chart.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.6)
    tooltip = page.locator("#chart-tooltip")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("$")
    session.shot("chart-hover-desktop", full_page=False)
    # Keyboard: the chart takes focus and arrow keys walk the days.
    page.mouse.move(0, 0)
    chart.focus()
    expect(tooltip).to_be_visible()
    last_day = tooltip.locator(".tt-title").inner_text()
    page.keyboard.press("ArrowLeft")
    expect(tooltip.locator(".tt-title")).not_to_have_text(last_day)

    # Reloading keeps the tab signed in; signing out forgets the key.
    page.reload()
    expect(page.get_by_test_id("balance")).to_have_text(fmt_usd(balance["balance"]))
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_filter_paginate_sort_and_open_a_record(session, demo):
    from playwright.sync_api import expect

    page = session.page
    session.sign_in(demo.key)
    status = page.get_by_test_id("page-status")

    # Type and a date-time range, entered in the browser's zone (UTC+05:30).
    start_value = local_input(demo.now - 20 * 24 * HOUR_MS)
    end_value = local_input(demo.now - 2 * 24 * HOUR_MS)
    page.get_by_label("Type", exact=True).select_option("deduct")
    page.get_by_label("From", exact=True).fill(start_value)
    page.get_by_label("To", exact=True).fill(end_value)
    page.get_by_role("button", name="Apply filters").click()
    query = {"billing_type": "deduct", "start_time": local_input_to_ms(start_value, end=False),
             "end_time": local_input_to_ms(end_value, end=True)}
    first = demo.api.search(**query, page=1, page_size=20)
    total = first["total"]
    assert 40 < total < N_CHARGES
    expect(status).to_have_text(status_text(1, 20, total))
    assert row_uuids(page) == [item["uuid"] for item in first["items"]]

    # To the last page, and back to the first.
    last_page = -(-total // 20)
    page.get_by_role("button", name="Last page").click()
    expect(status).to_have_text(status_text((last_page - 1) * 20 + 1, total, total))
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    last = demo.api.search(**query, page=last_page, page_size=20)
    assert row_uuids(page) == [item["uuid"] for item in last["items"]]
    page.get_by_role("button", name="Previous page").click()
    expect(status).to_have_text(status_text((last_page - 2) * 20 + 1, (last_page - 1) * 20, total))
    page.get_by_role("button", name="First page").click()
    expect(status).to_have_text(status_text(1, 20, total))

    # Sort toggle and page size.
    page.get_by_role("button", name="Time newest first").click()
    expect(page.locator("#th-time")).to_have_attribute("aria-sort", "ascending")
    oldest = demo.api.search(**query, sort="created_at ASC", page=1, page_size=10)
    page.get_by_label("Rows per page").select_option("10")
    expect(status).to_have_text(status_text(1, 10, total))
    assert row_uuids(page) == [item["uuid"] for item in oldest["items"]]
    session.shot("filtered-desktop")

    # A record's details, opened and closed with the keyboard.
    item = oldest["items"][0]
    details = page.locator(f'#records-body tr[data-uuid="{item["uuid"]}"]').get_by_role("button", name="Details")
    details.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    for text in (item["uuid"], item["order"]["uuid"], item["order"]["state"], item["prediction"]["uuid"],
                 item["prediction"]["model_uuid"], item["prediction"]["status"], item["access_key_id"],
                 fmt_usd(item["price"]), item["created_at"]):
        expect(dialog).to_contain_text(text)
    session.shot("record-details-desktop", full_page=False)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(details).to_be_focused()

    # Model.
    page.get_by_role("button", name="Clear", exact=True).click()
    expect(status).to_have_text(status_text(1, 10, demo.api.search(page=1, page_size=10)["total"]))
    page.get_by_label("Model", exact=True).fill("google/veo3-fast")
    page.get_by_role("button", name="Apply filters").click()
    veo = demo.api.search(model_uuid="google/veo3-fast", sort="created_at ASC", page=1, page_size=10)
    expect(status).to_have_text(status_text(1, 10, veo["total"]))
    assert row_uuids(page) == [item["uuid"] for item in veo["items"]]

    # Prediction id: a refunded prediction has its deduct and its refund.
    page.get_by_role("button", name="Clear", exact=True).click()
    refunded = demo.failed[0]
    page.get_by_label("Prediction ID").fill(refunded)
    page.keyboard.press("Enter")
    expect(status).to_have_text(status_text(1, 2, 2))
    types = page.locator("#records-body .badge").all_inner_texts()
    assert sorted(types) == ["Deduct", "Refund"]

    # Empty: nothing matches.
    page.get_by_label("Prediction ID").fill("0" * 32)
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#records-state")).to_contain_text("No billing records match these filters.")
    expect(status).to_have_text("0 records")

    # Error: the server's message is shown, and "Try again" recovers.
    page.route("**/api/v3/billings/search", lambda route: route.fulfill(
        status=500, content_type="application/json",
        body='{"code": 500, "message": "the database is unavailable", "data": null}'))
    page.get_by_role("button", name="Clear", exact=True).click()
    expect(page.locator("#records-state")).to_contain_text("Could not load billing records: the database is unavailable")
    session.shot("error-state-desktop", full_page=False)
    page.unroute("**/api/v3/billings/search")
    page.get_by_role("button", name="Try again").click()
    expect(page.locator("#records-body tr").first).to_be_visible()

    # A "To" before "From" is refused before any request.
    page.get_by_label("From", exact=True).fill(end_value)
    page.get_by_label("To", exact=True).fill(start_value)
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#filter-error")).to_have_text("“To” must be after “From”.")


def test_csv_download_equals_the_api(session, demo):
    from playwright.sync_api import expect

    page = session.page
    session.sign_in(demo.key)
    page.get_by_label("Type", exact=True).select_option("deduct")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.get_by_test_id("page-status")).to_have_text(status_text(1, 20, N_CHARGES))

    searches: list[dict] = []
    page.on("request", lambda r: searches.append(json.loads(r.post_data or "{}"))
            if r.url.endswith("/api/v3/billings/search") else None)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("billbook-billings-")
    assert download.suggested_filename.endswith(".csv")
    path = session.tmp_path / download.suggested_filename
    download.save_as(path)
    expect(page.locator("#csv-status")).to_contain_text(f"Downloaded {N_CHARGES:,} records")
    # Paged through the API at 100 a call, with the same filter.
    pages = [s for s in searches if s.get("page_size") == 100]
    assert [s["page"] for s in pages] == [1, 2]
    assert all(s.get("billing_type") == "deduct" for s in searches)

    expected = demo.api.search_all(billing_type="deduct")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(expected) == N_CHARGES
    for row, item in zip(rows, expected, strict=True):
        assert row["uuid"] == item["uuid"]
        assert row["created_at"] == item["created_at"]
        assert row["updated_at"] == item["updated_at"]
        assert row["billing_type"] == "deduct"
        assert Decimal(row["price"]) == item["price"]
        assert row["price"] == csv_money(item["price"])
        assert row["access_key_id"] == item["access_key_id"] == demo.access_key_id
        assert row["access_key_name"] == item["access_key_name"]
        assert row["model_uuid"] == item["prediction"]["model_uuid"]
        assert row["prediction_uuid"] == item["prediction"]["uuid"]
        assert row["prediction_status"] == item["prediction"]["status"]
        assert row["order_uuid"] == item["order"]["uuid"]
        assert row["order_state"] == item["order"]["state"]
        assert row["order_price"] == csv_money(item["order"]["price"])
        assert row["order_origin_price"] == csv_money(item["order"]["origin_price"])
        assert row["order_ak_id"] == str(item["order"]["ak_id"])
        # A deduct takes its price off the balance, whether the server sends the amount or not.
        assert Decimal(row["amount"]) == -item["price"]
        expected_after = item.get("balance_after")
        assert row["balance_after"] == ("" if expected_after is None else csv_money(expected_after))
    # Sum in the CSV equals the API's, to the micro-dollar.
    assert sum(Decimal(r["price"]) for r in rows) == sum(i["price"] for i in expected)
    raw = path.read_bytes()
    assert b"\r\n" in raw and not raw.startswith(b"\xef\xbb\xbf")
    raw.decode("utf-8")  # valid UTF-8


def test_phone_layout(browser, demo, tmp_path):
    from playwright.sync_api import expect

    s = Session(browser, demo.base_url, tmp_path, phone=True)
    try:
        page = s.page
        page.goto("/")
        s.shot("signin-phone")
        s.sign_in(demo.key)
        # Nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        expect(page.get_by_test_id("balance")).to_have_text(fmt_usd(demo.api.balance()["balance"]))
        s.shot("dashboard-phone-top", full_page=False)
        page.locator("#records-title").scroll_into_view_if_needed()
        s.shot("records-phone", full_page=False)
        page.locator("#page-status").scroll_into_view_if_needed()
        s.shot("pager-phone", full_page=False)

        # Filters fold away on a phone; the toggle says whether they are open.
        toggle = page.locator("#filters-toggle")
        expect(page.get_by_label("Type", exact=True)).to_be_hidden()
        toggle.tap()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        page.get_by_label("Type", exact=True).select_option("refund")
        page.get_by_role("button", name="Apply filters").tap()
        refunds = demo.api.search(billing_type="refund", page=1, page_size=20)["total"]
        expect(page.get_by_test_id("page-status")).to_have_text(status_text(1, refunds, refunds))
        expect(toggle).to_have_accessible_name("Filters (1 active)")
        page.get_by_role("button", name="Clear", exact=True).tap()
        total = demo.api.search(page=1, page_size=20)["total"]
        page.get_by_role("button", name="Next page").tap()
        expect(page.get_by_test_id("page-status")).to_have_text(status_text(21, 40, total))
        page.locator("#records-body tr").first.get_by_role("button", name="Details").tap()
        expect(page.get_by_role("dialog")).to_be_visible()
        s.shot("record-details-phone", full_page=False)
    finally:
        s.close()


def test_money_is_exact_in_the_browser(session):
    """The page's money helpers: no binary-float artefacts, 2 to 6 decimals, true minus sign."""
    page = session.page
    page.goto("/")
    results = page.evaluate(
        """async () => {
            const m = await import("/static/money.js");
            const cases = [0.04, 0.0035, 100, 1234567.891234, 123456789.123456, 0.000001, 2.5, 1e21, -2, 0];
            const sum = m.toMicros(0.1) + m.toMicros(0.2);
            return {
                formatted: cases.map((v) => m.formatUSD(m.toMicros(v))),
                sum: m.formatUSD(sum),
                csv: [m.microsToDecimal(m.toMicros(0.04)), m.microsToDecimal(m.toMicros(1234.5))],
                signed: m.formatUSD(m.toMicros(0.25), { sign: true }),
            };
        }""")
    assert results["formatted"] == [
        "$0.04", "$0.0035", "$100.00", "$1,234,567.891234", "$123,456,789.123456", "$0.000001", "$2.50",
        "$1,000,000,000,000,000,000,000.00", "\u2212$2.00", "$0.00",
    ]
    assert results["sum"] == "$0.30"
    assert results["csv"] == ["0.04", "1234.50"]
    assert results["signed"] == "+$0.25"


def test_money_from_the_wire_stays_exact(session):
    """Numbers a JavaScript number cannot hold keep their text; the CSV writes money as the server did."""
    page = session.page
    page.goto("/")
    results = page.evaluate(
        """async () => {
            const m = await import("/static/money.js");
            const { parseExact } = await import("/static/api.js");
            const wire = parseExact('{"balance": 8999999999.999999, "price": 0.10, "total": 105, "amount": -5, "big": 9007199254740993}');
            return {
                balance: m.formatUSD(m.toMicros(wire.balance)),
                price: m.decimalText(wire.price),
                total: [typeof wire.total, wire.total],
                amount: [typeof wire.amount, m.decimalText(wire.amount)],
                big: wire.big,
                texts: [0.04, 100, 1e21, 1e-7, "1.50e+1", "2E-3", "-0.5"].map(m.decimalText),
                micros: ["1.50e+1", "2E-3"].map((v) => String(m.toMicros(v))),
            };
        }""")
    assert results["balance"] == "$8,999,999,999.999999"
    assert results["price"] == "0.10"
    assert results["total"] == ["number", 105]
    assert results["amount"] == ["number", "-5"]
    assert results["big"] == "9007199254740993"
    assert results["texts"] == ["0.04", "100", "1000000000000000000000", "0.0000001", "15.0", "0.002", "-0.5"]
    assert results["micros"] == ["15000000", "2000"]


# ---------------------------------------------------------------------------- signed amounts


# What the "Signed Co" account's ledger holds, in write order: (type, signed amount, balance after).
SIGNED_LEDGER = [
    ("recharge", Decimal("20"), Decimal("20")),
    ("deduct", Decimal("-0.04"), Decimal("19.96")),
    ("deduct", Decimal("-1.2"), Decimal("18.76")),
    ("refund", Decimal("1.2"), Decimal("19.96")),
    ("adjust", Decimal("-5"), Decimal("14.96")),
    ("adjust", Decimal("3"), Decimal("17.96")),
    ("recharge", Decimal("2.5"), Decimal("20.46")),
]


@pytest.fixture(scope="module")
def signed(live_server):
    """An account whose records move the balance both ways, including a negative and a positive adjustment.

    Every record has a distinct (type, price), so each can be found again without its sign. The key's
    name starts with "=", which a spreadsheet would run as a formula.
    """
    base, admin = live_server.base_url, live_server.admin_token
    headers = {"Authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=base, timeout=30) as http:
        account = factories.create_account(http, admin, name="Signed Co", balance="20")
        key = factories.create_key(http, admin, account["id"], name="=ops budget")
        factories.create_charge(http, admin, key["access_key_id"], price="0.04")
        failed = uuid.uuid4().hex
        factories.create_charge(http, admin, key["access_key_id"], price="1.2", model_uuid="google/veo3-fast",
                                prediction_uuid=failed)
        factories.set_status(http, admin, failed, "failed")
        for amount in ("-5", "3"):
            response = http.post(f"/internal/v1/accounts/{account['id']}/adjustments", headers=headers,
                                 json={"amount": amount, "reason": "goodwill", "reference": uuid.uuid4().hex})
            assert response.status_code == 200, response.text
        factories.recharge(http, admin, account["id"], "2.5")
    api = PublicApi(base, key["api_key"])
    yield SimpleNamespace(base_url=base, key=key["api_key"], api=api)
    api.close()


def expected_by_uuid(items: list[dict]) -> dict[str, tuple[Decimal, Decimal]]:
    """Record uuid -> (signed amount, balance after), from SIGNED_LEDGER, matched on type and price."""
    ledger = {(t, abs(a)): (a, after) for t, a, after in SIGNED_LEDGER}
    assert len(items) == len(ledger) == len(SIGNED_LEDGER)
    return {i["uuid"]: ledger[(i["billing_type"], Decimal(i["price"]))] for i in items}


def test_records_show_signed_amounts_and_the_balance_after_each(browser, signed, tmp_path):
    from playwright.sync_api import expect

    items = signed.api.search_all()
    expected = expected_by_uuid(items)
    assert Decimal(signed.api.balance()["balance"]) == SIGNED_LEDGER[-1][2]
    minus = next(u for u, (a, _) in expected.items() if a == Decimal("-5"))
    want_cells = {u: [fmt_usd(amount, sign="+"), fmt_usd(after)] for u, (amount, after) in expected.items()}
    seen = {}
    for phone in (False, True):
        s = Session(browser, signed.base_url, tmp_path, phone=phone)
        try:
            page = s.page
            s.sign_in(signed.key)
            expect(page.locator("#records-body tr")).to_have_count(len(SIGNED_LEDGER))
            suffix = "phone" if phone else "desktop"
            s.shot(f"signed-dashboard-{suffix}")
            page.locator("#records-body").scroll_into_view_if_needed()
            s.shot(f"signed-records-{suffix}", full_page=False)
            assert page.evaluate("document.documentElement.scrollWidth") <= (PHONE if phone else DESKTOP)["width"]
            cells = page.locator("#records-body tr").evaluate_all(
                """rows => Object.fromEntries(rows.map(r => [r.dataset.uuid, [
                     r.querySelector('[data-testid=amount]').textContent,
                     r.querySelector('[data-testid=balance-after]').textContent]]))""")
            page.locator(f'#records-body tr[data-uuid="{minus}"]').get_by_role("button", name="Details").click()
            expect(page.get_by_role("dialog")).to_be_visible()
            s.shot(f"signed-details-{suffix}", full_page=False)
            details = page.locator("#record-dialog-body").inner_text().replace("\t", " ")
            title = page.locator("#record-dialog-title").inner_text()
            page.keyboard.press("Escape")
        finally:
            s.close()
        seen[suffix] = (cells, title, details)
    for cells, title, details in seen.values():
        # Every record's signed amount and the balance right after it, deduct, refund, recharge and
        # both adjustments alike; then the negative adjustment's details.
        assert cells == want_cells
        assert title == "Adjust · \u2212$5.00"
        assert "Amount\n\u2212$5.00" in details and "Balance after\n$14.96" in details


def download_csv(session) -> bytes:
    with session.page.expect_download() as info:
        session.page.get_by_role("button", name="Download CSV").click()
    path = session.tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    return path.read_bytes()


def test_csv_has_signed_amounts_and_balances(session, signed):
    session.sign_in(signed.key)
    raw = download_csv(session)
    rows = list(csv.DictReader(raw.decode("utf-8").splitlines()))
    expected = expected_by_uuid(signed.api.search_all())
    money = lambda text: Decimal(text) if text else None  # noqa: E731
    assert {r["uuid"]: (money(r["amount"]), money(r["balance_after"])) for r in rows} == expected
    # The key's name would run as a formula in a spreadsheet: it is written as text.
    assert {r["access_key_name"] for r in rows if r["billing_type"] == "deduct"} == {"'=ops budget"}


def test_csv_columns_are_the_exports(session):
    """The dashboard's CSV columns are the command line export's, in the same order."""
    from billbook.client import CSV_COLUMNS

    session.page.goto("/")
    columns = session.page.evaluate('async () => (await import("/static/csv.js")).CSV_COLUMNS')
    assert columns == list(CSV_COLUMNS)


def test_csv_rows_equal_the_sdk_export(session, signed):
    """Row for row, byte for byte, the dashboard's CSV is the SDK's export (line ends aside: CRLF here)."""
    import io

    from billbook.client import Client

    session.sign_in(signed.key)
    lines = download_csv(session).decode("utf-8").split("\r\n")
    assert lines.pop() == ""
    out = io.StringIO()
    with Client(api_key=signed.key, base_url=signed.base_url) as client:
        client.billings.export(out, format="csv")
    sdk_lines = out.getvalue().split("\n")
    assert sdk_lines.pop() == ""
    assert lines[0] == sdk_lines[0]
    by_uuid = lambda rows: {row.split(",", 1)[0]: row for row in rows}  # noqa: E731
    assert by_uuid(lines[1:]) == by_uuid(sdk_lines[1:])
    assert len(lines) == len(sdk_lines) == len(SIGNED_LEDGER) + 1


def test_usage_shaping_without_a_page(session):
    """usage-data.js turns a usage_stats response into the chart's series and days and the table's rows."""
    session.page.goto("/")
    result = session.page.evaluate(
        """async () => {
            const u = await import("/static/usage-data.js");
            const models = ["m/a", "m/b", "m/c", "m/d", "m/e", "m/f", "m/g", "m/h"];
            const firstDay = [0.1, 0.11, 0.12, 0.13, 0.14, 0.15, 0.16, 0.17];
            const modelTotals = [0.2, 0.19, 0.18, 0.17, 0.16, 0.15, 0.14, 0.1];
            const day = (date, amounts) => ({
                date, count: amounts.length, amount: 0,
                models: amounts.map(([m, a]) => ({ model_uuid: m, amount: a, count: 1 })),
            });
            const data = {
                summary: { total_cost: 0.3, total_requests: 12, success_requests: 9 },
                per_model_usage: models.map((m, i) => ({
                    model_uuid: m, model_type: "t", unit_price: 0.1, total_cost: modelTotals[i],
                    total_count: 1, last_used_date: "2026-04-02" })),
                daily_usage: [
                    { ...day("2026-04-01", models.map((m, i) => [m, firstDay[i]])), amount: 0.3 },
                    { ...day("2026-04-03", [["m/h", 0.2], ["m/a", 0.1]]), amount: 0.3 },
                ],
            };
            const dates = ["2026-04-01", "2026-04-02", "2026-04-03"];
            const v = u.shapeUsage(data, dates);
            const seven = { daily_usage: [day("2026-04-01", models.slice(0, 7).map((m) => [m, 0.1]))] };
            const range = u.usageRange(new Date("2026-04-30T23:59:59Z"));
            return {
                series: v.series.map((s) => [s.key, s.label, s.cls]),
                days: v.days.map((d) => [d.date, String(d.micros), d.count,
                    [...d.parts].map(([k, p]) => [k, String(p.micros), p.count])]),
                rows: v.rows.map((r) => [r.model, String(r.micros), String(r.unit)]),
                stats: { ...v.stats, costMicros: String(v.stats.costMicros) },
                total: String(v.totalMicros), empty: v.empty,
                sevenSeries: u.chartSeries(seven).map((s) => s.key),
                emptyView: u.shapeUsage({}, dates).empty,
                range: [range.start, range.end, range.dates.length, range.dates[0], range.dates[29]],
            };
        }""")
    # The six models with most spend over the days have their own series; the other two share one.
    assert result["series"] == [
        ["m/h", "m/h", "s0"], ["m/a", "m/a", "s1"], ["m/g", "m/g", "s2"], ["m/f", "m/f", "s3"],
        ["m/e", "m/e", "s4"], ["m/d", "m/d", "s5"], ["__other__", "Other models (2)", "s-other"],
    ]
    # Seven models: no "Other models" series for a single model.
    assert result["sevenSeries"] == ["m/a", "m/b", "m/c", "m/d", "m/e", "m/f", "m/g"]
    # Every day of the range, zeros where the API has none; exact sums (0.11 + 0.12 is 0.23, no float error).
    first, missing, third = result["days"]
    assert first[:3] == ["2026-04-01", "300000", 8]
    assert dict((k, (m, c)) for k, m, c in first[3])["__other__"] == ("230000", 2)
    assert missing == ["2026-04-02", "0", 0, []]
    assert third[3] == [["m/h", "200000", 1], ["m/a", "100000", 1]]
    # Table rows, most spend first; the summary with requests no longer charged.
    assert [r[0] for r in result["rows"]] == ["m/a", "m/b", "m/c", "m/d", "m/e", "m/f", "m/g", "m/h"]
    assert result["rows"][0] == ["m/a", "200000", "100000"]
    assert result["stats"] == {"costMicros": "300000", "requests": 12, "success": 9, "models": 8, "refunded": 4}
    assert result["total"] == "600000" and result["empty"] is False and result["emptyView"] is True
    assert result["range"] == ["2026-04-01T00:00:00.000Z", "2026-04-30T23:59:59.999Z", 30, "2026-04-01", "2026-04-30"]


# ---------------------------------------------------------------------------- prices


VIDEO_FORMULA = '{"total_price": base_price * duration / 5}'


@pytest.fixture(scope="module")
def priced(live_server):
    """An account with a discount on one flat-priced model, and a formula-priced video model."""
    base, admin = live_server.base_url, live_server.admin_token
    prefix = f"w{uuid.uuid4().hex[:6]}"
    headers = {"Authorization": f"Bearer {admin}"}
    models = {
        f"{prefix}/transcribe": {"base_price": "0.0035", "name": "Transcribe", "type": "audio-to-text", "sort_order": 3},
        f"{prefix}/video": {"base_price": "0.3", "name": "Video", "type": "text-to-video", "sort_order": 1,
                            "description": "Video from a text prompt", "formula": VIDEO_FORMULA},
        f"{prefix}/image": {"base_price": "0.04", "name": "Image", "type": "text-to-image", "sort_order": 2},
    }
    with httpx.Client(base_url=base, timeout=30) as http:
        for model_id, body in models.items():
            assert http.put(f"/internal/v1/models/{model_id}", json=body, headers=headers).status_code == 200
        account = factories.create_account(http, admin, name="Priced Co", balance="20")
        key = factories.create_key(http, admin, account["id"], name="production")
        discount = {"model_id": f"{prefix}/transcribe", "rate_percent": 12.5}
        assert http.put(f"/internal/v1/accounts/{account['id']}/discounts", json=discount, headers=headers).status_code == 200
        factories.create_charge(http, admin, key["access_key_id"], price="0.04", model_uuid=f"{prefix}/image")
    api = PublicApi(base, key["api_key"])
    yield SimpleNamespace(base_url=base, key=key["api_key"], api=api, prefix=prefix)
    api.close()


def expected_prices(api: PublicApi) -> list[dict]:
    """Every catalog model with the API's quote for it (no inputs), in catalog order."""
    models = api._data(api.http.get("/api/v3/models"))
    rows = []
    for m in sorted(models, key=lambda m: (m["sort_order"], m["model_id"])):
        quote = api._data(api.http.post("/api/v3/model/price", json={"model_id": m["model_id"]}))
        rows.append({**m, **{f"quote_{k}": v for k, v in quote.items()}})
    return rows


def open_prices(page) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name="Prices").click()
    expect(page.get_by_role("link", name="Prices")).to_have_attribute("aria-current", "page")
    expect(page.locator("#prices-table tbody tr").first).to_be_visible()
    expect(page.locator("#records-table")).to_be_hidden()


def test_prices_equal_the_api(browser, priced, tmp_path):
    from playwright.sync_api import expect

    session = Session(browser, priced.base_url, tmp_path)
    page = session.page
    try:
        session.sign_in(priced.key)
        open_prices(page)
        expected = expected_prices(priced.api)
        mine = {m["model_id"]: m for m in expected if m["model_id"].startswith(priced.prefix)}
        assert [m["model_id"] for m in expected if m["model_id"] in mine] == [
            f"{priced.prefix}/video", f"{priced.prefix}/image", f"{priced.prefix}/transcribe"]
        # The discount, rounded half up to the micro-dollar by the server: 0.0035 less 12.5 %.
        assert mine[f"{priced.prefix}/transcribe"]["quote_discounted_price"] == Decimal("0.003063")
        assert mine[f"{priced.prefix}/video"]["quote_price"] == Decimal("0.3")

        rows = page.locator("#prices-table tbody tr")
        expect(rows).to_have_count(len(expected))
        assert rows.evaluate_all("rows => rows.map(r => r.dataset.model)") == [m["model_id"] for m in expected]
        expect(page.get_by_test_id("prices-count")).to_have_text(f"{len(expected)} models")
        for m in expected:
            row = page.locator(f'#prices-table tbody tr[data-model="{m["model_id"]}"]')
            expect(row.locator(".list-price")).to_have_text(fmt_usd(m["quote_price"]))
            expect(row.locator(".you-pay")).to_have_text(fmt_usd(m["quote_discounted_price"]))
            rate = Decimal(m["quote_discount_rate"])
            expect(row.locator('[data-field="discount"]')).to_have_text(
                f"{format(rate.normalize(), 'f')}% off" if rate else "None")
            expect(row.locator("details.formula")).to_have_count(1 if m["formula"] else 0)
        video = page.locator(f'#prices-table tbody tr[data-model="{priced.prefix}/video"]')
        expect(video.locator(".price-note").first).to_have_text("base price")
        video.get_by_text("Depends on inputs").click()
        expect(video.locator(".formula-text")).to_have_text(VIDEO_FORMULA)
        expect(video).to_contain_text("Video from a text prompt")
        discounted = page.locator(f'#prices-table tbody tr[data-model="{priced.prefix}/transcribe"]')
        expect(discounted.locator(".discount")).to_have_text("12.5% off")
        session.shot("prices-desktop")

        # The address names the view: a reload stays on it, and the other tab goes back.
        page.reload()
        expect(page.locator("#prices-table tbody tr").first).to_be_visible()
        page.get_by_role("link", name="Usage & records").click()
        expect(page.locator("#records-table")).to_be_visible()
        expect(page.locator("#prices-view")).to_be_hidden()
    finally:
        session.close()


def test_prices_on_a_phone(browser, priced, tmp_path):
    from playwright.sync_api import expect

    session = Session(browser, priced.base_url, tmp_path, phone=True)
    page = session.page
    try:
        session.sign_in(priced.key)
        open_prices(page)
        video = page.locator(f'#prices-table tbody tr[data-model="{priced.prefix}/video"]')
        video.get_by_text("Depends on inputs").click()
        expect(video.locator(".formula-text")).to_be_visible()
        # Nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        session.shot("prices-phone")
    finally:
        session.close()


def test_prices_in_the_dark(browser, priced, tmp_path):
    from playwright.sync_api import expect

    session = Session(browser, priced.base_url, tmp_path, color_scheme="dark")
    page = session.page
    try:
        session.sign_in(priced.key)
        open_prices(page)
        discounted = page.locator(f'#prices-table tbody tr[data-model="{priced.prefix}/transcribe"]')
        expect(discounted.locator(".discount")).to_have_text("12.5% off")
        page.locator(f'#prices-table tbody tr[data-model="{priced.prefix}/video"]').get_by_text("Depends on inputs").click()
        session.shot("prices-dark-desktop")
    finally:
        session.close()


def test_prices_loading_empty_and_error_states(browser, priced, tmp_path):
    from playwright.sync_api import expect

    session = Session(browser, priced.base_url, tmp_path)
    page = session.page
    try:
        session.sign_in(priced.key)
        page.route("**/api/v3/models", lambda route: route.fulfill(
            status=500, content_type="application/json",
            body='{"code": 500, "message": "the catalog is unavailable", "data": null}'))
        page.get_by_role("link", name="Prices").click()
        expect(page.locator("#prices-state")).to_contain_text("Could not load prices: the catalog is unavailable")
        expect(page.locator("#prices-table")).to_be_hidden()
        session.shot("prices-error-desktop", full_page=False)

        page.unroute("**/api/v3/models")
        page.route("**/api/v3/models", lambda route: route.fulfill(
            status=200, content_type="application/json", body='{"code": 200, "message": "success", "data": []}'))
        page.get_by_role("button", name="Try again").click()
        expect(page.locator("#prices-state")).to_contain_text("No models have a price yet.")
        expect(page.get_by_test_id("prices-count")).to_have_text("")

        # One quote failing leaves the others shown and says which failed.
        page.unroute("**/api/v3/models")
        failing = f"{priced.prefix}/image"
        page.route("**/api/v3/model/price", lambda route: route.fulfill(
            status=500, content_type="application/json",
            body='{"code": 500, "message": "pricing is down", "data": null}')
            if failing in (route.request.post_data or "") else route.continue_())
        page.get_by_role("button", name="Refresh").click()
        row = page.locator(f'#prices-table tbody tr[data-model="{failing}"]')
        expect(row).to_contain_text("Price unavailable: pricing is down")
        expect(page.locator("#prices-state")).to_contain_text("Could not load the price of one model: pricing is down")
        other = page.locator(f'#prices-table tbody tr[data-model="{priced.prefix}/video"]')
        expect(other.locator(".you-pay")).to_have_text("$0.30")
        page.unroute("**/api/v3/model/price")
        page.get_by_role("button", name="Try again").click()
        expect(row.locator(".you-pay")).to_have_text("$0.04")
        expect(page.locator("#prices-state")).to_be_hidden()
    finally:
        session.close()


def test_a_record_s_details_show_its_price_version(browser, priced, tmp_path):
    """A server that sends the order's ``price_version`` has it shown; one that does not, nothing."""
    from playwright.sync_api import expect

    session = Session(browser, priced.base_url, tmp_path)
    page = session.page

    def with_version(route) -> None:
        response = route.fetch()
        payload = json.loads(response.text())
        for item in payload["data"]["items"]:
            if item.get("order"):
                item["order"]["price_version"] = 42
        route.fulfill(response=response, body=json.dumps(payload))

    try:
        session.sign_in(priced.key)
        deduct = page.locator("#records-body tr", has_text="Deduct")
        deduct.get_by_role("button", name="Details").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_contain_text("List price")
        expect(dialog).not_to_contain_text("Price version")
        page.keyboard.press("Escape")

        page.route("**/api/v3/billings/search", with_version)
        page.get_by_role("button", name="Refresh").click()
        expect(page.locator("#records-body tr").first).to_be_visible()
        deduct.get_by_role("button", name="Details").click()
        expect(dialog.locator("dt", has_text="Price version")).to_be_visible()
        expect(dialog.locator("dt", has_text="Price version").locator("xpath=following-sibling::dd[1]")).to_have_text("42")
        session.shot("record-price-version-desktop", full_page=False)
        page.unroute("**/api/v3/billings/search")
    finally:
        session.close()


def test_price_rows_without_a_page(session):
    """prices.js's rows: catalog order by sort_order then id, exact money, a zero rate as no discount."""
    session.page.goto("/")
    rows = session.page.evaluate(
        """async () => {
            const p = await import("/static/prices.js");
            const { parseExact } = await import("/static/api.js");
            const models = parseExact(`[
                {"model_id": "b/flat", "name": "b/flat", "description": "", "type": "", "base_price": 0.1, "sort_order": 2, "formula": null},
                {"model_id": "a/big", "name": "Big", "description": "d", "type": "t", "base_price": 8999999999.999999, "sort_order": 2, "formula": null},
                {"model_id": "c/video", "name": "Video", "description": "", "type": "", "base_price": 0.3, "sort_order": 1, "formula": "base_price * duration / 5"},
                {"model_id": "d/down", "name": "Down", "description": "", "type": "", "base_price": 1, "sort_order": 0, "formula": null}
            ]`);
            const quotes = parseExact(`[
                {"model_id": "b/flat", "price": 0.1, "discounted_price": 0.1, "discount_rate": 0, "currency": "USD"},
                {"model_id": "a/big", "price": 8999999999.999999, "discounted_price": 7874999999.999999, "discount_rate": 12.5, "currency": "USD"},
                {"model_id": "c/video", "price": 0.3, "discounted_price": 0.27, "discount_rate": 10, "currency": "USD"}
            ]`);
            quotes.push({ error: "pricing is down" });
            return p.priceRows(models, quotes).map((r) => [r.model, r.name, r.formula,
                r.listMicros === null ? null : String(r.listMicros),
                r.payMicros === null ? null : String(r.payMicros), r.discount, r.error]);
        }""")
    assert rows == [
        ["d/down", "Down", None, None, None, None, "pricing is down"],
        ["c/video", "Video", "base_price * duration / 5", "300000", "270000", "10", None],
        ["a/big", "Big", None, "8999999999999999", "7874999999999999", "12.5", None],
        ["b/flat", "", None, "100000", "100000", None, None],
    ]


# ---------------------------------------------------------------------------- statements


@pytest.fixture(scope="module")
def stated(live_server):
    """An account with a Cyrillic name, charges this month and back-dated into last month, a refund."""
    base, admin = live_server.base_url, live_server.admin_token
    now = datetime.now(UTC)
    last_month = (now.replace(day=1) - timedelta(days=1)).replace(day=10, hour=12)
    with httpx.Client(base_url=base, timeout=30) as http:
        account = factories.create_account(http, admin, name="Общество «Ромашка»", balance="50")
        key = factories.create_key(http, admin, account["id"], name="production")
        for i in range(3):
            factories.create_charge(http, admin, key["access_key_id"], price="0.0425", model_uuid="vendor/image",
                                    created_at=int(last_month.timestamp() * 1000) + i)
        refunded = factories.create_charge(http, admin, key["access_key_id"], price="1.5", model_uuid="vendor/video")
        factories.set_status(http, admin, refunded["record"]["prediction"]["uuid"], "failed")
        factories.create_charge(http, admin, key["access_key_id"], price="0.25", model_uuid="vendor/video")
    api = PublicApi(base, key["api_key"])
    months = [now.strftime("%Y-%m"), last_month.strftime("%Y-%m")]
    yield SimpleNamespace(base_url=base, key=key["api_key"], api=api, months=months)
    api.close()


def open_statements(page) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name="Statements").click()
    expect(page.get_by_role("link", name="Statements")).to_have_attribute("aria-current", "page")
    expect(page.locator("#statements-table tbody tr")).to_have_count(12)


def test_statements_equal_the_api_and_download(browser, stated, tmp_path):
    from playwright.sync_api import expect
    from pypdf import PdfReader

    session = Session(browser, stated.base_url, tmp_path)
    page = session.page
    try:
        session.sign_in(stated.key)
        open_statements(page)
        rows = page.locator("#statements-table tbody tr")
        assert rows.evaluate_all("rows => rows.map(r => r.dataset.month)")[:2] == stated.months
        for n, month in enumerate(stated.months):
            want = stated.api._data(stated.api.http.get(f"/api/v3/statements/{month}"))
            row = page.locator(f'#statements-table tbody tr[data-month="{month}"]')
            expect(row.locator('[data-field="opening"]')).to_have_text(fmt_usd(want["opening_balance"]))
            expect(row.locator('[data-field="recharges"]')).to_have_text(fmt_usd(want["recharges"] + want["adjustments"]))
            expect(row.locator('[data-field="spent"]')).to_have_text(fmt_usd(want["net_charges"]))
            expect(row.locator('[data-field="closing"]')).to_have_text(fmt_usd(want["closing_balance"]))
            expect(row.locator('[data-field="records"]')).to_have_text(str(want["record_count"]))
            expect(row.locator(".badge")).to_have_count(1 if n == 0 else 0)
        session.shot("statements-desktop")

        previous = page.locator(f'#statements-table tbody tr[data-month="{stated.months[1]}"]')
        with page.expect_download() as pdf_download:
            previous.locator('[data-action="pdf"]').click()
        pdf = tmp_path / "statement.pdf"
        pdf_download.value.save_as(pdf)
        assert pdf_download.value.suggested_filename == f"statement-{stated.months[1]}.pdf"
        text = "".join(p.extract_text() for p in PdfReader(pdf).pages)
        assert "Общество «Ромашка»" in text and "0.1275" in text
        expect(page.locator("#statements-status")).to_contain_text("Downloaded")

        with page.expect_download() as csv_download:
            previous.locator('[data-action="csv"]').click()
        path = tmp_path / "records.csv"
        csv_download.value.save_as(path)
        with path.open(newline="") as stream:
            records = list(csv.DictReader(stream))
        assert [r["billing_type"] for r in records] == ["deduct"] * 3
        empty = page.locator("#statements-table tbody tr").nth(5)
        expect(empty.locator('[data-field="records"]')).to_have_text("0")
    finally:
        session.close()


def test_statements_on_a_phone_and_the_month_list(browser, stated, tmp_path):
    from playwright.sync_api import expect

    session = Session(browser, stated.base_url, tmp_path, phone=True)
    page = session.page
    try:
        session.sign_in(stated.key)
        open_statements(page)
        expect(page.locator(f'#statements-table tbody tr[data-month="{stated.months[0]}"] [data-action="pdf"]')).to_be_visible()
        session.shot("statements-phone")
        months = page.evaluate("""async () => {
            const m = await import("/static/statements-data.js");
            return [m.recentMonths(Date.UTC(2026, 0, 15), 3), m.monthLabel("2026-10")];
        }""")
        assert months == [["2026-01", "2025-12", "2025-11"], "October 2026"]
    finally:
        session.close()
