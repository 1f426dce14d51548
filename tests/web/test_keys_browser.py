"""The dashboard's Keys view and its limits editor in real headless Chromium: spend and limits as
the API says them, bars at the share of each limit, an edit that the API then shows, and the alert
thresholds. Screenshots at 1366 px and 390 px (saved as ``test_dashboard_browser`` saves them)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import httpx
import pytest

from tests import factories
from tests.web.test_dashboard_browser import Session, browser, fmt_usd  # noqa: F401 - the fixture

ADMIN_PATH = "/internal/v1"


@pytest.fixture(scope="module")
def limited(live_server):
    """An account with two keys: one near its operator's daily limit, one revoked; charges today."""
    base, admin = live_server.base_url, live_server.admin_token
    headers = {"Authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=base, timeout=30) as http:
        account = factories.create_account(http, admin, name="Limits Co", balance="40")
        main = factories.create_key(http, admin, account["id"], name="production")
        spare = factories.create_key(http, admin, account["id"], name="old laptop")
        assert http.put(f"{ADMIN_PATH}/keys/{main['access_key_id']}/limits", json={"daily": "2", "total": "10"},
                        headers=headers).status_code == 200
        assert http.put(f"{ADMIN_PATH}/accounts/{account['id']}/limits", json={"monthly": "25"},
                        headers=headers).status_code == 200
        for _ in range(3):
            factories.create_charge(http, admin, main["access_key_id"], price="0.55")
        factories.create_charge(http, admin, spare["access_key_id"], price="0.25")
        assert http.delete(f"{ADMIN_PATH}/keys/{spare['access_key_id']}", headers=headers).status_code == 200
    yield SimpleNamespace(base_url=base, key=main["api_key"], main=main["access_key_id"], spare=spare["access_key_id"])


def open_keys(page) -> None:
    from playwright.sync_api import expect

    page.get_by_role("link", name="Keys & limits").click()
    expect(page.get_by_role("link", name="Keys & limits")).to_have_attribute("aria-current", "page")
    expect(page.locator("#keys-list .key-card").first).to_be_visible()


def sign_in(session: Session, key: str) -> None:
    from playwright.sync_api import expect

    page = session.page
    page.goto("/#keys")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#app-view")).to_be_visible()


def test_keys_view_shows_spend_against_limits(browser, limited, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    session = Session(browser, limited.base_url, tmp_path)
    page = session.page
    try:
        sign_in(session, limited.key)
        open_keys(page)
        expect(page.get_by_test_id("keys-count")).to_have_text("2 keys")
        main = page.locator(f'.key-card[data-key="{limited.main}"]')
        today = main.locator('tr[data-window="Today (UTC)"]')
        expect(today.locator('[data-field="spent"]')).to_have_text(fmt_usd("1.65"))
        expect(today.locator('[data-field="limit"]')).to_have_text(fmt_usd("2"))
        assert Decimal(str(today.locator("progress").get_attribute("value"))) == Decimal("82.5")
        expect(today.locator("progress")).to_have_class("spend-bar bar-warn")
        expect(main.locator('tr[data-window="This month"]')).to_contain_text("No limit")
        spare = page.locator(f'.key-card[data-key="{limited.spare}"]')
        expect(spare).to_contain_text("Revoked")
        account = page.get_by_test_id("account-limits")
        expect(account.locator('tr[data-window="This month"] [data-field="spent"]')).to_have_text(fmt_usd("1.9"))
        expect(account.locator('tr[data-window="This month"] [data-field="limit"]')).to_have_text(fmt_usd("25"))
        session.shot("keys-desktop")
    finally:
        session.close()


def test_the_limits_editor_saves_and_the_lower_limit_applies(browser, limited, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    session = Session(browser, limited.base_url, tmp_path)
    page = session.page
    try:
        sign_in(session, limited.key)
        open_keys(page)
        main = page.locator(f'.key-card[data-key="{limited.main}"]')
        main.get_by_text("Edit your limits").click()
        form = page.get_by_test_id(f"limits-form-{limited.main}")
        form.get_by_label("This month limit (USD)").fill("abc")
        form.get_by_role("button", name="Save limits").click()
        expect(form.locator(".form-status")).to_have_text("This month limit must be an amount in USD, or empty for no limit.")
        form.get_by_label("This month limit (USD)").fill("")
        form.get_by_label("Today (UTC) limit (USD)").fill("1.8")
        form.get_by_role("button", name="Save limits").click()
        today = page.locator(f'.key-card[data-key="{limited.main}"] tr[data-window="Today (UTC)"]')
        expect(today.locator('[data-field="limit"]')).to_have_text(fmt_usd("1.8"))  # lower than the operator's 2
        with httpx.Client(base_url=limited.base_url, headers={"Authorization": f"Bearer {limited.key}"}) as http:
            item = next(i for i in http.get("/api/v3/access_keys").json()["data"]["items"] if i["access_key_id"] == limited.main)
        assert item["limits"]["customer"]["daily"] == 1.8 and item["limits"]["applied"]["daily"] == 1.8

        page.get_by_label("Thresholds (USD, separated by commas)").fill("5, 20")
        page.get_by_role("button", name="Save thresholds").click()
        expect(page.locator("#alerts-status")).to_have_text("Saved.")
        expect(page.get_by_label("Thresholds (USD, separated by commas)")).to_have_value("20, 5")
        session.shot("keys-editor-desktop")
    finally:
        session.close()


def test_keys_view_on_a_phone(browser, limited, tmp_path):  # noqa: F811
    session = Session(browser, limited.base_url, tmp_path, phone=True)
    page = session.page
    try:
        sign_in(session, limited.key)
        open_keys(page)
        page.locator(f'.key-card[data-key="{limited.main}"]').get_by_text("Edit your limits").click()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        session.shot("keys-phone")
    finally:
        session.close()
