"""Spend limits and the alerts that go with them, checked and kept inside the ledger change.

Spend is deducts net of their refunds, per key and per account, in three windows: the UTC day and
the UTC month of the deduct's ``created_at``, and the total. A refund frees spend in the windows of
its deduct (as ``usage_daily`` counts it), so a back-dated charge and its refund always meet in the
same window. The rollup (``spend_windows``) is read and changed under the account's lock, which
every charge and refund of the account takes first, so concurrent charges see each other's spend
and exactly those that fit get through (on SQLite the single writer does the same).

Alerts fire once per crossing. A window row keeps the highest level (80 or 100 %) alerted since it
last re-armed: a charge raises it (and writes ``limit.warning``/``limit.reached`` for each level
it passes), a charge refused by the limit counts as reaching it, and a refund, or an operator or
customer raising the limit, lowers it to where the spend now is, re-arming what it left. A new
window is a new row, so a rollover re-arms by itself. Low-balance alerts need no stored state: the
balance is locked and known before and after each change, so a crossing is ``before >= T > after``,
and it re-arms by going back over T. See docs/decisions/0022-spend-limits-and-alerts.md.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger import events
from billbook.ledger.errors import InvalidRequest, NotFound, SpendLimitExceeded
from billbook.money import MAX_BALANCE_MICROS, format_usd
from billbook.store import accounts as account_store
from billbook.store import keys as key_store
from billbook.store import limits as limit_store
from billbook.store.rows import KeyRow, LimitRow, NewEvent, SpendWindow
from billbook.times import MS_PER_DAY, day_of, day_to_date, now_ms
from billbook.vocabulary import EventType, LimitPeriod, LimitSetter

PERIODS = tuple(LimitPeriod)
#: The account's own windows have this in place of an access key id.
ACCOUNT = ""
#: Alert levels, in percent of a limit.
WARNING, REACHED = 80, 100
_LEVEL_EVENTS = {WARNING: EventType.LIMIT_WARNING, REACHED: EventType.LIMIT_REACHED}
#: Most low-balance thresholds an account keeps.
MAX_THRESHOLDS = 10


def month_start(day: int) -> int:
    """The first UTC day of the month holding ``day``."""
    return day - time.gmtime(day * 86_400).tm_mday + 1


def window_start(period: LimitPeriod, at: int) -> int:
    """The first UTC day of the window of ``period`` holding the time ``at`` (``total``: 0)."""
    if period == LimitPeriod.DAILY:
        return day_of(at)
    if period == LimitPeriod.MONTHLY:
        return month_start(day_of(at))
    return 0


@lru_cache(maxsize=4096)
def _day_starts(day: int) -> tuple[tuple[LimitPeriod, int], ...]:
    """Each period's window start for a charge on UTC ``day``: asked for every charge several
    times, for a few distinct days."""
    return tuple((p, window_start(p, day * MS_PER_DAY)) for p in PERIODS)


def starts(at: int) -> dict[LimitPeriod, int]:
    return dict(_day_starts(day_of(at)))


def level(amount: int, limit: int | None) -> int:
    """How far ``amount`` is into ``limit``: 0, 80 or 100 (%)."""
    if limit is None:
        return 0
    if amount >= limit:
        return REACHED
    return WARNING if amount * 100 >= limit * WARNING else 0


@dataclass(frozen=True)
class Limit:
    """The limit that applies in one window: the lower of the two setters', and whose it is."""

    amount: int
    setter: str


def effective(rows: Iterable[LimitRow]) -> dict[tuple[int, str], dict[LimitPeriod, Limit]]:
    """Per ``(account_id, subject)``, the lower limit of each period over both setters."""
    found: dict[tuple[int, str], dict[LimitPeriod, Limit]] = defaultdict(dict)
    for row in rows:
        for period in PERIODS:
            amount = getattr(row, period)
            current = found[(row.account_id, row.access_key_id)].get(period)
            if amount is not None and (current is None or amount < current.amount):
                found[(row.account_id, row.access_key_id)][period] = Limit(amount, row.setter)
    return found


def _subject_name(subject: str) -> str:
    return f"access key {subject}" if subject else "the account"


WindowKey = tuple[int, str, str, int]
_NONE: Mapping[LimitPeriod, Limit] = {}


