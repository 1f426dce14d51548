"""The operator console (``/admin``) in real headless Chromium, on SQLite and PostgreSQL.

An operator finds an account and recharges it while the customer's dashboard is open in a second tab;
an adjustment whose response is lost and which is then confirmed again (twice, by a double click)
moves money once; a ``read`` token is offered no write control, and the server refuses it anyway.
Every figure the page shows is compared with what the API returns. Screenshots at 1366 and 390 px
wide are saved under each test's ``tmp_path`` (and in ``$BILLBOOK_SCREENSHOTS``), as the dashboard's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from types import SimpleNamespace

import httpx
import pytest

from tests import factories
from tests.conftest import ADMIN_TOKEN
from tests.servers import Server, fresh_database
from tests.web.test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, Session, _missing_browser, fmt_usd

MODELS = [("bytedance/seedream-v4.5", "0.04"), ("wavespeed-ai/flux-dev", "0.1"), ("google/veo3-fast", "1.2")]
HOUR_MS = 3_600_000
#: Every button that changes something starts with one of these words.
WRITE_BUTTONS = re.compile(r"^(Review|Recharge|Adjust|Confirm|Issue|Revoke|New recharge|Save|Add|Delete|Resend)")


def _admin(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _data(response: httpx.Response):
    payload = json.loads(response.text, parse_float=Decimal)
    assert response.status_code == 200, payload
    return payload["data"]


def create_read_token(database_url: str, name: str) -> str:
    """A named ``read`` admin token, issued as an operator does: ``billbook admin-tokens create``."""
    out = subprocess.run(
        [sys.executable, "-m", "billbook", "admin-tokens", "create", "--name", name, "--role", "read", "--json", "--db", database_url],
        capture_output=True, text=True, check=True, timeout=60,
    )
    issued = json.loads(out.stdout)
    assert issued["role"] == "read" and issued["name"] == name
    return issued["token"]


@pytest.fixture
def browser(platform):
    """Chromium for one test. Per test, not per module as the dashboard's: the served databases are
    set up (PostgreSQL's probe runs an event loop) while no Playwright loop runs in this thread."""
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


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def platform(request, tmp_path_factory):
    """A served database with a few customers and a month of charges, refunds among them."""
    with fresh_database(request.param, tmp_path_factory, request) as url:
        # Webhook endpoints on this machine (127.0.0.1) are allowed: the console's test adds one.
        server = Server(url, env={"BILLBOOK_WEBHOOK_ALLOW_PRIVATE": "true"})
        try:
            with httpx.Client(base_url=server.base_url, timeout=30) as http:
                now = int(time.time() * 1000)
                customers = []
                for n, name in enumerate(["Northwind Labs", "Acme Render", "Globex Vision"]):
                    account = factories.create_account(http, ADMIN_TOKEN, name=f"{name} {uuid.uuid4().hex[:6]}", balance="400")
                    key = factories.create_key(http, ADMIN_TOKEN, account["id"], name="production")
                    for i in range(12 + 6 * n):
                        model, price = MODELS[(i + n) % len(MODELS)]
                        prediction = uuid.uuid4().hex
                        at = now - (i * 37 + n + 1) * HOUR_MS
                        factories.create_charge(http, ADMIN_TOKEN, key["access_key_id"], price=price, model_uuid=model,
                                                prediction_uuid=prediction, created_at=at)
                        status = "failed" if i % 5 == 2 else "completed"
                        factories.set_status(http, ADMIN_TOKEN, prediction, status, at=at + 30_000)
                    customers.append(SimpleNamespace(id=account["id"], name=account["name"], key=key))
            yield SimpleNamespace(base_url=server.base_url, database_url=url, customers=customers, backend=request.param)
        finally:
            server.stop()


@pytest.fixture
def console(browser, platform, tmp_path):
    s = Session(browser, platform.base_url, tmp_path)
    yield s
    s.close()


@pytest.fixture
def admin_http(platform):
    with httpx.Client(base_url=platform.base_url, timeout=30, headers=_admin(ADMIN_TOKEN)) as http:
        yield http


def sign_in(page, token: str) -> None:
    from playwright.sync_api import expect

    page.goto("/admin")
    page.get_by_label("Admin token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#app-view")).to_be_visible()


