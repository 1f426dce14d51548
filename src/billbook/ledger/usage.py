"""Usage statistics from the daily rollup, exact for any range.

Whole UTC days come from ``usage_daily``; a partial day at either end of the range is summed from
its records. A range of whole days (what dashboards and exporters ask for) reads only the rollup.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Unpack

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger import archive
from billbook.ledger.errors import Archived, InvalidRequest
from billbook.store import usage as usage_store
from billbook.store.partitions import Month
from billbook.store.rows import DeductWithOutcome, UsageCell
from billbook.store.usage import UsageFilters
from billbook.times import MS_PER_DAY, day_of
from billbook.vocabulary import PredictionStatus

MAX_RANGE_MS = 31 * MS_PER_DAY
COUNTERS = ("deduct_count", "deduct_amount", "refund_count", "refund_amount", "completed_count")


def cells_from_deducts(rows: Iterable[DeductWithOutcome]) -> list[UsageCell]:
    """Fold deduct rows (see ``store.usage.deduct_rows``) into rollup cells, as the ledger would."""
    cells: dict[tuple, dict] = {}
    for row in rows:
        key = (day_of(row.created_at), row.model_uuid, row.access_key_id, row.account_id)
        cell = cells.setdefault(
            key,
            {"day": key[0], "model_uuid": key[1], "access_key_id": key[2], "account_id": key[3], "model_type": row.model_type}
            | dict.fromkeys(COUNTERS, 0)
            | {"last_used_at": 0, "last_price": 0},
        )
        cell["deduct_count"] += 1
        cell["deduct_amount"] += row.price
        if row.refund_price is not None:
            cell["refund_count"] += 1
            cell["refund_amount"] += row.refund_price
        if row.status == PredictionStatus.COMPLETED:
            cell["completed_count"] += 1
        if row.model_type:
            cell["model_type"] = row.model_type
        if (row.created_at, row.price) > (cell["last_used_at"], cell["last_price"]):
            cell["last_used_at"], cell["last_price"] = row.created_at, row.price
    return [UsageCell(**cell) for cell in cells.values()]


def check_range(start_ms: int, end_ms: int) -> None:
    if start_ms > end_ms:
        raise InvalidRequest("start_time must not be after end_time")
    if end_ms - start_ms > MAX_RANGE_MS:
        raise InvalidRequest("the range from start_time to end_time must be at most 31 days")


async def usage_cells(
    conn: AsyncConnection, account_id: int | None, start_ms: int, end_ms: int, **filters: Unpack[UsageFilters]
) -> list[UsageCell]:
    """Cells (of one account, or of every account for ``None``) covering exactly the deducts in ``[start_ms, end_ms]`` that ``filters`` select."""
    first_full = -(-start_ms // MS_PER_DAY)  # first day starting at or after start
    last_full = (end_ms + 1) // MS_PER_DAY - 1  # last day ending at or before end
    cells: list[UsageCell] = []
    if first_full <= last_full:
        cells += await usage_store.cells(conn, account_id, first_full, last_full, **filters)
        edges = [(start_ms, first_full * MS_PER_DAY - 1), ((last_full + 1) * MS_PER_DAY, end_ms)]
    else:
        edges = [(start_ms, end_ms)]
    edges = [(low, high) for low, high in edges if low <= high]
    await _refuse_archived_edges(conn, edges)
    for low, high in edges:
        if low <= high:
            rows = await usage_store.deduct_rows(conn, account_id, start_ms=low, end_ms=high, **filters)
            cells += cells_from_deducts(rows)
    return cells


async def _refuse_archived_edges(conn: AsyncConnection, edges: list[tuple[int, int]]) -> None:
    """Part-days are counted from the records: in an archived month there are none left, and only
    whole UTC days (from the daily rollups) can be answered; say so rather than count short."""
    if not edges:
        return
    online = await archive.archived_end(conn)
    if online is not None and min(low for low, _ in edges) < online:
        raise Archived(
            f"start_time/end_time: records before {Month.of_ms(online)} were archived; usage of those "
            "months is answered for whole UTC days only (from 00:00:00.000 to 23:59:59.999)"
        )


def _net(cell: UsageCell) -> tuple[int, int]:
    return cell.deduct_amount - cell.refund_amount, cell.deduct_count - cell.refund_count


def summarise(cells: list[UsageCell]) -> dict:
    """Per-model, per-day and overall figures, amounts net of refunds (micro-dollars, ms, day numbers)."""
    models: dict[str, dict] = {}
    days: dict[int, dict] = {}
    day_models: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    summary = {"total_cost": 0, "total_requests": 0, "success_requests": 0}
    for cell in cells:
        amount, count = _net(cell)
        model = models.setdefault(
            cell.model_uuid,
            {"model_uuid": cell.model_uuid, "model_type": "", "unit_price": 0, "total_cost": 0,
             "total_count": 0, "last_used_at": -1},
        )
        model["total_cost"] += amount
        model["total_count"] += count
        if cell.model_type:
            model["model_type"] = cell.model_type
        # The newest charge's price; on a tie, the higher price (the rollup's own rule, across cells).
        if (cell.last_used_at, cell.last_price) > (model["last_used_at"], model["unit_price"]):
            model["last_used_at"], model["unit_price"] = cell.last_used_at, cell.last_price
        day = days.setdefault(cell.day, {"day": cell.day, "amount": 0, "count": 0})
        day["amount"] += amount
        day["count"] += count
        day_models[cell.day][cell.model_uuid][0] += amount
        day_models[cell.day][cell.model_uuid][1] += count
        summary["total_cost"] += amount
        summary["total_requests"] += cell.deduct_count
        summary["success_requests"] += cell.completed_count
    for number, day in days.items():
        day["models"] = [
            {"model_uuid": m, "amount": a, "count": c} for m, (a, c) in sorted(day_models[number].items())
        ]
    return {
        "per_model_usage": sorted(models.values(), key=lambda m: (-m["total_cost"], m["model_uuid"])),
        "daily_usage": [days[d] for d in sorted(days)],
        "summary": summary,
    }


async def usage_stats(
    conn: AsyncConnection, account_id: int, start_ms: int, end_ms: int, **filters: Unpack[UsageFilters]
) -> dict:
    """Usage in ``[start_ms, end_ms]`` of any of the ``model_uuids`` and ``access_key_ids`` given,
    as search filters them (an empty tuple: no filter)."""
    check_range(start_ms, end_ms)
    return summarise(await usage_cells(conn, account_id, start_ms, end_ms, **filters))


def per_account(cells: list[UsageCell]) -> list[dict]:
    """Net spend and counts per account, largest spender first (the operator's statistics)."""
    accounts: dict[int, dict] = {}
    for cell in cells:
        amount, count = _net(cell)
        entry = accounts.setdefault(
            cell.account_id, {"account_id": cell.account_id, "total_cost": 0, "total_count": 0, "total_requests": 0}
        )
        entry["total_cost"] += amount
        entry["total_count"] += count
        entry["total_requests"] += cell.deduct_count
    return sorted(accounts.values(), key=lambda a: (-a["total_cost"], a["account_id"]))


async def operator_usage_stats(
    conn: AsyncConnection, account_id: int | None, start_ms: int, end_ms: int, **filters: Unpack[UsageFilters]
) -> dict:
    """:func:`usage_stats` over every account (``None``) or one, plus ``per_account_usage``."""
    check_range(start_ms, end_ms)
    cells = await usage_cells(conn, account_id, start_ms, end_ms, **filters)
    return summarise(cells) | {"per_account_usage": per_account(cells)}
