"""Per-key rate limiting for the public routes: GCRA, in Redis when several processes serve, else in memory.

GCRA (the generic cell rate algorithm) keeps one number per key, the "theoretical arrival time":
when the key's next request would be on schedule if it sent exactly at the configured rate. A
request is let through while that time is less than ``burst`` intervals ahead of now, and moves it
one interval on. One number means one Redis key, one atomic script call, no lists of timestamps,
and an exact ``Retry-After``: the time until the schedule is back within the burst.

With Redis, the script reads the clock with ``TIME`` inside Redis, so workers on several machines
with drifting clocks still share one schedule. Redis keys are the configured prefix and a SHA-256
of the key's public lookup part: no secret, nor anything that identifies the key, is stored. If
Redis cannot be reached the request is let through (a billing API that refuses to answer because its
limiter is down is worse than one briefly unlimited), counted in a metric and logged.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Protocol

from billbook.api import metrics

log = logging.getLogger("billbook.ratelimit")

_PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(second|minute|hour|day|s|m|h|d)s?\s*$", re.IGNORECASE)
_SHORT = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


@dataclass(frozen=True)
class Rate:
    """``count`` requests per ``period`` seconds sustained, up to ``burst`` at once."""

    count: int
    period: float
    burst: int

    @property
    def interval(self) -> float:
        return self.period / self.count

    @classmethod
    def parse(cls, text: str | None, burst: int | None = None) -> Rate | None:
        """``600/minute``, ``10/second``, ``1000/5m``; ``None``, ``""``, ``off``: no limit."""
        if text is None or text.strip().lower() in ("", "off", "none", "0"):
            return None
        match = _RATE_RE.match(text)
        if not match or int(match.group(1)) < 1:
            raise ValueError(f"BILLBOOK_RATE_LIMIT must look like '600/minute' (N/second|minute|hour|day), got {text!r}")
        unit = match.group(3).lower()
        period = _PERIODS[_SHORT.get(unit, unit)] * int(match.group(2) or 1)
        count = int(match.group(1))
        if burst is not None and burst < 1:
            raise ValueError(f"BILLBOOK_RATE_LIMIT_BURST must be at least 1, got {burst}")
        return cls(count=count, period=float(period), burst=burst or count)


def bucket(lookup: str) -> str:
    """The name a key's schedule is kept under: a hash, so the store never holds the key's identity."""
    return hashlib.sha256(lookup.encode()).hexdigest()[:32]


class Limiter(Protocol):
    rate: Rate

    async def wait_time(self, name: str) -> float:
        """Take one request from ``name``'s allowance: 0 if it may go ahead, else seconds to wait."""
        ...

    async def aclose(self) -> None: ...


class MemoryLimiter:
    """GCRA in this process's memory (one worker, or a per-worker limit)."""

    PRUNE_EVERY = 4096

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._interval = rate.interval
        self._span = rate.burst * rate.interval
        self._tat: dict[str, float] = {}
        self._calls = 0
        self._now = time.monotonic

    async def wait_time(self, name: str) -> float:
        now = self._now()
        self._calls += 1
        if self._calls % self.PRUNE_EVERY == 0:
            self._prune(now)
        tat = max(self._tat.get(name, now), now) + self._interval
        ahead = tat - now
        if ahead > self._span:
            return ahead - self._span
        self._tat[name] = tat
        return 0.0

    def _prune(self, now: float) -> None:
        """Forget keys whose schedule is in the past: they are back to a full burst anyway."""
        for name in [n for n, tat in self._tat.items() if tat <= now]:
            del self._tat[name]

    async def aclose(self) -> None:
        self._tat.clear()


# KEYS[1]: the bucket; ARGV[1]: interval, ARGV[2]: burst * interval, both in microseconds.
# Returns 0 when allowed, else the microseconds until the request would be.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
tat = tat + interval
local ahead = tat - now
if ahead > span then
  return ahead - span
end
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.ceil(ahead / 1000))
return 0
"""


class RedisLimiter:
    """GCRA in Redis, one schedule per key shared by every process that uses the same Redis and prefix."""

    #: Seconds between two "Redis unreachable" log lines, so an outage does not flood the log.
    LOG_EVERY = 60.0

    def __init__(self, rate: Rate, url: str, prefix: str) -> None:
        from redis.asyncio import Redis

        self.rate = rate
        self._prefix = prefix
        self._args = (max(1, round(rate.interval * 1e6)), max(1, round(rate.burst * rate.interval * 1e6)))
        self._redis = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5, health_check_interval=30)
        self._script = self._redis.register_script(_GCRA)
        self._last_error_log = -math.inf

    async def wait_time(self, name: str) -> float:
        from redis.exceptions import RedisError

        try:
            wait_us = await self._script(keys=[self._prefix + name], args=self._args)
        except (RedisError, OSError, TimeoutError) as exc:
            metrics.RATE_LIMIT_ERRORS.inc()
            now = time.monotonic()
            if now - self._last_error_log >= self.LOG_EVERY:
                self._last_error_log = now
                log.warning("rate limit not applied: Redis unreachable (%s)", type(exc).__name__)
            return 0.0
        return int(wait_us) / 1e6

    async def aclose(self) -> None:
        await self._redis.aclose()


def make_limiter(rate: Rate | None, redis_url: str | None, prefix: str) -> Limiter | None:
    if rate is None:
        return None
    if redis_url:
        return RedisLimiter(rate, redis_url, prefix)
    return MemoryLimiter(rate)


def retry_after(seconds: float) -> int:
    """Whole seconds for the header, never 0 (a client told 0 would retry at once and be refused)."""
    return max(1, math.ceil(seconds))
