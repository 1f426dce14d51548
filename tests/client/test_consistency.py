"""Reading everything exactly once while records keep arriving (docs/decisions/0005).

First against an in-memory model of the search endpoint, through many seeded interleavings, then
against the live server, with inserts from a hook between pages and from a concurrent writer.
"""

from __future__ import annotations

import io
import json
import random
import threading
import tracemalloc
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import pytest

from billbook.client import AsyncClient, Client
from billbook.times import now_ms
from tests.client.conftest import Customer, FakeLedger, envelope, wire_record
from tests.factories import create_charge

BASE = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def fake_client(ledger: FakeLedger) -> Client:
    http = httpx.Client(transport=ledger.transport())
    return Client(api_key="k", base_url="http://fake", http_client=http, max_retries=0)


def seed(ledger: FakeLedger, rng: random.Random, count: int) -> set[str]:
    """Records over a short span, so that many share a millisecond (some more than a page)."""
    uuids = set()
    for _ in range(count):
        uuids.add(ledger.insert(BASE + rng.choice([0, 1, 1, 1, 1, 1, 1, 2, 5, 9, 9, 9, 40])))
    return uuids


def meddler(rng: random.Random, descending: bool) -> Any:
    """Before each search, insert records at the bound's millisecond, behind it, ahead of it, past
    the end, and anywhere."""

    def insert(ledger: FakeLedger, body: dict[str, Any]) -> None:
        bound = int(body.get("end_time" if descending else "start_time", BASE))
        for _ in range(rng.randint(0, 3)):
            where = rng.choice(["at", "behind", "ahead", "past", "anywhere"])
            step = rng.randint(0, 6)
            behind, ahead = (1, -1) if descending else (-1, 1)
            at = {
                "at": bound,
                "behind": bound + behind * step,
                "ahead": bound + ahead * step,
                "past": BASE + 41 + step,
                "anywhere": BASE + rng.randint(-3, 45),
            }[where]
            ledger.insert(at)

    return insert


def check_exactly_once(emitted: list[str], before: set[str], ledger: FakeLedger) -> None:
    counts = Counter(emitted)
    repeated = [u for u, n in counts.items() if n > 1]
    assert not repeated, f"repeated: {repeated}"
    missing = before - counts.keys()
    assert not missing, f"skipped {len(missing)} records that existed before the read"
    assert counts.keys() <= {r["uuid"] for r in ledger.rows}


@pytest.mark.parametrize("descending", [False, True], ids=["oldest-first", "newest-first"])
@pytest.mark.parametrize("page_size", [1, 2, 3, 7])
def test_every_record_exactly_once_under_adversarial_inserts(descending: bool, page_size: int) -> None:
    for trial in range(25):
        rng = random.Random(f"{descending}-{page_size}-{trial}")
        ledger = FakeLedger()
        before = seed(ledger, rng, rng.randint(0, 40))
        ledger.before_search = meddler(rng, descending)
        with fake_client(ledger) as client:
            records = client.billings.iter(sort="desc" if descending else "asc", page_size=page_size)
            emitted = [r.uuid for r in records]
        check_exactly_once(emitted, before, ledger)
        assert records.total is not None and records.total >= len(before)


def test_records_inserted_ahead_of_the_reader_are_included() -> None:
    ledger = FakeLedger()
    before = {ledger.insert(BASE + i) for i in range(10)}
    added: list[str] = []

    def ahead(ledger: FakeLedger, body: dict[str, Any]) -> None:
        if ledger.searches == 3:  # mid-way: one in the window's future, one past its end
            added.append(ledger.insert(BASE + 8))
            ledger.insert(BASE + 100)

    ledger.before_search = ahead
    with fake_client(ledger) as client:
        emitted = [r.uuid for r in client.billings.iter(sort="asc", page_size=2)]
    check_exactly_once(emitted, before, ledger)
    assert added[0] in emitted
    assert len(emitted) == 11


def test_a_millisecond_with_more_records_than_a_page() -> None:
    ledger = FakeLedger()
    before = {ledger.insert(BASE) for _ in range(25)} | {ledger.insert(BASE + 1) for _ in range(3)}

    def same_ms(ledger: FakeLedger, body: dict[str, Any]) -> None:
        ledger.insert(BASE)

    ledger.before_search = same_ms
    for sort in ("asc", "desc"):
        with fake_client(ledger) as client:
            emitted = [r.uuid for r in client.billings.iter(sort=sort, page_size=4)]
        check_exactly_once(emitted, before, ledger)


