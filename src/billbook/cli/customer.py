"""Customer commands: ``billings search``, ``billings export``, ``usage`` and ``balance``.

They speak HTTP through the SDK only, so they work against any billbook server (or the upstream
service) with nothing but httpx, typer and rich installed. Their shared options are option groups
(``billbook.cli.customer_options``); each command holds only what is its own. ``register(app)``
adds them to a root app.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from billbook.cli.customer_options import (
    RecordFormat,
    SortChoice,
    SummaryFormat,
    Window,
    connected,
    filtered,
    formatted,
    windowed,
)
from billbook.cli import statements
from billbook.cli.failures import reporting
from billbook.cli.render import format_usd, print_page, stderr, stdout
from billbook.cli.usage_view import print_usage, usage_to_wire
from billbook.client import Client, SearchParams
from billbook.client._convert import dumps, iso_ms
from billbook.client._export import format_for
from billbook.times import datetime_to_ms, ms_to_datetime, now_ms

billings_app = typer.Typer(help="Search and export your billing records.", no_args_is_help=True)


def customer_command(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--base-url`` and ``--api-key`` for the command, which gets a ``Client``; any failure is one
    line on stderr (exit 1 for the server's answer or the network, 2 for a bad option)."""
    return reporting(connected(command))


# --- billings search -------------------------------------------------------------------------------


@billings_app.command("search")
@customer_command
@filtered
@formatted(RecordFormat)
def billings_search(
    client: Client,
    filters: SearchParams,
    fmt: str,
    sort: Annotated[  # type: ignore[valid-type]
        SortChoice, typer.Option("--sort", help="Oldest or newest first.", case_sensitive=False)
    ] = SortChoice("desc"),
    page: Annotated[int, typer.Option("--page", min=1, help="Page number, from 1.")] = 1,
    page_size: Annotated[int, typer.Option("--page-size", min=1, max=100, help="Records per page, 1-100.")] = 10,
) -> None:
    """Show one page of billing records, newest first, with the signed amount of each.

    Example: billbook billings search --type deduct --since 7d --model bytedance/seedream-v4.5
    """
    result = client.billings.search(**filters, sort=str(sort), page=page, page_size=page_size)
    print_page(result, fmt)


# --- billings export -------------------------------------------------------------------------------


def _progress() -> Progress:
    """A bar on a terminal, erased when done so that only the outcome line stays; nothing in logs."""
    console = stderr()
    return Progress(
        TextColumn("exporting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


def _window_text(start: int | None, end: int | None) -> str:
    """The frozen window, so the next incremental export knows where this one stopped."""
    if end is None:
        return "nothing matched"
    hi = iso_ms(ms_to_datetime(end))
    if start is None:
        return f"records created up to {hi}"
    return f"records created {iso_ms(ms_to_datetime(start))} to {hi}"


@billings_app.command("export")
@customer_command
@filtered
def billings_export(
    client: Client,
    filters: SearchParams,
    out: Annotated[str, typer.Option("--out", "-o", help="File to write: .csv or .jsonl.", show_default=False)],
) -> None:
    """Export every matching record, oldest first, to CSV or JSON Lines (by file extension).

    Each record that existed when the export started is written exactly once, even while new
    records arrive; the file appears only when the export is complete.

    Example: billbook billings export --out april.csv --from 2026-04-01 --until 2026-04-30
    """
    format_for(out)
    with _progress() as progress:
        task = progress.add_task("export", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=max(done, total))

        result = client.billings.export(out, **filters, on_progress=report)
    window = _window_text(result.start_ms, result.end_ms)
    stderr().print(f"wrote {result.written} records to {out} ({window})", markup=False)


# --- usage -----------------------------------------------------------------------------------------


def _default_start(end_ms: int) -> int:
    """Midnight UTC 29 days before the end's day: 30 whole calendar days."""
    day = ms_to_datetime(end_ms).date() - timedelta(days=29)
    return datetime_to_ms(datetime(day.year, day.month, day.day, tzinfo=UTC))


@customer_command
@windowed
@formatted(SummaryFormat)
def usage(
    client: Client,
    window: Window,
    fmt: str,
    model: Annotated[str | None, typer.Option("--model", help="Only this model.", show_default=False)] = None,
    key: Annotated[str | None, typer.Option("--key", help="Only this access key id.", show_default=False)] = None,
) -> None:
    """Spend by model and by day, with a chart of daily spend (default: the last 30 days).

    Ranges longer than 31 days are fetched in parts and added up.

    Example: billbook usage --from 2026-01-01 --until 2026-03-31 --model bytedance/seedream-v4.5
    """
    hi = now_ms() if window.end is None else window.end
    lo = _default_start(hi) if window.start is None else window.start
    stats = client.usage_stats(lo, hi, model_uuid=model, access_key_uuid=key)
    if fmt == "json":
        typer.echo(dumps(usage_to_wire(stats)))
    else:
        print_usage(stats)


# --- balance ---------------------------------------------------------------------------------------


@customer_command
@formatted(SummaryFormat)
def balance(client: Client, fmt: str) -> None:
    """Show the account's balance.

    Example: billbook balance --json
    """
    result = client.balance()
    if fmt == "json":
        typer.echo(dumps({"balance": result.balance, "currency": result.currency}))
    else:
        stdout().print(f"{format_usd(result.balance)} {result.currency}")


# --- wiring ----------------------------------------------------------------------------------------

COMMANDS: dict[str, Callable[..., None]] = {"usage": usage, "balance": balance}


def register(app: typer.Typer) -> None:
    """Add ``billings search|export``, ``statements get|receipt``, ``usage`` and ``balance`` to the root ``billbook`` app."""
    app.add_typer(billings_app, name="billings")
    statements.register(app)
    for name, command in COMMANDS.items():
        app.command(name)(command)

