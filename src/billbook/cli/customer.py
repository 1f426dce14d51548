"""Customer commands: ``billings search``, ``billings export``, ``usage`` and ``balance``.

They speak HTTP through the SDK only, so they work against any billbook server (or the upstream
service) with nothing but httpx, typer and rich installed. ``register(app)`` adds them to a root app.
"""

from __future__ import annotations

import csv
import enum
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from billbook.client import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BillbookClientError,
    BillingPage,
    BillingRecord,
    Client,
    ConfigurationError,
    NotFoundError,
    ServerError,
    UsageStats,
)
from billbook.client._convert import dumps, iso_ms, to_ms
from billbook.client._export import CSV_COLUMNS, csv_row, format_for
from billbook.times import datetime_to_ms, ms_to_datetime, now_ms

billings_app = typer.Typer(help="Search and export your billing records.", no_args_is_help=True)

EXIT_API = 1
EXIT_USAGE = 2


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


class SummaryFormat(enum.StrEnum):
    table = "table"
    json = "json"


class BillingTypeChoice(enum.StrEnum):
    deduct = "deduct"
    refund = "refund"
    recharge = "recharge"
    adjust = "adjust"


class SortChoice(enum.StrEnum):
    asc = "asc"
    desc = "desc"


# --- shared options ------------------------------------------------------------------------------

BaseUrl = Annotated[
    str | None,
    typer.Option(
        "--base-url",
        envvar="BILLBOOK_BASE_URL",
        help="Server URL (default http://127.0.0.1:8000; https://api.wavespeed.ai works too).",
        show_default=False,
    ),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar=["BILLBOOK_API_KEY", "WAVESPEED_API_KEY"],
        help="API key (prefer the environment variable: arguments show up in process lists).",
        show_default=False,
    ),
]
Since = Annotated[
    str | None,
    typer.Option("--since", help="Only the last 30m, 12h, 7d or 2w (instead of --from).", show_default=False),
]
From = Annotated[
    str | None,
    typer.Option(
        "--from",
        help="Start, inclusive: 2026-04-01 (UTC midnight), 2026-04-01T09:30:00Z or epoch ms.",
        show_default=False,
    ),
]
Until = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="End, inclusive: a date alone covers that whole UTC day.",
        show_default=False,
    ),
]
Models = Annotated[
    list[str] | None,
    typer.Option("--model", help="Only this model, e.g. bytedance/seedream-v4.5 (repeatable).", show_default=False),
]
Keys = Annotated[
    list[str] | None,
    typer.Option("--key", help="Only this access key id, e.g. 77730_1776946986692727375 (repeatable).", show_default=False),
]
Type = Annotated[
    BillingTypeChoice | None,
    typer.Option("--type", help="Only this billing type.", case_sensitive=False, show_default=False),
]
Predictions = Annotated[
    list[str] | None,
    typer.Option("--prediction", help="Only records of this prediction uuid (repeatable).", show_default=False),
]
AsJson = Annotated[bool, typer.Option("--json", help="Same as --format json.")]


# --- errors ----------------------------------------------------------------------------------------


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _fail(message: str, code: int) -> NoReturn:
    _stderr().print(f"error: {message}", markup=False)
    raise typer.Exit(code)


def _hint(exc: BillbookClientError, base_url: str) -> str:
    if isinstance(exc, AuthenticationError):
        return f"{exc}; check --api-key or BILLBOOK_API_KEY"
    if isinstance(exc, NotFoundError):
        return f"{exc}; is {base_url} a billbook server? (--base-url or BILLBOOK_BASE_URL)"
    if isinstance(exc, APIConnectionError):
        return f"{exc.message} ({base_url}); is the server running? (--base-url or BILLBOOK_BASE_URL)"
    if isinstance(exc, ServerError) and exc.request_id:
        return f"{exc}; request id {exc.request_id}"
    if isinstance(exc, APIStatusError):
        return str(exc)
    return exc.message


