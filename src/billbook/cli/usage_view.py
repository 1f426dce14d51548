"""``billbook usage`` shown to a person (tables and a chart of daily spend) or to a script (JSON)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from rich.table import Table
from rich.text import Text

from billbook.cli.render import format_usd, stdout, when
from billbook.client import UsageStats
from billbook.client._convert import iso_ms

_BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(value: Decimal, top: Decimal, width: int) -> str:
    """A horizontal bar ``width`` cells long at ``top``, drawn in eighths of a cell."""
    if top <= 0 or value <= 0:
        return ""
    eighths = int(value / top * width * 8)
    full, part = divmod(max(eighths, 1), 8)
    return "█" * full + (_BLOCKS[part] if part else "")


def models_table(stats: UsageStats) -> Table:
    table = Table(title="By model", title_justify="left")
    table.add_column("Model", overflow="fold")
    table.add_column("Type")
    for name in ("Unit price", "Requests", "Cost"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Last used (UTC)", no_wrap=True)
    for m in stats.per_model_usage:
        last = when(m.last_used_date) if m.last_used_date else ""
        cost = (format_usd(m.unit_price), f"{m.total_count:,}", format_usd(m.total_cost))
        table.add_row(m.model_uuid, m.model_type, *cost, last)
    return table


def days_table(stats: UsageStats) -> Table:
    table = Table(title="By day", title_justify="left")
    table.add_column("Date (UTC)", no_wrap=True)
    table.add_column("Requests", justify="right")
    table.add_column("Cost", justify="right", no_wrap=True)
    table.add_column("Top model", overflow="fold")
    for d in stats.daily_usage:
        top = max(d.models, key=lambda m: m.amount).model_uuid if d.models else ""
        table.add_row(d.date.isoformat(), f"{d.count:,}", format_usd(d.amount), top)
    return table


def chart(stats: UsageStats, width: int = 40) -> Table:
    """Daily spend as bars, one line per day of the range, idle days included as gaps."""
    amounts = {d.date: d.amount for d in stats.daily_usage}
    top = max(amounts.values(), default=Decimal(0))
    table = Table(title="Daily spend", title_justify="left", box=None, show_header=False, pad_edge=False)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True, style="cyan")
    table.add_column(justify="right", no_wrap=True)
    for day in _days(stats.start.date(), stats.end.date()):
        amount = amounts.get(day, Decimal(0))
        table.add_row(day.isoformat(), bar(amount, top, width), format_usd(amount))
    return table


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def summary_line(stats: UsageStats) -> Text:
    s = stats.summary
    return Text(
        f"{when(stats.start)} to {when(stats.end)} UTC: {format_usd(s.total_cost)} net of refunds, "
        f"{s.total_requests:,} requests ({s.success_requests:,} completed)"
    )


def usage_to_wire(stats: UsageStats) -> dict[str, Any]:
    """The usage in the API's own shape (plus the range), for ``--format json``."""
    return {
        "start_time": iso_ms(stats.start),
        "end_time": iso_ms(stats.end),
        "per_model_usage": [
            {
                "model_uuid": m.model_uuid,
                "model_type": m.model_type,
                "unit_price": m.unit_price,
                "total_cost": m.total_cost,
                "total_count": m.total_count,
                "last_used_date": iso_ms(m.last_used_date) if m.last_used_date else None,
            }
            for m in stats.per_model_usage
        ],
        "daily_usage": [
            {
                "date": d.date.isoformat(),
                "amount": d.amount,
                "count": d.count,
                "models": [{"model_uuid": m.model_uuid, "amount": m.amount, "count": m.count} for m in d.models],
            }
            for d in stats.daily_usage
        ],
        "summary": {
            "total_cost": stats.summary.total_cost,
            "total_requests": stats.summary.total_requests,
            "success_requests": stats.summary.success_requests,
        },
    }


def print_usage(stats: UsageStats) -> None:
    console = stdout()
    console.print(summary_line(stats))
    for block in (models_table(stats), days_table(stats), chart(stats)):
        console.print()
        console.print(block)