class SpendBook:
    """The limits and windows one ledger change touches, read once under the accounts' locks and
    written back in one statement: constant work whatever the history.

    Only the windows of subjects with a limit are read (``stored``): a window without one is never
    checked and alerts nothing, so its spend is added blind and its alert level kept (re-armed by
    spend going back, as a limited window's would be). A batch spread over many accounts without
    limits reads no windows at all."""

    def __init__(self, limits: Mapping[tuple[int, str], dict[LimitPeriod, Limit]], rows: Iterable[SpendWindow]) -> None:
        self.limits = limits
        self.stored = {(w.account_id, w.access_key_id, w.period, w.start): w for w in rows}
        self.deltas: dict[WindowKey, int] = defaultdict(int)
        self.refused: set[WindowKey] = set()

    @classmethod
    async def load(
        cls, conn: AsyncConnection, subjects: Collection[tuple[int, str]], times: Collection[int], *, every_window: bool = False
    ) -> SpendBook:
        """For ``(account_id, access_key_id)`` pairs charged or refunded at ``times``; with
        ``every_window``, the windows of subjects without a limit are read too."""
        accounts = {a for a, _ in subjects}
        keys = {k for _, k in subjects} | {ACCOUNT}
        limits = effective(await limit_store.limits(conn, accounts, keys))
        read = subjects if every_window else [s for s, by_period in limits.items() if by_period]
        windows: list[SpendWindow] = []
        if read:
            window_starts = {s for at in times for s in starts(at).values()}
            read_keys = {k for _, k in read} | ({ACCOUNT} if every_window else set())
            windows = await limit_store.windows(conn, {a for a, _ in read}, read_keys, window_starts)
        return cls(limits, windows)

    def limited(self, key: WindowKey) -> bool:
        """Whether the window's subject has a limit in some period (its windows were read)."""
        return bool(self.limits.get((key[0], key[1])))

    def amount(self, key: WindowKey) -> int:
        stored = self.stored.get(key)
        return (stored.amount if stored else 0) + self.deltas.get(key, 0)

    def _windows(self, account_id: int, access_key_id: str, at: int) -> Iterable[tuple[WindowKey, Limit | None]]:
        periods = _day_starts(day_of(at))
        for subject in (access_key_id, ACCOUNT):
            limits = self.limits.get((account_id, subject), _NONE)
            for period, start in periods:
                yield (account_id, subject, period, start), limits.get(period)

    def check(self, account_id: int, access_key_id: str, at: int, price: int) -> SpendLimitExceeded | None:
        """The first limit a charge of ``price`` at ``at`` would pass, if any (and the window is
        then marked as reached, for its alert)."""
        for key, limit in self._windows(account_id, access_key_id, at):
            if limit is None or self.amount(key) + price <= limit.amount:
                continue
            self.refused.add(key)
            _, subject, period, start = key
            left = max(limit.amount - self.amount(key), 0)
            window = "in total" if period == LimitPeriod.TOTAL else f"for the window starting {day_to_date(start)}"
            return SpendLimitExceeded(
                f"spend limit: {_subject_name(subject)} has a {period} limit of {format_usd(limit.amount)} USD "
                f"(set by the {limit.setter}) with {format_usd(left)} USD left {window}; "
                f"the charge of {format_usd(price)} USD would pass it",
                scope="key" if subject else "account",
                period=str(period),
                limit=limit.amount,
                remaining=left,
            )
        return None

    def spend(self, account_id: int, access_key_id: str, at: int, amount: int) -> None:
        """Count ``amount`` (negative for a refund) in every window of the charge made at ``at``."""
        for key, _ in self._windows(account_id, access_key_id, at):
            self.deltas[key] += amount

    def _alerts(self, key: WindowKey, at: int) -> tuple[int, list[NewEvent]]:
        """The window's new alert level and the events for the levels it passed."""
        account_id, subject, period, start = key
        limit = self.limits.get((account_id, subject), {}).get(LimitPeriod(period))
        stored = self.stored.get(key)
        alerted = stored.alerted if stored else 0
        amount = self.amount(key)
        now = level(amount, limit.amount if limit else None)
        if key in self.refused:
            now = REACHED
        if self.deltas.get(key, 0) < 0:
            return min(alerted, now), []  # spend went back: re-arm only
        if limit is None or now <= alerted:
            return alerted, []
        data = {
            "account_id": account_id,
            "access_key_id": subject or None,
            "period": period,
            "window_start": day_to_date(start) if period != LimitPeriod.TOTAL else None,
            "limit": events.usd(limit.amount),
            "spent": events.usd(amount),
            "remaining": events.usd(max(limit.amount - amount, 0)),
            "set_by": limit.setter,
        }
        fired = [
            events.new_event(account_id, _LEVEL_EVENTS[lv], data | {"percent": lv}, at)
            for lv in (WARNING, REACHED)
            if alerted < lv <= now
        ]
        return now, fired

    async def write(self, conn: AsyncConnection, at: int) -> list[NewEvent]:
        """Write the spend and alert levels of every window touched; returns the alerts to append
        (in the same transaction)."""
        changes, blind, fired = [], [], []
        for key in sorted(set(self.deltas) | self.refused):
            if not self.limited(key):
                if self.deltas.get(key, 0):
                    blind.append(SpendWindow(*key, amount=self.deltas[key], alerted=0))
                continue
            alerted, found = self._alerts(key, at)
            fired += found
            stored = self.stored.get(key)
            if self.deltas.get(key, 0) or alerted != (stored.alerted if stored else 0):
                changes.append(SpendWindow(*key, amount=self.deltas.get(key, 0), alerted=alerted))
        await limit_store.add_spend(conn, changes)
        await limit_store.add_spend(conn, blind, keep_alerted=True)
        return fired