def open_account(page, account_id: int) -> None:
    from playwright.sync_api import expect

    page.goto(f"/admin#account/{account_id}")
    expect(page.get_by_test_id("account-balance")).not_to_have_text("…")
    expect(page.locator("#records-body tr").first).to_be_visible()


def balance_of(http: httpx.Client, account_id: int) -> Decimal:
    return _data(http.get(f"/internal/v1/accounts/{account_id}"))["balance"]


def records(http: httpx.Client, account_id: int, billing_type: str) -> list[dict]:
    return _data(http.post("/internal/v1/billings/search",
                           json={"account_id": account_id, "billing_type": billing_type, "page_size": 100}))["items"]


def shot(session: Session, name: str, platform) -> None:
    session.shot(f"console-{name}-{platform.backend}")


# ---------------------------------------------------------------------------- tests


def test_an_operator_finds_an_account_recharges_it_and_the_customer_sees_it(console, platform, admin_http):
    from playwright.sync_api import expect

    page = console.page
    customer = platform.customers[1]
    customer_tab = console.context.new_page()
    customer_tab.goto("/")
    customer_tab.get_by_label("API key").fill(customer.key["api_key"])
    customer_tab.get_by_role("button", name="Sign in").click()
    before = balance_of(admin_http, customer.id)
    expect(customer_tab.get_by_test_id("balance")).to_have_text(fmt_usd(before))

    sign_in(page, ADMIN_TOKEN)
    expect(page.get_by_test_id("who")).to_have_text("default write")
    # The overview: the platform's money and revenue, as the API has them.
    totals = _data(admin_http.get("/internal/v1/totals"))
    expect(page.get_by_test_id("ov-balance")).to_have_text(fmt_usd(totals["balance"]))
    expect(page.get_by_test_id("ov-held")).to_have_text(fmt_usd(totals["held"]))
    expect(page.locator("#ov-chart svg")).to_be_visible()
    expect(page.locator("#top-table tbody tr")).to_have_count(len(platform.customers))
    shot(console, "overview-desktop", platform)

    # Find the account by a part of its name.
    page.get_by_role("link", name="Accounts", exact=True).click()
    page.get_by_role("searchbox", name="Find").fill(customer.name.split()[0].lower())
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#accounts-body tr")
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_test_id("row-balance")).to_have_text(fmt_usd(before))
    shot(console, "accounts-desktop", platform)
    rows.first.get_by_role("link").click()
    expect(page.get_by_test_id("account-name")).to_have_text(customer.name)
    expect(page.get_by_test_id("account-balance")).to_have_text(fmt_usd(before))
    # Its records are its own: the page's first rows are the internal search's for this account.
    first = _data(admin_http.post("/internal/v1/billings/search", json={"account_id": customer.id, "page_size": 20}))
    expect(page.get_by_test_id("page-status")).to_have_text(f"1\u2013{len(first['items'])} of {first['total']}")
    assert page.locator("#records-body tr").evaluate_all("rows => rows.map(r => r.dataset.uuid)") == [
        item["uuid"] for item in first["items"]]

    # Recharge: the form, then a confirmation naming the balance after, then the money moves.
    page.get_by_label("Amount, USD").fill("25.5")
    page.get_by_label("Reason (required)").fill("Invoice 2026-114 paid by bank transfer")
    page.get_by_role("button", name="Review recharge…").click()
    confirm = page.locator("#funds-confirm")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text(fmt_usd(before + Decimal("25.5")))
    shot(console, "recharge-confirm-desktop", platform)
    page.get_by_role("button", name="Recharge $25.50").click()
    after = before + Decimal("25.5")
    expect(page.locator("#funds-done-text")).to_have_text(f"Recharged $25.50. Balance now {fmt_usd(after)}.")
    expect(page.get_by_test_id("account-balance")).to_have_text(fmt_usd(after))
    assert balance_of(admin_http, customer.id) == after
    recharges = [r for r in records(admin_http, customer.id, "recharge") if r["amount"] == Decimal("25.5")]
    assert len(recharges) == 1
    expect(page.locator("#records-body tr").first).to_have_attribute("data-uuid", recharges[0]["uuid"])
    shot(console, "account-desktop", platform)

    # The customer's dashboard, in the other tab, shows the new balance.
    customer_tab.bring_to_front()
    customer_tab.get_by_role("button", name="Refresh").click()
    expect(customer_tab.get_by_test_id("balance")).to_have_text(fmt_usd(after))
    customer_tab.close()

    # The audit log names the token, the route and the reference.
    page.bring_to_front()
    page.get_by_role("link", name="Audit log", exact=True).click()
    entry = page.locator("#audit-body tr").first
    expect(entry).to_contain_text("default")
    expect(entry).to_contain_text("recharge")
    expect(entry).to_contain_text("25.5")
    shot(console, "audit-desktop", platform)


