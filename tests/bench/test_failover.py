"""The failover drill in its short form (``bench/failover.py --short``): Patroni over etcd, a
primary and a synchronous standby; the primary SIGKILLed while charges flow. Asserts what must
hold whatever the timing: the standby took over, charging resumed without restarting billbook,
no acknowledged charge was lost and ``billbook verify`` passes on the new primary."""

from __future__ import annotations

import os

import pytest

from tests.conftest import IN_CI

# tests/conftest.py has put bench/ on sys.path.
import failover  # noqa: E402
from pgtopology import ETCD, PATRONI  # noqa: E402

MISSING = [path for path in (PATRONI, ETCD) if not os.path.exists(path)]

pytestmark = pytest.mark.postgres


def test_a_killed_primary_loses_no_acknowledged_charge() -> None:
    if MISSING:
        message = f"{' and '.join(MISSING)} not installed (scripts/test installs Debian's patroni and etcd-server)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    result = failover.drill(before_s=5, after_s=5, rate=10)
    assert result.promoted != result.killed
    assert result.charges_refused > 0  # the outage was seen, and charging resumed, same server:
    assert result.acknowledged_after_promotion > 0
    assert result.acknowledged_lost == 0
    assert result.verify_exit_code == 0
