"""Which streaming replica may serve a read, and how stale each one is.

A replica may serve a read only while it is *fresh*: everything the primary had committed more than
``max_lag_ms`` ago has been replayed there. Freshness is measured on the servers, by WAL position,
never by replay timestamps (``now() - pg_last_xact_replay_timestamp()`` grows while the primary is
idle though the replica is fully caught up). A monitor in the background of each process samples,
every quarter of the bound (every second at most):

1. the primary's WAL position (``pg_current_wal_lsn()``), noting this process's clock *before* it
   is asked: every commit acknowledged before that moment lies at or below that position;
2. each replica's replayed position (``pg_last_wal_replay_lsn()``).

A replica that has replayed past a primary sample taken at moment ``T`` holds every commit
acknowledged before ``T``, so a read it serves now is at most ``now - T`` old. A replica stops
serving as soon as ``now - T`` passes the bound, whether its replay is slow, paused or the monitor
cannot reach it; only the monitor's next sample lets it serve again. The primary's samples are kept
for the length of the bound, so a replica a few samples behind still gets credit for where it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from billbook.store.pg_transaction import PgConnections

log = logging.getLogger("billbook")

#: ``pg_lsn`` minus ``0/0`` is its position in bytes (numeric), comparable as an integer.
PRIMARY_POSITION_SQL = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
REPLAYED_POSITION_SQL = "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint"
#: The monitor samples this many times per bound, so a healthy replica is never near it, and at
#: least this often (seconds), so a replica that was behind serves again soon after catching up.
SAMPLES_PER_BOUND = 4
MAX_SAMPLE_INTERVAL_S = 1.0


@dataclass
class Replica:
    """One replica's connections and the primary moment (monotonic seconds) it is known to be fresh as of."""

    connections: PgConnections
    fresh_as_of: float | None = None

    @property
    def engine(self) -> AsyncEngine:
        return self.connections.engine


@dataclass
class ReplicaSet:
    """The replicas of one primary and their freshness; ``pick`` chooses one for a read."""

    primary: AsyncEngine
    replicas: Sequence[Replica]
    max_lag_ms: int
    _samples: deque[tuple[float, int]] = field(default_factory=deque)
    _monitor: asyncio.Task | None = None

    @property
    def interval_s(self) -> float:
        return min(self.max_lag_ms / 1000 / SAMPLES_PER_BOUND, MAX_SAMPLE_INTERVAL_S)

    def pick(self) -> PgConnections | None:
        """A fresh replica's connections (at random among the fresh ones), or None: the primary serves.

        Starts the monitor on first use, so the first reads after start go to the primary."""
        self._ensure_monitor()
        now = time.monotonic()
        bound = self.max_lag_ms / 1000
        fresh = [r for r in self.replicas if r.fresh_as_of is not None and now - r.fresh_as_of <= bound]
        return random.choice(fresh).connections if fresh else None  # noqa: S311 - spreading load, not a secret

    def lag_s(self, index: int) -> float | None:
        """How old a read served by replica ``index`` now could be, at most; None: not known."""
        seen = self.replicas[index].fresh_as_of
        return None if seen is None else time.monotonic() - seen

    def _ensure_monitor(self) -> None:
        if self._monitor is None or self._monitor.done():
            self._monitor = asyncio.get_running_loop().create_task(self._watch(), name="billbook-replica-monitor")

    async def _watch(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(self.interval_s)

    async def sample(self) -> None:
        """One round: the primary's position, then each replica's replayed position."""
        asked_at = time.monotonic()
        try:
            position = await _scalar(self.primary, PRIMARY_POSITION_SQL)
        except Exception as exc:  # noqa: BLE001 - an unreachable primary leaves the replicas' credit as it was
            log.warning("replica monitor: the primary did not answer: %s", exc)
        else:
            self._samples.append((asked_at, position))
        horizon = asked_at - 2 * self.max_lag_ms / 1000
        while len(self._samples) > 1 and self._samples[0][0] < horizon:
            self._samples.popleft()
        for replica in self.replicas:
            try:
                replayed = await _scalar(replica.engine, REPLAYED_POSITION_SQL)
            except Exception as exc:  # noqa: BLE001 - an unreachable replica keeps its old credit, which expires
                log.warning("replica monitor: a replica did not answer: %s", exc)
                continue
            covered = [at for at, lsn in self._samples if replayed is not None and lsn <= replayed]
            if covered:
                replica.fresh_as_of = max(covered + ([replica.fresh_as_of] if replica.fresh_as_of else []))

    async def close(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        for replica in self.replicas:
            await replica.connections.close()
            await replica.engine.dispose()


async def _scalar(engine: AsyncEngine, sql: str) -> int | None:
    """One value, in a transaction of its own (a transaction-mode pooler keeps it on one server)."""
    async with engine.begin() as conn:
        return (await conn.exec_driver_sql(sql)).scalar()
