"""``client.statements`` and ``client.receipts``: monthly statements (figures and PDF) and the PDF
receipt of a recharge.

Written once, as plans in the ``_*Base`` classes; the sync and async classes only hand them to their
loop. All are reads, so the core's retry policy is safe for them.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Generic, TypeVar

from billbook.client._core import Call, Core, Plan
from billbook.client._http import AsyncLoop, SyncLoop
from billbook.client.types import Statement

STATEMENTS_PATH = "/api/v3/statements"
RECEIPTS_PATH = "/api/v3/receipts"
Loop = TypeVar("Loop", SyncLoop, AsyncLoop)
MonthInput = str | date
_MONTH = re.compile(r"^[0-9]{4}-[0-9]{2}$")
_UUID = re.compile(r"^[0-9a-f]{32}$")


def month_text(month: MonthInput) -> str:
    """``"2026-10"``, or the month of a ``date``/``datetime`` (taken as UTC), as the routes want it."""
    if isinstance(month, date):
        return f"{month.year:04d}-{month.month:02d}"
    if not isinstance(month, str) or not _MONTH.match(month.strip()):
        raise ValueError(f"month must be written YYYY-MM, such as 2026-10, not {month!r}")
    return month.strip()


def _same(content: bytes) -> bytes:
    return content


class _StatementsBase(Generic[Loop]):
    def __init__(self, core: Core, loop: Loop) -> None:
        self._core = core
        self._loop: Loop = loop

    def _get(self, month: MonthInput) -> Plan[Statement]:
        path = f"{STATEMENTS_PATH}/{month_text(month)}"
        return self._core.request(Call("GET", path, "statement", Statement.from_wire))

    def _pdf(self, month: MonthInput) -> Plan[bytes]:
        path = f"{STATEMENTS_PATH}/{month_text(month)}.pdf"
        return self._core.request(Call("GET", path, "statement PDF", _same, binary=True))


class Statements(_StatementsBase[SyncLoop]):
    def get(self, month: MonthInput) -> Statement:
        """The figures of a UTC month (``"2026-10"`` or a date in it); the current month is ``open``."""
        return self._loop.run(self._get(month))

    def pdf(self, month: MonthInput) -> bytes:
        """The same statement as a PDF document."""
        return self._loop.run(self._pdf(month))


class AsyncStatements(_StatementsBase[AsyncLoop]):
    async def get(self, month: MonthInput) -> Statement:
        """The figures of a UTC month (``"2026-10"`` or a date in it); the current month is ``open``."""
        return await self._loop.run(self._get(month))

    async def pdf(self, month: MonthInput) -> bytes:
        """The same statement as a PDF document."""
        return await self._loop.run(self._pdf(month))


class _ReceiptsBase(Generic[Loop]):
    def __init__(self, core: Core, loop: Loop) -> None:
        self._core = core
        self._loop: Loop = loop

    def _pdf(self, record_uuid: str) -> Plan[bytes]:
        if not isinstance(record_uuid, str) or not _UUID.match(record_uuid):
            raise ValueError(f"record_uuid must be a recharge record's uuid (32 hex digits), not {record_uuid!r}")
        return self._core.request(Call("GET", f"{RECEIPTS_PATH}/{record_uuid}.pdf", "receipt PDF", _same, binary=True))


class Receipts(_ReceiptsBase[SyncLoop]):
    def pdf(self, record_uuid: str) -> bytes:
        """The receipt of one of your recharges (its record's ``uuid``), as a PDF document."""
        return self._loop.run(self._pdf(record_uuid))


class AsyncReceipts(_ReceiptsBase[AsyncLoop]):
    async def pdf(self, record_uuid: str) -> bytes:
        """The receipt of one of your recharges (its record's ``uuid``), as a PDF document."""
        return await self._loop.run(self._pdf(record_uuid))