@contextmanager
def _client(api_key: str | None, base_url: str | None) -> Iterator[Client]:
    """A client, with every failure turned into one line on stderr and a non-zero exit."""
    if not api_key:  # typer has already looked in both environment variables
        _fail("no API key: pass --api-key or set BILLBOOK_API_KEY", EXIT_USAGE)
    try:
        client = Client(api_key=api_key, base_url=base_url)
    except ConfigurationError as exc:
        _fail(exc.message, EXIT_USAGE)
    try:
        with client:
            yield client
    except ConfigurationError as exc:
        _fail(exc.message, EXIT_USAGE)
    except BillbookClientError as exc:
        _fail(_hint(exc, client.base_url), EXIT_API)
    except ValueError as exc:
        _fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        _fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc), EXIT_API)


# --- times -----------------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_since(text: str, now: int) -> int:
    """``7d`` -> the epoch millisecond seven days before ``now``."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"--since {text!r} is not a duration like 30m, 12h, 7d or 2w")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    return now - seconds * 1000


def time_window(since: str | None, start: str | None, until: str | None) -> tuple[int | None, int | None]:
    """The inclusive (start, end) in epoch ms that --since / --from / --until describe."""
    if since and start:
        raise ValueError("use either --since or --from, not both")
    now = now_ms()
    lo = parse_since(since, now) if since else _point(start, "--from", end_of_day=False)
    hi = _point(until, "--until", end_of_day=True)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError("the start of the range is after its end (--from/--since vs --until)")
    return lo, hi


def _point(text: str | None, option: str, *, end_of_day: bool) -> int | None:
    if text is None:
        return None
    try:
        return to_ms(text, option, end_of_day=end_of_day)
    except ValueError:
        raise ValueError(f"{option} {text!r} is not a date or time (use 2026-04-01 or ISO 8601)") from None


# --- money and text --------------------------------------------------------------------------------


def usd(amount: Decimal) -> str:
    """``$1,234.50``: cents always shown, extra digits kept (exact, never rounded)."""
    exponent = amount.as_tuple().exponent
    shown = amount if isinstance(exponent, int) and exponent < -2 else amount.quantize(Decimal("0.01"))
    text = format(abs(shown), ",f")
    return f"-${text}" if shown < 0 else f"${text}"


def _when(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _out() -> Console:
    return Console(highlight=False, soft_wrap=False)


def _pick(fmt: Any, as_json: bool) -> str:
    if as_json:
        return "json"
    if fmt is not None:
        return str(fmt.value)
    return "table" if sys.stdout.isatty() else "json"


# --- billings search -------------------------------------------------------------------------------

_SIGN = {"deduct": "-", "refund": "+", "recharge": "+", "adjust": "±"}


def _records_table(page: BillingPage) -> Table:
    last = page.page * page.page_size >= page.total
    caption = f"page {page.page} · {len(page)} shown · {page.total} matching"
    if page.has_more and not last:
        caption += f" · next: --page {page.page + 1}"
    table = Table(caption=caption, caption_justify="left")
    for name, justify in (("Time (UTC)", "left"), ("Type", "left"), ("Amount", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for name in ("Model", "Key", "Prediction", "Status"):
        table.add_column(name, overflow="fold")
    for r in page:
        table.add_row(*_record_cells(r))
    return table


def _empty_text(page: BillingPage) -> str:
    if page.total == 0:
        return "no records match"
    return f"page {page.page} is past the end: {page.total} records match"


def _record_cells(r: BillingRecord) -> list[str]:
    sign = _SIGN.get(r.billing_type, "")
    status = r.prediction.status if r.prediction else ""
    if r.order:
        status = f"{status} / {r.order.state}" if status else r.order.state
    return [
        _when(r.created_at),
        r.billing_type,
        f"{sign}{usd(r.price)}",
        r.model_uuid or "",
        r.access_key_name or r.access_key_id or "",
        r.prediction.uuid if r.prediction else "",
        status,
    ]


def _print_page(page: BillingPage, fmt: str) -> None:
    if fmt == "table":
        _out().print(_records_table(page) if page.items else _empty_text(page))
    elif fmt == "json":
        body = {"page": page.page, "total": page.total, "has_more": page.has_more}
        typer.echo(dumps(body | {"items": [r.raw for r in page]}))
    elif fmt == "jsonl":
        for record in page:
            typer.echo(dumps(record.raw))
    else:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        writer.writerows(csv_row(r) for r in page)


@billings_app.command("search")
def billings_search(
    billing_type: Type = None,
    prediction: Predictions = None,
    model: Models = None,
    key: Keys = None,
    since: Since = None,
    start: From = None,
    until: Until = None,
    sort: Annotated[SortChoice, typer.Option("--sort", help="Oldest or newest first.", case_sensitive=False)] = SortChoice.desc,
    page: Annotated[int, typer.Option("--page", min=1, help="Page number, from 1.")] = 1,
    page_size: Annotated[int, typer.Option("--page-size", min=1, max=100, help="Records per page, 1-100.")] = 10,
    fmt: Annotated[
        OutputFormat | None,
        typer.Option("--format", "-f", help="table (default on a terminal), json (default otherwise), jsonl or csv.", case_sensitive=False, show_default=False),
    ] = None,
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Show one page of billing records, newest first.

    Example: billbook billings search --type deduct --since 7d --model bytedance/seedream-v4.5
    """
    with _client(api_key, base_url) as client:
        lo, hi = time_window(since, start, until)
        result = client.billings.search(
            billing_type=billing_type.value if billing_type else None,
            prediction_uuids=prediction,
            model_uuid=model,
            access_key_uuid=key,
            start_time=lo,
            end_time=hi,
            sort=sort.value,
            page=page,
            page_size=page_size,
        )
        _print_page(result, _pick(fmt, as_json))