def test_a_double_submitted_adjustment_moves_money_once(console, platform, admin_http):
    from playwright.sync_api import expect

    page = console.page
    customer = platform.customers[2]
    sign_in(page, ADMIN_TOKEN)
    open_account(page, customer.id)
    before = balance_of(admin_http, customer.id)

    sent: list[dict] = []
    lost = {"first": True}

    def lose_first_response(route):
        """The server commits the first adjustment, but its answer never reaches the page."""
        sent.append(json.loads(route.request.post_data))
        response = route.fetch()
        if lost["first"]:
            lost["first"] = False
            assert response.status == 200
            route.abort("connectionreset")
        else:
            route.fulfill(response=response)

    page.route("**/internal/v1/accounts/*/adjustments", lose_first_response)
    page.get_by_label("Adjustment (+ or −)").check()
    page.get_by_label("Amount, USD (+ adds, − takes away)").fill("-7.25")
    page.get_by_label("Reason (required)").fill("Refund of a duplicated charge, ticket 8812")
    page.get_by_role("button", name="Review adjustment…").click()
    submit = page.get_by_test_id("funds-submit")
    expect(submit).to_have_text("Adjust by \u2212$7.25")
    submit.click()
    expect(page.locator("#funds-confirm-error")).to_contain_text("It is not known whether the money moved")
    shot(console, "adjust-lost-response-desktop", platform)
    # The operator presses again, twice, quickly.
    submit.dblclick()
    expect(page.locator("#funds-done-text")).to_contain_text("nothing moved twice")
    after = before - Decimal("7.25")
    expect(page.get_by_test_id("account-balance")).to_have_text(fmt_usd(after))

    assert len(sent) >= 2
    assert len({body["reference"] for body in sent}) == 1, sent
    assert {body["amount"] for body in sent} == {"-7.25"}
    assert balance_of(admin_http, customer.id) == after
    adjusts = [r for r in records(admin_http, customer.id, "adjust") if r["amount"] == Decimal("-7.25")]
    assert len(adjusts) == 1

    # A new form has a new reference; a double click on its confirmation moves money once.
    page.unroute("**/internal/v1/accounts/*/adjustments")
    page.get_by_role("button", name="New recharge or adjustment").click()
    page.get_by_label("Adjustment (+ or −)").check()
    page.get_by_label("Amount, USD (+ adds, − takes away)").fill("1.000001")
    page.get_by_label("Reason (required)").fill("Goodwill credit")
    page.get_by_role("button", name="Review adjustment…").click()
    page.get_by_test_id("funds-submit").dblclick()
    expect(page.locator("#funds-done-text")).to_contain_text("Adjusted by +$1.000001")
    final = after + Decimal("1.000001")
    expect(page.get_by_test_id("account-balance")).to_have_text(fmt_usd(final))
    assert balance_of(admin_http, customer.id) == final
    credits = [r for r in records(admin_http, customer.id, "adjust") if r["amount"] == Decimal("1.000001")]
    assert len(credits) == 1