def balance_alerts(account_id: int, before: int, after: int, thresholds: Iterable[int], at: int) -> list[NewEvent]:
    """``balance.low`` for each threshold the balance went below, ``balance.depleted`` when it
    reached zero: only on the way down, once per crossing."""
    found = []
    for threshold in sorted(thresholds, reverse=True):
        if before >= threshold > after:
            data = {"account_id": account_id, "threshold": events.usd(threshold), "balance": events.usd(after)}
            found.append(events.new_event(account_id, EventType.BALANCE_LOW, data, at))
    if before > 0 >= after:
        data = {"account_id": account_id, "balance": events.usd(after)}
        found.append(events.new_event(account_id, EventType.BALANCE_DEPLETED, data, at))
    return found


async def balance_changes(conn: AsyncConnection, changes: Mapping[int, tuple[int, int]], at: int) -> list[NewEvent]:
    """Low-balance alerts for accounts whose balance went down ``(before, after)``."""
    down = {a: c for a, c in changes.items() if c[1] < c[0]}
    thresholds = await limit_store.low_balance(conn, down)
    return [e for a, (b, af) in down.items() for e in balance_alerts(a, b, af, thresholds.get(a, ()), at)]


# --- reading and setting --------------------------------------------------------------------------


def check_amount(field: str, value: int | None) -> int | None:
    if value is not None and not 0 <= value <= MAX_BALANCE_MICROS:
        raise InvalidRequest(f"{field} must be between 0 and 9000000000 USD, or null for no limit")
    return value


async def set_limits(
    conn: AsyncConnection, account_id: int, subject: str, setter: LimitSetter, values: Mapping[str, int | None]
) -> None:
    """Replace one setter's limits on a key (``subject``) or the account (``ACCOUNT``); idempotent.

    A limit raised past the spend re-arms its alerts now (the next crossing fires again); one
    lowered under the spend alerts at the next charge."""
    row = LimitRow(account_id, subject, setter, *(check_amount(p, values.get(p)) for p in PERIODS))
    await limit_store.put_limits(conn, row, now_ms())
    book = await SpendBook.load(conn, [(account_id, subject)], [now_ms()], every_window=True)
    changes = []
    for key, stored in book.stored.items():
        if key[1] != subject:
            continue
        limit = book.limits.get((account_id, subject), {}).get(LimitPeriod(key[2]))
        rearmed = min(stored.alerted, level(stored.amount, limit.amount if limit else None))
        if rearmed != stored.alerted:
            changes.append(SpendWindow(*key, amount=0, alerted=rearmed))
    await limit_store.add_spend(conn, changes)