# --- billings export -------------------------------------------------------------------------------


def _progress() -> Progress:
    """A bar on a terminal, erased when done so that only the outcome line stays; nothing in logs."""
    console = _stderr()
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
def billings_export(
    out: Annotated[str, typer.Option("--out", "-o", help="File to write: .csv or .jsonl.", show_default=False)],
    billing_type: Type = None,
    prediction: Predictions = None,
    model: Models = None,
    key: Keys = None,
    since: Since = None,
    start: From = None,
    until: Until = None,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Export every matching record, oldest first, to CSV or JSON Lines (by file extension).

    Each record that existed when the export started is written exactly once, even while new
    records arrive; the file appears only when the export is complete.

    Example: billbook billings export --out april.csv --from 2026-04-01 --until 2026-04-30
    """
    with _client(api_key, base_url) as client:
        format_for(out)
        lo, hi = time_window(since, start, until)
        with _progress() as progress:
            task = progress.add_task("export", total=None)

            def report(done: int, total: int) -> None:
                progress.update(task, completed=done, total=max(done, total))

            result = client.billings.export(
                out,
                billing_type=billing_type.value if billing_type else None,
                prediction_uuids=prediction,
                model_uuid=model,
                access_key_uuid=key,
                start_time=lo,
                end_time=hi,
                on_progress=report,
            )
        window = _window_text(result.start_ms, result.end_ms)
        _stderr().print(f"wrote {result.written} records to {out} ({window})", markup=False)


# --- usage -----------------------------------------------------------------------------------------

_BLOCKS = " ▏▎▍▌▋▊▉█"


def bar(value: Decimal, top: Decimal, width: int) -> str:
    """A horizontal bar ``width`` cells long at ``top``, drawn in eighths of a cell."""
    if top <= 0 or value <= 0:
        return ""
    eighths = int(value / top * width * 8)
    full, part = divmod(max(eighths, 1), 8)
    return "█" * full + (_BLOCKS[part] if part else "")


def _models_table(stats: UsageStats) -> Table:
    table = Table(title="By model", title_justify="left")
    table.add_column("Model", overflow="fold")
    table.add_column("Type")
    for name in ("Unit price", "Requests", "Cost"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("Last used (UTC)", no_wrap=True)
    for m in stats.per_model_usage:
        last = _when(m.last_used_date) if m.last_used_date else ""
        table.add_row(m.model_uuid, m.model_type, usd(m.unit_price), f"{m.total_count:,}", usd(m.total_cost), last)
    return table


def _days_table(stats: UsageStats) -> Table:
    table = Table(title="By day", title_justify="left")
    table.add_column("Date (UTC)", no_wrap=True)
    table.add_column("Requests", justify="right")
    table.add_column("Cost", justify="right", no_wrap=True)
    table.add_column("Top model", overflow="fold")
    for d in stats.daily_usage:
        top = max(d.models, key=lambda m: m.amount).model_uuid if d.models else ""
        table.add_row(d.date.isoformat(), f"{d.count:,}", usd(d.amount), top)
    return table


def _chart(stats: UsageStats, width: int = 40) -> Table:
    """Daily spend as bars, one line per day of the range, idle days included as gaps."""
    amounts = {d.date: d.amount for d in stats.daily_usage}
    top = max(amounts.values(), default=Decimal(0))
    table = Table(title="Daily spend", title_justify="left", box=None, show_header=False, pad_edge=False)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True, style="cyan")
    table.add_column(justify="right", no_wrap=True)
    for day in _days(stats.start.date(), stats.end.date()):
        amount = amounts.get(day, Decimal(0))
        table.add_row(day.isoformat(), bar(amount, top, width), usd(amount))
    return table


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def _summary_line(stats: UsageStats) -> Text:
    s = stats.summary
    return Text(
        f"{_when(stats.start)} to {_when(stats.end)} UTC: {usd(s.total_cost)} net of refunds, "
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


def usage(
    since: Since = None,
    start: From = None,
    until: Until = None,
    model: Annotated[str | None, typer.Option("--model", help="Only this model.", show_default=False)] = None,
    key: Annotated[str | None, typer.Option("--key", help="Only this access key id.", show_default=False)] = None,
    fmt: Annotated[
        SummaryFormat | None,
        typer.Option("--format", "-f", help="table (default on a terminal) or json.", case_sensitive=False, show_default=False),
    ] = None,
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Spend by model and by day, with a chart of daily spend (default: the last 30 days).

    Ranges longer than 31 days are fetched in parts and added up.

    Example: billbook usage --from 2026-01-01 --until 2026-03-31 --model bytedance/seedream-v4.5
    """
    with _client(api_key, base_url) as client:
        lo, hi = time_window(since, start, until)
        hi = now_ms() if hi is None else hi
        lo = _default_start(hi) if lo is None else lo
        stats = client.usage_stats(lo, hi, model_uuid=model, access_key_uuid=key)
        if _pick(fmt, as_json) == "json":
            typer.echo(dumps(usage_to_wire(stats)))
            return
        console = _out()
        console.print(_summary_line(stats))
        for block in (_models_table(stats), _days_table(stats), _chart(stats)):
            console.print()
            console.print(block)


def _default_start(end_ms: int) -> int:
    """Midnight UTC 29 days before the end's day: 30 whole calendar days."""
    day = ms_to_datetime(end_ms).date() - timedelta(days=29)
    return datetime_to_ms(datetime(day.year, day.month, day.day, tzinfo=UTC))


# --- balance ---------------------------------------------------------------------------------------


def balance(
    fmt: Annotated[
        SummaryFormat | None,
        typer.Option("--format", "-f", help="table (default on a terminal) or json.", case_sensitive=False, show_default=False),
    ] = None,
    as_json: AsJson = False,
    base_url: BaseUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Show the account's balance.

    Example: billbook balance --json
    """
    with _client(api_key, base_url) as client:
        result = client.balance()
        if _pick(fmt, as_json) == "json":
            typer.echo(dumps({"balance": result.balance, "currency": result.currency}))
        else:
            _out().print(f"{usd(result.balance)} {result.currency}")


# --- wiring ----------------------------------------------------------------------------------------

COMMANDS: dict[str, Callable[..., None]] = {"usage": usage, "balance": balance}


def register(app: typer.Typer) -> None:
    """Add ``billings search|export``, ``usage`` and ``balance`` to the root ``billbook`` app."""
    app.add_typer(billings_app, name="billings")
    for name, command in COMMANDS.items():
        app.command(name)(command)