def test_a_read_token_sees_no_write_controls(browser, platform, admin_http, tmp_path):
    from playwright.sync_api import expect

    token = create_read_token(platform.database_url, f"auditor-{uuid.uuid4().hex[:6]}")
    customer = platform.customers[0]
    before = balance_of(admin_http, customer.id)
    for phone in (False, True):
        s = Session(browser, platform.base_url, tmp_path, phone=phone)
        try:
            page = s.page
            sign_in(page, token)
            expect(page.locator("#read-only-note")).to_be_visible()
            open_account(page, customer.id)
            expect(page.get_by_test_id("account-name")).to_have_text(customer.name)
            expect(page.locator("#keys-body tr")).to_have_count(1)
            expect(page.get_by_role("button", name=WRITE_BUTTONS)).to_have_count(0)
            for label in ("Amount, USD", "Reason (required)", "New key's name"):
                expect(page.get_by_label(label)).to_be_hidden()
            assert page.locator("[data-write]").count() >= 2
            expect(page.locator("[data-write]:visible")).to_have_count(0)
            # The limits are shown, with no form to change them; the statements are there to read.
            expect(page.get_by_test_id("account-limit-figures").locator("tr[data-window]")).to_have_count(3)
            expect(page.locator("form.limits-form")).to_have_count(0)
            expect(page.locator("#statements-table tbody tr")).to_have_count(12)
            s.shot(f"console-read-only-{'phone' if phone else 'desktop'}-{platform.backend}")
            page.get_by_role("link", name="Webhooks", exact=True).click()
            expect(page.locator("#webhooks-state, #webhooks-table").first).to_be_attached()
            expect(page.get_by_label("Endpoint URL")).to_be_hidden()
            expect(page.get_by_role("button", name=WRITE_BUTTONS)).to_have_count(0)
            # The server refuses the token's writes whatever a page does.
            status = page.evaluate(
                """async ([id, token]) => (await fetch(`/internal/v1/accounts/${id}/recharges`, {
                       method: "POST", headers: {"Authorization": `Bearer ${token}`, "Content-Type": "application/json"},
                       body: JSON.stringify({amount: "5", reference: "read-token-try"})})).status""",
                [customer.id, token])
            assert status == 403
        finally:
            s.close()
    assert balance_of(admin_http, customer.id) == before


def test_the_console_on_a_phone(browser, platform, tmp_path):
    from playwright.sync_api import expect

    s = Session(browser, platform.base_url, tmp_path, phone=True)
    try:
        page = s.page
        sign_in(page, ADMIN_TOKEN)
        expect(page.locator("#ov-chart svg")).to_be_visible()
        s.shot(f"console-overview-phone-{platform.backend}")
        page.get_by_role("link", name="Accounts", exact=True).click()
        expect(page.locator("#accounts-body tr").first).to_be_visible()
        s.shot(f"console-accounts-phone-{platform.backend}")
        open_account(page, platform.customers[0].id)
        page.get_by_label("Amount, USD").fill("10")
        page.get_by_label("Reason (required)").fill("Top-up by card")
        page.get_by_role("button", name="Review recharge…").click()
        expect(page.locator("#funds-confirm")).to_be_visible()
        s.shot(f"console-account-phone-{platform.backend}")
        page.get_by_role("link", name="Audit log", exact=True).click()
        expect(page.locator("#audit-body tr").first).to_be_visible()
        s.shot(f"console-audit-phone-{platform.backend}")
        # Nothing is wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        s.close()


