"""The benchmark harness in quick mode, end to end, on both databases, so it never rots.

``bench/`` is not part of the package, so nothing else would notice when a change to the schema,
the API or the ledger breaks the generator, the baselines or the runner. Quick mode asserts only
correctness and the shape of the results, never speed:

* on a generated data set (20,000 records): every response's shape, totals equal to ``COUNT(*)``,
  non-empty pages, billbook's pages equal to both baselines' and its usage statistics equal to the
  naive baseline's, exact ingestion counts and ``billbook verify`` clean afterwards;
* on a fresh database filled through the API (``--fresh``): the small account holds exactly 51
  records, every server answered the wrk runs without an error, the unanalysed searches'
  totals equal ``COUNT(*)`` (PostgreSQL), ingestion created every charge at each worker count.

Throughput needs ``wrk``. Without it the throughput part is skipped with a message (the fresh
form needs it and is skipped), except under ``CI=true``, where the runner refuses to skip it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI, drop_pg_database, new_pg_database

# tests/conftest.py has put bench/ on sys.path (the server launcher lives there).
import generate  # noqa: E402
import run  # noqa: E402

HAS_WRK = shutil.which("wrk") is not None


def _run_args(meta: Path, out: Path) -> list[str]:
    args = ["--meta", str(meta), "--quick", "--out", str(out)]
    if not HAS_WRK and not IN_CI:
        print("wrk is not installed (apt-get install -y wrk): the throughput part is skipped", file=sys.stderr)
        args += ["--skip", "throughput"]
    return args


def _check(result: dict, meta: dict) -> None:
    assert set(result["latency"]) == {"billbook", "plain", "naive"}
    assert "big_usage_31d" not in result["latency"]["plain"]  # the plain baseline serves search and balance only
    assert all(case["n"] >= 3 for server in result["latency"].values() for case in server.values())
    assert result["ingestion"]["records_added"] == result["ingestion"]["batch"]["charges"] + result["ingestion"]["single"]["charges"]
    assert result["verify"]["ok"] is True
    assert result["memory"]["billbook"]["peak_rss_mb"] > 0
    assert meta["records"] > 15_000 and meta["big"]["id"] and len(meta["prediction_uuids"]) == 20


def test_quick_sqlite(tmp_path: Path) -> None:
    meta_path = tmp_path / "quick.meta.json"
    meta = generate.main(["--db", f"sqlite:///{tmp_path / 'quick.db'}", "--quick", "--meta", str(meta_path)])
    result = run.main(_run_args(meta_path, tmp_path / "out"))
    _check(result, meta)
    assert list((tmp_path / "out").glob("*.md"))


@pytest.mark.postgres
def test_quick_postgresql(tmp_path: Path, direct_pg_admin_url: str) -> None:
    """Directly on the server, as the benchmark measures (the baselines know of no pooler)."""
    pg_admin_url = direct_pg_admin_url
    name, url = new_pg_database(pg_admin_url)
    try:
        meta_path = tmp_path / "quick.meta.json"
        meta = generate.main(["--db", url, "--quick", "--meta", str(meta_path)])
        result = run.main(_run_args(meta_path, tmp_path / "out"))
        _check(result, meta)
    finally:
        drop_pg_database(pg_admin_url, name)


def _check_fresh(report: dict, dialect: str) -> None:
    r = report["dialects"][dialect]
    assert r["small_records"] == run.SMALL_RECORDS
    assert set(r["small_search"]) == {"billbook", "plain", "naive"}
    for server, runs in r["small_search"].items():
        assert {"search_c32", "search_c1"} <= set(runs), server
        assert all(x["requests"] > 0 and x["errors"] == 0 for x in runs.values()), (server, runs)
    assert {"healthz", "docs"} <= set(r["small_search"]["billbook"])
    assert list(r["workers"]) == ["1", "2"]
    for n, x in r["workers"].items():
        assert x["ingestion"]["charges"] == report["plan"]["ingest_charges"], n
        assert x["database_is_locked"] == 0, n
    if dialect == "postgresql":
        u = r["unanalysed"]
        assert u["load"]["charges"] == report["plan"]["big_charges"] <= u["big_records"]  # plus its opening balance
        assert set(u["latency"]) == {"small_page1", "big_type_30d", "big_page1", "big_deep", "big_model"}
        for runs in (u["latency"], u["latency_after_analyze"]):
            assert set(runs) == set(u["latency"]) and all(x["n"] >= 3 and x["vs_small_page1"] > 0 for x in runs.values())
    assert "| billbook |" in run.fresh_markdown(report)


def _fresh(tmp_path: Path, dialect: str) -> dict:
    if not HAS_WRK:
        if IN_CI:
            pytest.fail("wrk is not installed (apt-get install -y wrk); CI must run the fresh benchmark")
        pytest.skip("wrk is not installed (apt-get install -y wrk)")
    return run.main(["--fresh", dialect, "--quick", "--out", str(tmp_path)])


def test_fresh_quick_sqlite(tmp_path: Path) -> None:
    _check_fresh(_fresh(tmp_path, "sqlite"), "sqlite")


@pytest.mark.postgres
def test_fresh_quick_postgresql(tmp_path: Path, direct_pg_admin_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "PG_ADMIN_URL", direct_pg_admin_url)
    _check_fresh(_fresh(tmp_path, "postgresql"), "postgresql")
