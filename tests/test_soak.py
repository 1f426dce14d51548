"""The soak's short form: ``bench/soak.py`` for 20 seconds (``BILLBOOK_SOAK_SECONDS``) at a modest rate.

The full run (``python bench/soak.py --minutes 10 --rate 200``) is recorded in bench/RESULTS.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

SOAK = Path(__file__).resolve().parent.parent / "bench" / "soak.py"

pytestmark = [pytest.mark.soak, pytest.mark.postgres]


def _load_soak():  # noqa: ANN202 - the module object
    spec = importlib.util.spec_from_file_location("billbook_bench_soak", SOAK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_short_soak(pg_admin_url: str) -> None:
    soak = _load_soak()
    seconds = float(os.environ.get("BILLBOOK_SOAK_SECONDS", "20"))
    rate = float(os.environ.get("BILLBOOK_SOAK_RATE", "50"))
    report = soak.run(seconds, rate, pg_admin_url, n_accounts=10)
    summary = report.summary()
    assert summary["requests"] == int(seconds * rate), json.dumps(summary, indent=2)
    assert not report.errors, json.dumps(summary, indent=2)
    assert not report.server_errors, report.server_errors[:5]
    assert not report.balance_mismatches, report.balance_mismatches[:5]
    assert summary["memory"]["flat"], json.dumps(summary["memory"], indent=2)


def test_results_are_recorded_in_their_own_section(tmp_path: Path) -> None:
    soak = _load_soak()
    path = tmp_path / "RESULTS.md"
    soak.record("### run one\n", path)
    assert path.read_text().count("## Soak") == 1 and path.read_text().endswith("### run one\n")
    path.write_text(path.read_text() + "\n## Throughput\n\nother figures\n")
    soak.record("### run two\n", path)
    text = path.read_text()
    assert text.index("### run one") < text.index("### run two") < text.index("## Throughput")
    assert text.rstrip().endswith("other figures")
