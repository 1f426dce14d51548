"""The benchmark harness in quick mode, end to end, on both databases, so it never rots.

``bench/`` is not part of the package, so nothing else would notice when a change to the schema,
the API or the ledger breaks the generator, the baseline or the runner. Quick mode loads 20,000
records and asserts only correctness: every response's shape, totals equal to ``COUNT(*)``,
non-empty pages, billbook's pages and usage statistics equal to the baseline's, exact ingestion
counts and ``billbook verify`` clean afterwards. Speed is never asserted here.

Throughput needs ``wrk``. Without it the throughput part is skipped with a message, except under
``CI=true``, where the runner refuses to skip it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI, drop_pg_database, new_pg_database

BENCH = Path(__file__).resolve().parents[2] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import generate  # noqa: E402
import run  # noqa: E402


def _run_args(meta: Path, out: Path) -> list[str]:
    args = ["--meta", str(meta), "--quick", "--out", str(out)]
    if not shutil.which("wrk") and not IN_CI:
        print("wrk is not installed (apt-get install -y wrk): the throughput part is skipped", file=sys.stderr)
        args += ["--skip", "throughput"]
    return args


def _check(result: dict, meta: dict) -> None:
    assert set(result["latency"]) == {"billbook", "baseline"}
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
def test_quick_postgresql(tmp_path: Path, pg_admin_url: str) -> None:
    name, url = new_pg_database(pg_admin_url)
    try:
        meta_path = tmp_path / "quick.meta.json"
        meta = generate.main(["--db", url, "--quick", "--meta", str(meta_path)])
        result = run.main(_run_args(meta_path, tmp_path / "out"))
        _check(result, meta)
    finally:
        drop_pg_database(pg_admin_url, name)