def test_window_end_is_read_from_the_server_not_the_clock() -> None:
    """Records stamped ahead of the client's clock (a server clock running fast) still come out."""
    ledger = FakeLedger()
    future = now_ms() + 3_600_000
    before = {ledger.insert(future + i) for i in range(5)}
    with fake_client(ledger) as client:
        records = client.billings.iter(sort="asc", page_size=2)
        emitted = [r.uuid for r in records]
    assert set(emitted) == before
    assert records.window == (None, future + 4)


def test_a_server_ignoring_time_bounds_is_an_error_not_an_endless_loop() -> None:
    ledger = FakeLedger()
    for i in range(6):
        ledger.insert(BASE + i)

    def ignore_bounds(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        body.pop("start_time", None)
        return httpx.Response(200, json=envelope(ledger.search(body)))

    http = httpx.Client(transport=httpx.MockTransport(ignore_bounds))
    with Client(api_key="k", base_url="http://fake", http_client=http) as client:
        from billbook.client import APIError

        with pytest.raises(APIError, match="outside the requested time window"):
            list(client.billings.iter(sort="asc", page_size=2))


async def test_async_iteration_is_exactly_once_too() -> None:
    rng = random.Random("async")
    ledger = FakeLedger()
    before = seed(ledger, rng, 30)
    ledger.before_search = meddler(rng, descending=False)

    async def handle(request: httpx.Request) -> httpx.Response:
        return ledger.handle(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    async with AsyncClient(api_key="k", base_url="http://fake", http_client=http) as client:
        records = client.billings.iter(sort="asc", page_size=3)
        assert await records.get_total() >= 30
        emitted = [r.uuid async for r in records]
    await http.aclose()
    check_exactly_once(emitted, before, ledger)


# --- constant memory -------------------------------------------------------------------------------


class Synthetic:
    """``count`` records, three per millisecond, computed rather than stored."""

    def __init__(self, count: int) -> None:
        self.count = count

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        lo = max(0, 3 * (int(body.get("start_time", BASE)) - BASE))
        hi = min(self.count - 1, 3 * (int(body.get("end_time", 2**62 // 4)) - BASE) + 2)
        total = max(0, hi - lo + 1)
        size, page = body["page_size"], body["page"]
        offsets = range((page - 1) * size, min(page * size, total))
        desc = body["sort"].endswith("DESC")
        items = [self.record(hi - o if desc else lo + o) for o in offsets]
        data = {"page": page, "total": total, "has_more": page * size < total, "items": items}
        return httpx.Response(200, json=envelope(data))

    @staticmethod
    def record(index: int) -> dict[str, Any]:
        return wire_record(f"{index:032x}", BASE + index // 3)


def export_peak(count: int, tmp_path: Any) -> int:
    with httpx.Client(transport=httpx.MockTransport(Synthetic(count).handle)) as http:
        client = Client(api_key="k", base_url="http://fake", http_client=http)
        tracemalloc.start()
        try:
            result = client.billings.export(tmp_path / f"out-{count}.jsonl")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert result.written == count
    return peak


def test_export_memory_does_not_grow_with_the_number_of_records(tmp_path: Any) -> None:
    # The lowest of three peaks each: tracemalloc counts every thread of the test process, and a
    # background thread of another fixture may allocate during any one export (peaks of one size
    # vary by a third from run to run). Twenty times the records would show as many times the
    # memory in every run if the export held them; it stays flat.
    small = min(export_peak(1_000, tmp_path) for _ in range(3))
    large = min(export_peak(20_000, tmp_path) for _ in range(3))
    assert large < small * 2.5, (small, large)
    lines = (tmp_path / "out-20000.jsonl").read_text().splitlines()
    assert len(lines) == 20_000 and len(set(lines)) == 20_000


# --- live server -----------------------------------------------------------------------------------


def _history(customer: Customer, start: int) -> set[str]:
    """A history with bursts in one millisecond: 6 at ``start``, then singles, then 5 at +50."""
    times = [start] * 6 + [start + i for i in range(1, 30, 3)] + [start + 50] * 5
    return {record_uuid(customer.charge(created_at=t)) for t in times}


def record_uuid(charge: dict[str, Any]) -> str:
    return str(charge["record"]["uuid"])


def _charge_uuid(customer: Customer, created_at: int | None = None) -> str:
    return record_uuid(customer.charge(created_at=created_at))


def test_live_export_with_inserts_between_pages(customer: Customer, tmp_path: Any) -> None:
    start = now_ms() - 3_600_000
    history = _history(customer, start)
    with Client(api_key=customer.api_key, base_url=customer.base_url) as client:
        before = {r.uuid for r in client.billings.iter(start_time=start)}
    assert history <= before and len(before) == len(history) + 1  # and the opening recharge
    ahead: list[str] = []
    pages = []

    def meddle(response: httpx.Response) -> None:
        if not response.url.path.endswith("/billings/search"):
            return
        response.read()
        items = response.json()["data"]["items"]
        pages.append(len(items))
        if not items or len(pages) > 12:
            return
        edge = _ms(items[-1]["created_at"])
        _charge_uuid(customer, created_at=edge)  # same millisecond as the reader's bound
        _charge_uuid(customer, created_at=edge - 1)  # behind it
        _charge_uuid(customer)  # now: past the frozen end
        if edge + 7 <= start + 50:
            ahead.append(_charge_uuid(customer, created_at=edge + 7))  # ahead, inside the window

    out = tmp_path / "live.jsonl"
    with httpx.Client(event_hooks={"response": [meddle]}) as http:
        client = Client(api_key=customer.api_key, base_url=customer.base_url, http_client=http)
        result = client.billings.export(out, start_time=start, page_size=4)
    lines = out.read_text().splitlines()
    emitted = [json.loads(line)["uuid"] for line in lines]
    assert len(emitted) == len(set(emitted)), "a record was written twice"
    assert before <= set(emitted), "a record that existed before the export was skipped"
    assert set(ahead) <= set(emitted), "a record inserted ahead of the reader was missed"
    assert result.written == len(emitted) and result.total_at_start == len(before)
    assert len(pages) > 5


def _ms(iso: str) -> int:
    from billbook.times import datetime_to_ms, parse_iso

    return datetime_to_ms(parse_iso(iso))


def test_live_export_while_a_writer_runs_concurrently(customer: Customer, tmp_path: Any) -> None:
    start = now_ms() - 3_600_000
    history = _history(customer, start)
    with Client(api_key=customer.api_key, base_url=customer.base_url) as client:
        before = {r.uuid for r in client.billings.iter(start_time=start)}
    assert history <= before and len(before) == len(history) + 1  # and the opening recharge
    stop = threading.Event()
    written: list[str] = []

    def writer() -> None:
        rng = random.Random(7)
        with httpx.Client(base_url=customer.base_url, timeout=30) as admin:
            for _ in range(400):  # bounded, whatever the export does
                if stop.is_set():
                    return
                at = rng.choice([None, start + rng.randint(0, 50)])
                body = create_charge(admin, customer.admin_token, customer.access_key_id, created_at=at)
                written.append(record_uuid(body))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with Client(api_key=customer.api_key, base_url=customer.base_url) as client:
            buffer = io.StringIO()
            client.billings.export(buffer, format="jsonl", start_time=start, page_size=3)
    finally:
        stop.set()
        thread.join()
    emitted = [json.loads(line)["uuid"] for line in buffer.getvalue().splitlines()]
    assert len(emitted) == len(set(emitted))
    assert before <= set(emitted)
    assert set(emitted) <= before | set(written)


def test_page_numbers_alone_would_repeat_a_record(customer: Customer) -> None:
    """Why the cursor exists: one back-fill between two numbered pages shows a record twice."""
    start = now_ms() - 600_000
    for i in range(6):
        customer.charge(created_at=start + 10 * i)
    with Client(api_key=customer.api_key, base_url=customer.base_url) as client:
        first = client.billings.search(start_time=start, sort="asc", page=1, page_size=3)
        customer.charge(created_at=start + 1)
        second = client.billings.search(start_time=start, sort="asc", page=2, page_size=3)
    assert first.items[-1].uuid == second.items[0].uuid
    assert all(isinstance(r.price, Decimal) for r in first)
