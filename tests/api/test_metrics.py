"""``/metrics``: HTTP traffic by route template and status, latency, and the ledger's outcomes."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ADMIN_TOKEN, start_server, stop_server
from tests.factories import acreate_charge, acustomer, aset_status, create_account, create_key, new_uuid

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    out: dict[tuple[str, frozenset], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


def value(s: dict, name: str, **labels: str) -> float:
    return s.get((name, frozenset(labels.items())), 0.0)


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_requests_are_counted_by_route_template_and_status(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN)
    before = await scrape(client)
    for _ in range(3):
        assert (await client.post("/api/v3/billings/search", json={}, headers=who["headers"])).status_code == 200
    await client.post("/api/v3/billings/search", json={"page": 0}, headers=who["headers"])
    await client.post(f"/internal/v1/predictions/{new_uuid()}/status", json={"status": "completed"}, headers=ADMIN)
    await client.get(f"/no/such/{new_uuid()}")
    after = await scrape(client)

    search = {"method": "POST", "route": "/api/v3/billings/search"}
    assert delta(before, after, "billbook_http_requests_total", **search, status="200") == 3
    assert delta(before, after, "billbook_http_requests_total", **search, status="400") == 1
    assert delta(before, after, "billbook_http_request_duration_seconds_count", **search) == 4
    assert delta(before, after, "billbook_http_request_duration_seconds_bucket", **search, le="+Inf") == 4
    status = {"method": "POST", "route": "/internal/v1/predictions/{uuid}/status"}
    assert delta(before, after, "billbook_http_requests_total", **status, status="404") == 1
    assert delta(before, after, "billbook_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
    # Raw paths never become labels.
    assert not any("/no/such" in str(labels) for _name, labels in after)


async def test_ledger_outcomes_are_counted(client: httpx.AsyncClient) -> None:
    who = await acustomer(client, ADMIN_TOKEN, balance="1")
    akid = who["key"]["access_key_id"]
    before = await scrape(client)

    done, failed = new_uuid(), new_uuid()
    await acreate_charge(client, ADMIN_TOKEN, akid, price="0.1", prediction_uuid=done)
    await acreate_charge(client, ADMIN_TOKEN, akid, price="0.1", prediction_uuid=failed)
    await acreate_charge(client, ADMIN_TOKEN, akid, price="0.1", prediction_uuid=failed)  # a retry
    await aset_status(client, ADMIN_TOKEN, done, "completed")
    await aset_status(client, ADMIN_TOKEN, failed, "failed")
    await aset_status(client, ADMIN_TOKEN, failed, "failed")  # repeating a status writes nothing
    short = {"prediction_uuid": new_uuid(), "access_key_id": akid, "model_uuid": "m", "price": "5"}
    assert (await client.post("/internal/v1/charges", json=short, headers=ADMIN)).status_code == 402
    batch = [
        {"prediction_uuid": new_uuid(), "access_key_id": akid, "model_uuid": "m", "price": "0.1"},
        {"prediction_uuid": new_uuid(), "access_key_id": akid, "model_uuid": "m", "price": "50"},
        {"prediction_uuid": new_uuid(), "access_key_id": akid, "model_uuid": "m", "price": "60"},
    ]
    response = await client.post("/internal/v1/charges/batch", json={"charges": batch}, headers=ADMIN)
    assert response.json()["data"]["insufficient"] == 2
    after = await scrape(client)

    assert delta(before, after, "billbook_charges_created_total") == 3
    assert delta(before, after, "billbook_charges_duplicate_total") == 1
    assert delta(before, after, "billbook_refunds_total") == 1
    assert delta(before, after, "billbook_insufficient_balance_total") == 3


def test_workers_report_together_in_multiprocess_mode(tmp_path: Path) -> None:
    """Two workers, one ``PROMETHEUS_MULTIPROC_DIR``: any worker's scrape counts every worker's requests."""
    directory = tmp_path / "prom"
    directory.mkdir()
    (directory / "counter_99999.db").write_bytes(b"left over from an earlier run")
    url = f"sqlite:///{tmp_path / 'billbook.db'}"
    proc, base = start_server(url, workers=2, env={"PROMETHEUS_MULTIPROC_DIR": str(directory)})
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            account = create_account(http, ADMIN_TOKEN)
            key = create_key(http, ADMIN_TOKEN, account["id"])
        # A new connection per request, so the kernel spreads them over both workers.
        for _ in range(40):
            response = httpx.get(f"{base}/api/v3/balance", headers={"Authorization": f"Bearer {key['api_key']}"})
            assert response.status_code == 200
        pids = {p.name.rsplit("_", 1)[1] for p in directory.glob("*.db")}
        scraped = [samples(httpx.get(f"{base}/metrics").text) for _ in range(6)]
    finally:
        stop_server(proc)
    assert pids and "99999.db" not in pids  # the stale file was cleared at start
    balance = {"method": "GET", "route": "/api/v3/balance", "status": "200"}
    for s in scraped:
        assert value(s, "billbook_http_requests_total", **balance) == 40