async def set_for(
    conn: AsyncConnection,
    setter: LimitSetter,
    values: Mapping[str, int | None],
    *,
    account_id: int | None = None,
    access_key_id: str | None = None,
) -> tuple[int, str]:
    """``set_limits`` on a key (``access_key_id``; of ``account_id`` when given too, as a customer
    may only touch their own) or on an account; returns ``(account_id, subject)``. 404 for a key or
    account that does not exist (or is not the caller's)."""
    if access_key_id is not None:
        key = await key_store.by_access_key_id(conn, access_key_id)
        if key is None or account_id is not None and key.account_id != account_id:
            raise NotFound(f"access key {access_key_id} not found")
        account_id, subject = key.account_id, key.access_key_id
    else:
        assert account_id is not None, "a key or an account"
        if await account_store.get(conn, account_id) is None:
            raise NotFound(f"account {account_id} not found")
        subject = ACCOUNT
    await set_limits(conn, account_id, subject, setter, values)
    return account_id, subject


@dataclass(frozen=True)
class SubjectLimits:
    """A key's or account's spend now (today, this month, total) and both setters' limits."""

    spend: dict[str, int]
    operator: dict[str, int | None]
    customer: dict[str, int | None]

    @property
    def applied(self) -> dict[str, int | None]:
        """The limit that applies in each window: the lower of the two."""
        both = {p: [v for v in (self.operator[p], self.customer[p]) if v is not None] for p in PERIODS}
        return {p: min(v) if v else None for p, v in both.items()}


async def subject_limits(conn: AsyncConnection, account_id: int, subjects: Collection[str]) -> dict[str, SubjectLimits]:
    """Spend and limits now of the account's ``subjects`` (access key ids, ``ACCOUNT``)."""
    rows = await limit_store.limits(conn, [account_id], subjects)
    now = starts(now_ms())
    windows = await limit_store.windows(conn, [account_id], subjects, set(now.values()))
    spent = {(w.access_key_id, w.period, w.start): w.amount for w in windows}
    sets: dict[tuple[str, str], LimitRow] = {(r.access_key_id, r.setter): r for r in rows}
    found = {}
    for subject in subjects:
        by_setter = {}
        for setter in LimitSetter:
            row = sets.get((subject, setter))
            by_setter[setter] = {p: getattr(row, p) if row else None for p in PERIODS}
        spend = {p: spent.get((subject, p, now[p]), 0) for p in PERIODS}
        found[subject] = SubjectLimits(spend, by_setter[LimitSetter.OPERATOR], by_setter[LimitSetter.CUSTOMER])
    return found


async def keys_with_spend(conn: AsyncConnection, account_id: int) -> list[tuple[KeyRow, SubjectLimits]]:
    """Every key of the account (revoked ones too, oldest first) with its spend and limits now."""
    keys = await key_store.by_account(conn, account_id)
    found = await subject_limits(conn, account_id, [k.access_key_id for k in keys])
    return [(k, found[k.access_key_id]) for k in keys]


async def low_balance_thresholds(conn: AsyncConnection, account_id: int) -> list[int]:
    return (await limit_store.low_balance(conn, [account_id])).get(account_id, [])


async def set_low_balance_thresholds(conn: AsyncConnection, account_id: int, thresholds: list[int]) -> list[int]:
    """Replace the account's low-balance thresholds (kept highest first, without repeats)."""
    if len(thresholds) > MAX_THRESHOLDS:
        raise InvalidRequest(f"low_balance must have at most {MAX_THRESHOLDS} thresholds")
    for value in thresholds:
        if not 0 < value <= MAX_BALANCE_MICROS:
            raise InvalidRequest("low_balance thresholds must be greater than 0 and at most 9000000000 USD")
    kept = sorted(set(thresholds), reverse=True)
    await limit_store.put_low_balance(conn, account_id, kept, now_ms())
    return kept


# --- verify ---------------------------------------------------------------------------------------


def windows_of_days(per_day: Iterable[tuple[int, str, int, int]]) -> dict[tuple[int, str, str, int], int]:
    """Every window's spend from ``(account_id, access_key_id, day, spend)``."""
    totals: dict[tuple[int, str, str, int], int] = defaultdict(int)
    for account_id, key, day, spent in per_day:
        for subject in (key, ACCOUNT):
            for period, start in starts(day * MS_PER_DAY).items():
                totals[(account_id, subject, period, start)] += spent
    return totals
