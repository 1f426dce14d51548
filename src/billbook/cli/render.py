"""How the customer commands show money, times and billing records to a person or a script.

Money is shown exactly (``Decimal`` in, text out, never a float). A record's amount is signed: a
deduct is ``-$0.04``, a refund or recharge ``+$0.04``, an adjustment whichever way it went; an
adjustment from a server that does not send ``amount`` (the upstream service) shows ``±``, since
its sign is unknown.
"""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime
from decimal import Decimal

import typer
from rich.console import Console
from rich.table import Table

from billbook.client import CSV_COLUMNS, BillingPage, BillingRecord
from billbook.client._convert import dumps
from billbook.client._export import csv_row, jsonl_object


def format_usd(amount: Decimal) -> str:
    """``$1,234.50``: cents always shown, extra digits kept (exact, never rounded)."""
    exponent = amount.as_tuple().exponent
    shown = amount if isinstance(exponent, int) and exponent < -2 else amount.quantize(Decimal("0.01"))
    text = format(abs(shown), ",f")
    return f"-${text}" if shown < 0 else f"${text}"


def format_change(amount: Decimal | None, price: Decimal) -> str:
    """A change to the balance with its sign always shown: ``+$5.00``, ``-$0.04``; ``±$5.00`` when
    the server did not say which way it went."""
    if amount is None:
        return f"±{format_usd(price)}"
    return format_usd(amount) if amount < 0 else f"+{format_usd(amount)}"


def when(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def stdout() -> Console:
    return Console(highlight=False, soft_wrap=False)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


# --- a page of billing records ---------------------------------------------------------------------


def record_cells(r: BillingRecord, *, with_balance: bool) -> list[str]:
    status = r.prediction.status if r.prediction else ""
    if r.order:
        status = f"{status} / {r.order.state}" if status else r.order.state
    balance = [format_usd(r.balance_after) if r.balance_after is not None else ""] if with_balance else []
    return [
        when(r.created_at),
        r.billing_type,
        format_change(r.amount, r.price),
        *balance,
        r.model_uuid or "",
        r.access_key_name or r.access_key_id or "",
        r.prediction.uuid if r.prediction else "",
        status,
    ]


def records_table(page: BillingPage) -> Table:
    """The page as a table; a "Balance after" column when the server sends it."""
    last = page.page * page.page_size >= page.total
    caption = f"page {page.page} · {len(page)} shown · {page.total} matching"
    if page.has_more and not last:
        caption += f" · next: --page {page.page + 1}"
    with_balance = any(r.balance_after is not None for r in page)
    table = Table(caption=caption, caption_justify="left")
    money = ("Amount", "Balance after") if with_balance else ("Amount",)
    for name in ("Time (UTC)", "Type"):
        table.add_column(name, no_wrap=True)
    for name in money:
        table.add_column(name, justify="right", no_wrap=True)
    for name in ("Model", "Key", "Prediction", "Status"):
        table.add_column(name, overflow="fold")
    for r in page:
        table.add_row(*record_cells(r, with_balance=with_balance))
    return table


def _empty_text(page: BillingPage) -> str:
    if page.total == 0:
        return "no records match"
    return f"page {page.page} is past the end: {page.total} records match"


def print_page(page: BillingPage, fmt: str) -> None:
    """The page in ``fmt``: table, json (the page with its items), jsonl (one record a line) or csv.
    Records in json, jsonl and csv carry ``amount`` and ``balance_after`` like an export's."""
    if fmt == "table":
        stdout().print(records_table(page) if page.items else _empty_text(page))
    elif fmt == "json":
        body = {"page": page.page, "total": page.total, "has_more": page.has_more}
        typer.echo(dumps(body | {"items": [jsonl_object(r) for r in page]}))
    elif fmt == "jsonl":
        for record in page:
            typer.echo(dumps(jsonl_object(record)))
    else:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(csv_row(r) for r in page)
