"""Randomized workloads, replayable from a seed, checked against an in-memory model of the ledger.

Each seed makes a few accounts and runs a random interleaving of charges, retries (same and
different payload), status changes (most of them illegal), recharges and adjustments (retried
under their reference), key revocations and malformed requests through the HTTP API. Charges hold
for their own ``hold_timeout_s`` or the server's default, some back-dated past their hold's end;
sweeps of expired holds must time out and refund exactly the predictions the model says, and a late
status for a swept prediction is refused. After every step the balances and record counts must
equal the model's; at the end every account is read back through the public search API and
``verify`` must pass over the whole database.

CI runs 150 seeds on SQLite and 40 on PostgreSQL, 30 steps each. Environment variables:

    BILLBOOK_SEED=123 pytest tests/ledger/test_workload.py        # replay one seed (printed on failure)
    BILLBOOK_SEEDS=5000 BILLBOOK_STEPS=200 pytest tests/ledger/test_workload.py   # a long run
    BILLBOOK_SEED_BASE=100000 ...                                   # start from other seeds
"""

from __future__ import annotations

import os

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.workload.runner import Mismatch, run_seed

CI_SEEDS = {"sqlite": 150, "postgresql": 40}
MAX_REPORTED = 3


def _seeds(backend: str) -> list[int]:
    if os.environ.get("BILLBOOK_SEED"):
        return [int(s) for s in os.environ["BILLBOOK_SEED"].split(",")]
    count = int(os.environ.get("BILLBOOK_SEEDS", CI_SEEDS[backend]))
    base = int(os.environ.get("BILLBOOK_SEED_BASE", "0"))
    return list(range(base, base + count))


async def test_random_workloads_match_the_model(client: httpx.AsyncClient, app, database_url: str) -> None:  # noqa: ANN001
    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    steps = int(os.environ.get("BILLBOOK_STEPS", "30"))
    failures: list[str] = []
    for seed in _seeds(backend):
        try:
            await run_seed(client, app.state.db, ADMIN_TOKEN, seed, steps, app.state.settings.hold_timeout_s)
        except Mismatch as exc:
            failures.append(f"{exc}\n  replay: BILLBOOK_SEED={seed} BILLBOOK_STEPS={steps} "
                            f"pytest tests/ledger/test_workload.py -k {backend}")
            if len(failures) >= MAX_REPORTED:
                break
    assert not failures, "\n\n".join(failures)
