"""The dashboard's Webhooks view in real headless Chromium: add an endpoint (its secret shown once,
and it verifies what the receiver gets), watch the delivery log fill with each attempt, resend,
delete; on a desktop (1366 px) and a phone (390 px). Screenshots as in test_dashboard_browser.py."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
from standardwebhooks import Webhook

from tests import factories
from tests.conftest import ADMIN_TOKEN
from tests.servers import Server
from tests.web.test_dashboard_browser import Session, browser  # noqa: F401 - the browser fixture
from tests.webhook_receiver import Receiver

ENV = {
    "BILLBOOK_WEBHOOK_ALLOW_PRIVATE": "true",
    "BILLBOOK_WEBHOOK_RETRY_BASE_S": "0.3",
    "BILLBOOK_WEBHOOK_POLL_INTERVAL_S": "0.1",
}


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """A server that sends webhooks to a receiver on 127.0.0.1 failing each event's first attempt."""
    receiver = Receiver(lambda path, webhook_id, seen: 500 if seen == 0 else 200)
    server = Server(f"sqlite:///{tmp_path_factory.mktemp('webhooks-view') / 'billbook.db'}", env=ENV)
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            account = factories.create_account(http, ADMIN_TOKEN, name="Hooked Co", balance="40")
            key = factories.create_key(http, ADMIN_TOKEN, account["id"])
            factories.create_charge(http, ADMIN_TOKEN, key["access_key_id"], price="0.04", model_uuid="m/image")
        yield SimpleNamespace(base_url=server.base_url, account=account, key=key["api_key"], receiver=receiver)
    finally:
        server.stop()
        receiver.close()


def _recharge(hooked: SimpleNamespace, amount: str) -> None:
    with httpx.Client(base_url=hooked.base_url, timeout=30) as http:
        factories.recharge(http, ADMIN_TOKEN, hooked.account["id"], amount)


def _open(page) -> None:  # noqa: ANN001
    from playwright.sync_api import expect

    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("link", name="Webhooks")).to_have_attribute("aria-current", "page")
    expect(page.locator("#webhooks-state")).not_to_have_text("Loading webhook endpoints…")


def test_add_an_endpoint_see_its_deliveries_and_resend(browser, hooked, tmp_path):  # noqa: ANN001, F811
    from playwright.sync_api import expect

    session = Session(browser, hooked.base_url, tmp_path)
    page = session.page
    try:
        session.sign_in(hooked.key)
        _open(page)
        expect(page.locator("#webhooks-state")).to_contain_text("No webhook endpoints yet")
        page.get_by_label("Endpoint URL").fill(hooked.receiver.url("/desk"))
        page.get_by_role("button", name="Add endpoint").click()
        secret = page.get_by_test_id("webhook-secret")
        expect(secret).to_contain_text("whsec_")
        shown = secret.inner_text()
        expect(page.locator("#webhooks-table tbody tr")).to_have_count(1)
        expect(page.get_by_test_id("webhooks-count")).to_have_text("1 endpoint")
        session.shot("webhooks-added-desktop")

        _recharge(hooked, "5")
        hooked.receiver.wait_for(lambda: bool(hooked.receiver.accepted("/desk")))
        got = hooked.receiver.accepted("/desk")[0]
        assert Webhook(shown).verify(got.body, got.headers)["type"] == "recharge.created"

        page.get_by_role("button", name="Done").click()
        expect(page.get_by_test_id("webhook-secret")).to_be_hidden()
        page.get_by_role("button", name="Deliveries").click()
        row = page.locator("#deliveries-table tbody tr").first
        for _ in range(50):  # the dispatcher records the 200 just after the receiver answers
            if "delivered" in row.inner_text():
                break
            page.get_by_role("button", name="Refresh").click()
            page.wait_for_timeout(100)
        expect(row).to_contain_text("recharge.created")
        expect(row).to_contain_text("delivered")
        expect(row.locator(".attempts li")).to_have_count(2)
        expect(row.locator(".attempts li").first).to_contain_text("HTTP 500")
        expect(row.locator(".attempts li").nth(1)).to_contain_text("200 in")
        session.shot("webhooks-log-desktop")

        row.get_by_role("button", name="Resend").click()
        hooked.receiver.wait_for(lambda: len(hooked.receiver.accepted("/desk")) >= 2)
        assert {r.headers["webhook-id"] for r in hooked.receiver.accepted("/desk")} == {got.headers["webhook-id"]}

        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Delete endpoint").click()
        expect(page.locator("#webhooks-state")).to_contain_text("No webhook endpoints yet")
        expect(page.locator("#deliveries-card")).to_be_hidden()
    finally:
        session.close()


def test_bad_url_and_the_phone_layout(browser, hooked, tmp_path):  # noqa: ANN001, F811
    from playwright.sync_api import expect

    session = Session(browser, hooked.base_url, tmp_path, phone=True)
    page = session.page
    try:
        session.sign_in(hooked.key)
        _open(page)
        page.get_by_label("Endpoint URL").fill("ftp://example.com/x")
        page.get_by_role("button", name="Add endpoint").click()
        expect(page.locator("#webhook-form-error")).to_contain_text("url must start with http:// or https://")
        page.get_by_label("Endpoint URL").fill(hooked.receiver.url("/phone"))
        page.get_by_role("button", name="Add endpoint").click()
        expect(page.get_by_test_id("webhook-secret")).to_contain_text("whsec_")
        _recharge(hooked, "1")
        page.get_by_role("button", name="Deliveries").first.click()
        expect(page.locator("#deliveries-table tbody tr").first).to_contain_text("recharge.created")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        session.shot("webhooks-phone")
    finally:
        session.close()