def test_a_key_is_issued_with_its_secret_shown_once_and_revoked_after_a_confirmation(console, platform, admin_http):
    from playwright.sync_api import expect

    page = console.page
    customer = platform.customers[0]
    sign_in(page, ADMIN_TOKEN)
    open_account(page, customer.id)
    name = f"batch-{uuid.uuid4().hex[:6]}"
    page.get_by_label("New key's name").fill(name)
    page.get_by_role("button", name="Issue key").dblclick()
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    secret = page.get_by_label("API key secret").input_value()
    page.get_by_role("button", name="Close", exact=True).click()
    # The secret works, and a double submit left one usable key of that name.
    with httpx.Client(base_url=platform.base_url, timeout=30, headers=_admin(secret)) as customer_http:
        assert customer_http.get("/api/v3/balance").status_code == 200
    keys = _data(admin_http.get(f"/internal/v1/accounts/{customer.id}/keys", params={"page_size": 100}))["items"]
    active = [k for k in keys if k["name"] == name and k["active"]]
    assert len(active) == 1
    row = page.locator(f'#keys-body tr[data-key="{active[0]["access_key_id"]}"]')
    expect(row).to_contain_text("Active")
    # The key filter of the records lists it.
    expect(page.locator(f'#f-key option[value="{active[0]["access_key_id"]}"]')).to_have_count(1)

    row.get_by_role("button", name=re.compile("^Revoke")).click()
    expect(page.locator("#revoke-dialog")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    expect(row).to_contain_text("Active")
    row.get_by_role("button", name=re.compile("^Revoke")).click()
    page.get_by_role("button", name="Revoke key", exact=True).click()
    expect(row).to_contain_text("Revoked")
    with httpx.Client(base_url=platform.base_url, timeout=30, headers=_admin(secret)) as customer_http:
        assert customer_http.get("/api/v3/balance").status_code == 401


def _window(page, label: str):
    return page.get_by_test_id("account-limit-figures").locator(f'tr[data-window="{label}"]')


def test_an_operator_sees_an_accounts_limits_and_sets_them(console, platform, admin_http, tmp_path, browser):
    """Limits set over the API show with their spend; the operator's form sets one, and a charge past
    it is refused. The operator limits a key too."""
    from playwright.sync_api import expect

    account = factories.create_account(admin_http, ADMIN_TOKEN, name=f"Initech {uuid.uuid4().hex[:6]}", balance="100")
    key = factories.create_key(admin_http, ADMIN_TOKEN, account["id"], name="production")
    factories.create_charge(admin_http, ADMIN_TOKEN, key["access_key_id"], price="0.5")
    _data(admin_http.put(f"/internal/v1/accounts/{account['id']}/limits", json={"daily": "2", "monthly": "100", "total": None}))
    customer = _admin(key["api_key"])
    _data(admin_http.put("/api/v3/account/limits", json={"daily": None, "monthly": "50", "total": None}, headers=customer))
    _data(admin_http.put("/api/v3/account/alerts", json={"low_balance": ["10", "2.5"]}, headers=customer))

    page = console.page
    sign_in(page, ADMIN_TOKEN)
    open_account(page, account["id"])
    today = _window(page, "Today (UTC)")
    expect(today.locator('[data-field="spent"]')).to_have_text("$0.50")
    expect(today.locator('[data-field="limit"]')).to_have_text("$2.00")
    expect(today.locator("progress")).to_have_attribute("value", "25")
    # The month is held to the lower limit, the customer's.
    expect(_window(page, "This month").locator('[data-field="limit"]')).to_have_text("$50.00")
    expect(_window(page, "Total")).to_contain_text("No limit")
    expect(page.locator(".setter-note")).to_contain_text("Operator's limits: daily $2.00 · monthly $100.00 · total none")
    expect(page.locator(".setter-note")).to_contain_text("Customer's own: daily none · monthly $50.00")
    expect(page.get_by_test_id("account-alerts")).to_have_text("Low-balance alerts: $10.00, $2.50.")

    form = page.get_by_test_id("limits-form-account")
    page.get_by_text("Set the operator's limits on this account").click()
    expect(form.get_by_label("Today (UTC) limit (USD)")).to_have_value("2")
    form.get_by_label("Today (UTC) limit (USD)").fill("0.75")
    form.get_by_label("This month limit (USD)").fill("")
    form.get_by_role("button", name="Save limits").click()
    expect(form.locator(".form-status")).to_have_text("Saved.")
    expect(today.locator('[data-field="limit"]')).to_have_text("$0.75")
    shot(console, "limits-desktop", platform)
    operator_set = _data(admin_http.get(f"/internal/v1/accounts/{account['id']}"))["limits"]["limits"]["operator"]
    assert operator_set == {"daily": Decimal("0.75"), "monthly": None, "total": None}
    refused = admin_http.post("/internal/v1/charges", json={
        "prediction_uuid": uuid.uuid4().hex, "access_key_id": key["access_key_id"],
        "model_uuid": MODELS[0][0], "price": "0.5"})
    assert refused.status_code == 403, refused.text

    # A key's limit: the answer's figures show under its form.
    page.get_by_text("Set the operator's limits on a key").click()
    key_form = page.get_by_test_id(f"limits-form-{key['access_key_id']}")
    key_form.get_by_label("Total limit (USD)").fill("5")
    key_form.get_by_role("button", name="Save limits").click()
    expect(key_form.locator(".form-status")).to_have_text("Saved.")
    result = page.locator(f'.key-limits[data-key="{key["access_key_id"]}"] tr[data-window="Total"]')
    expect(result.locator('[data-field="limit"]')).to_have_text("$5.00")
    keys = _data(admin_http.get("/api/v3/access_keys", headers=customer))["items"]
    assert keys[0]["limits"]["operator"]["total"] == Decimal(5)

    phone = Session(browser, platform.base_url, tmp_path, phone=True)
    try:
        sign_in(phone.page, ADMIN_TOKEN)
        open_account(phone.page, account["id"])
        expect(_window(phone.page, "Today (UTC)").locator('[data-field="limit"]')).to_have_text("$0.75")
        phone.page.get_by_text("Set the operator's limits on this account").click()
        phone.shot(f"console-limits-phone-{platform.backend}")
        assert phone.page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        phone.close()


def test_an_accounts_statements_equal_the_api_and_the_pdf_and_a_receipt_download(console, platform, admin_http):
    from playwright.sync_api import expect

    customer = platform.customers[1]
    page = console.page
    sign_in(page, ADMIN_TOKEN)
    open_account(page, customer.id)
    rows = page.locator("#statements-table tbody tr")
    expect(rows).to_have_count(12)
    month = rows.first.get_attribute("data-month")
    want = _data(admin_http.get(f"/internal/v1/accounts/{customer.id}/statements/{month}"))
    row = rows.first
    expect(row.locator('[data-field="opening"]')).to_have_text(fmt_usd(want["opening_balance"]))
    expect(row.locator('[data-field="recharges"]')).to_have_text(fmt_usd(want["recharges"] + want["adjustments"]))
    expect(row.locator('[data-field="spent"]')).to_have_text(fmt_usd(want["net_charges"]))
    expect(row.locator('[data-field="closing"]')).to_have_text(fmt_usd(want["closing_balance"]))
    expect(row.locator('[data-field="records"]')).to_have_text(f"{want['record_count']:,}")
    with page.expect_download() as info:
        row.locator('[data-action="pdf"]').click()
    assert info.value.suggested_filename == f"statement-{month}.pdf"
    path = console.tmp_path / "statement.pdf"
    info.value.save_as(path)
    assert path.read_bytes().startswith(b"%PDF")
    expect(page.locator("#statements-status")).to_contain_text("Downloaded")
    page.locator("#statements-table").scroll_into_view_if_needed()
    shot(console, "statements-desktop", platform)

    # A recharge record's details offer its receipt.
    recharge = records(admin_http, customer.id, "recharge")[-1]
    page.get_by_label("Type", exact=True).select_option("recharge")
    page.get_by_role("button", name="Apply filters").click()
    page.locator(f'#records-body tr[data-uuid="{recharge["uuid"]}"]').get_by_role("button", name="Details").click()
    with page.expect_download() as receipt:
        page.get_by_role("button", name="Receipt (PDF)").click()
    assert receipt.value.suggested_filename == f"receipt-{recharge['uuid']}.pdf"
    path = console.tmp_path / "receipt.pdf"
    receipt.value.save_as(path)
    assert path.read_bytes().startswith(b"%PDF")
    expect(page.locator("#record-receipt-status")).to_contain_text("Downloaded")


def test_an_operator_adds_a_platform_webhook_sees_its_deliveries_and_deletes_it(console, platform, admin_http):
    from playwright.sync_api import expect

    page = console.page
    sign_in(page, ADMIN_TOKEN)
    page.get_by_role("link", name="Webhooks", exact=True).click()
    url = f"http://127.0.0.1:9/hooks/{uuid.uuid4().hex[:8]}"
    page.get_by_label("Endpoint URL").fill(url)
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.get_by_test_id("webhook-secret")
    expect(secret).to_be_visible()
    assert secret.inner_text().strip()
    endpoints = _data(admin_http.get("/internal/v1/webhooks"))
    made = [e for e in endpoints if e["url"] == url]
    assert len(made) == 1
    shot(console, "webhooks-desktop", platform)
    page.get_by_role("button", name="Done").click()
    expect(secret).to_be_hidden()

    # An event of any account is delivered to the platform's endpoint; the log shows it, and a resend.
    factories.recharge(admin_http, ADMIN_TOKEN, platform.customers[0].id, "1")
    row = page.locator("#webhooks-table tbody tr", has_text=url)
    row.get_by_role("button", name="Deliveries").click()
    deliveries = page.locator("#deliveries-table tbody tr")
    expect(deliveries.first).to_contain_text("recharge.created")
    deliveries.first.get_by_role("button", name=re.compile("^Resend")).click()
    expect(page.locator("#deliveries-state")).not_to_have_class(re.compile("error"))

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=re.compile("^Delete")).click()
    expect(row).to_have_count(0)
    assert not [e for e in _data(admin_http.get("/internal/v1/webhooks")) if e["url"] == url]
