"""``client.keys``, ``client.limits`` and ``client.alerts``: your keys' spend, your spend limits and
your low-balance alert thresholds.

Each operation is written once, as a plan in a ``_…Base`` class; the sync and async classes only
hand it to their loop. Setting is a PUT of the whole set, idempotent, so the core's blanket retry
policy is as safe for it as for a read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from billbook.client._convert import to_datetime, to_decimal
from billbook.client._core import Call, Core, Plan
from billbook.client._http import AsyncLoop, SyncLoop

KEYS_PATH = "/api/v3/access_keys"
ACCOUNT_LIMITS_PATH = "/api/v3/account/limits"
ALERTS_PATH = "/api/v3/account/alerts"
PERIODS = ("daily", "monthly", "total")
Loop = TypeVar("Loop", SyncLoop, AsyncLoop)
Amount = Decimal | int | str | None


def _money_or_none(value: Any, field: str) -> Decimal | None:
    return None if value is None else to_decimal(value, field)


@dataclass(frozen=True, slots=True)
class Windows:
    """USD per window: ``daily`` (today, UTC), ``monthly`` (this UTC month), ``total``; None: no limit."""

    daily: Decimal | None
    monthly: Decimal | None
    total: Decimal | None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Windows:
        return cls(*(_money_or_none(data.get(p), p) for p in PERIODS))


@dataclass(frozen=True, slots=True)
class SpendLimits:
    """Spend now and the limits on a key or on the account: the operator's, yours, and the lower
    of the two (``applied``), which is what charges are held to."""

    spend: Windows
    operator: Windows
    customer: Windows
    applied: Windows

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> SpendLimits:
        limits = data["limits"]
        return cls(
            Windows.from_wire(data["spend"]),
            Windows.from_wire(limits["operator"]),
            Windows.from_wire(limits["customer"]),
            Windows.from_wire(limits["applied"]),
        )


@dataclass(frozen=True, slots=True)
class AccessKey:
    """One of your keys, with its spend and limits."""

    access_key_id: str
    access_key_name: str
    created: datetime
    revoked: bool
    limits: SpendLimits

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> AccessKey:
        return cls(
            str(data["access_key_id"]),
            str(data["access_key_name"]),
            to_datetime(data["created"], "created"),
            bool(data["revoked"]),
            SpendLimits.from_wire(data),
        )


@dataclass(frozen=True, slots=True)
class Alerts:
    """Low-balance thresholds, highest first: ``balance.low`` each time the balance goes below one."""

    low_balance: tuple[Decimal, ...]

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Alerts:
        return cls(tuple(to_decimal(v, "low_balance") for v in data["low_balance"]))


def limits_body(daily: Amount, monthly: Amount, total: Amount) -> dict[str, str | None]:
    """A whole set of limits as the server reads it (exact decimal text; None: no limit)."""
    body = {}
    for name, value in zip(PERIODS, (daily, monthly, total), strict=True):
        if value is not None and not isinstance(value, Decimal | int | str) or isinstance(value, bool):
            raise ValueError(f"{name} must be an amount in USD or None")
        body[name] = None if value is None else str(value)
    return body


def _keys(data: Mapping[str, Any]) -> tuple[AccessKey, ...]:
    return tuple(AccessKey.from_wire(item) for item in data["items"])


class _KeysBase(Generic[Loop]):
    def __init__(self, core: Core, loop: Loop) -> None:
        self._core, self._loop = core, loop

    def _list(self) -> Plan[tuple[AccessKey, ...]]:
        return self._core.request(Call("GET", KEYS_PATH, "access keys", _keys))


class Keys(_KeysBase[SyncLoop]):
    def list(self) -> tuple[AccessKey, ...]:
        """Your keys (revoked ones too) with spend today, this month and in total, and their limits."""
        return self._loop.run(self._list())


class AsyncKeys(_KeysBase[AsyncLoop]):
    async def list(self) -> tuple[AccessKey, ...]:
        """Your keys (revoked ones too) with spend today, this month and in total, and their limits."""
        return await self._loop.run(self._list())


class _LimitsBase(Generic[Loop]):
    def __init__(self, core: Core, loop: Loop) -> None:
        self._core, self._loop = core, loop

    def _get(self) -> Plan[SpendLimits]:
        return self._core.request(Call("GET", ACCOUNT_LIMITS_PATH, "limits", SpendLimits.from_wire))

    def _set(self, access_key_id: str | None, body: dict[str, str | None]) -> Plan[SpendLimits]:
        path = ACCOUNT_LIMITS_PATH if access_key_id is None else f"{KEYS_PATH}/{access_key_id}/limits"
        return self._core.request(Call("PUT", path, "limits", SpendLimits.from_wire, body))


class Limits(_LimitsBase[SyncLoop]):
    def get(self) -> SpendLimits:
        """The account's spend and limits (a key's: ``client.keys.list()``)."""
        return self._loop.run(self._get())

    def set(
        self, *, daily: Amount = None, monthly: Amount = None, total: Amount = None, access_key_id: str | None = None
    ) -> SpendLimits:
        """Replace your limits on the account, or on one key (``access_key_id``); None: no limit."""
        return self._loop.run(self._set(access_key_id, limits_body(daily, monthly, total)))


class AsyncLimits(_LimitsBase[AsyncLoop]):
    async def get(self) -> SpendLimits:
        """The account's spend and limits (a key's: ``client.keys.list()``)."""
        return await self._loop.run(self._get())

    async def set(
        self, *, daily: Amount = None, monthly: Amount = None, total: Amount = None, access_key_id: str | None = None
    ) -> SpendLimits:
        """Replace your limits on the account, or on one key (``access_key_id``); None: no limit."""
        return await self._loop.run(self._set(access_key_id, limits_body(daily, monthly, total)))


class _AlertsBase(Generic[Loop]):
    def __init__(self, core: Core, loop: Loop) -> None:
        self._core, self._loop = core, loop

    def _get(self) -> Plan[Alerts]:
        return self._core.request(Call("GET", ALERTS_PATH, "alerts", Alerts.from_wire))

    def _set(self, low_balance: Sequence[Decimal | int | str]) -> Plan[Alerts]:
        body = {"low_balance": [str(v) for v in low_balance]}
        return self._core.request(Call("PUT", ALERTS_PATH, "alerts", Alerts.from_wire, body))


class AlertSettings(_AlertsBase[SyncLoop]):
    def get(self) -> Alerts:
        return self._loop.run(self._get())

    def set(self, low_balance: Sequence[Decimal | int | str]) -> Alerts:
        """Replace the low-balance thresholds (USD); an empty list turns the alerts off."""
        return self._loop.run(self._set(low_balance))


class AsyncAlertSettings(_AlertsBase[AsyncLoop]):
    async def get(self) -> Alerts:
        return await self._loop.run(self._get())

    async def set(self, low_balance: Sequence[Decimal | int | str]) -> Alerts:
        """Replace the low-balance thresholds (USD); an empty list turns the alerts off."""
        return await self._loop.run(self._set(low_balance))
