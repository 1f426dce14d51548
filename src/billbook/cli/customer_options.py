"""The customer commands' option groups: the connection, the filters and time window, the output format.

Each group is one decorator (see ``billbook.cli.options``); a command lists the groups it takes and
receives a ``Client``, the SDK's filter keywords, a ``Window`` or the chosen format. The connection
group also owns the commands' failures: whatever the SDK raises becomes one line and an exit code.
"""

from __future__ import annotations

import enum
import inspect
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, get_args

import typer

from billbook.cli.failures import EXIT_REFUSED, EXIT_USAGE, fail
from billbook.cli.options import Decorator, option, option_group
from billbook.client import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BillbookClientError,
    BillingType,
    Client,
    ConfigurationError,
    NotFoundError,
    SearchParams,
    ServerError,
    SortOrder,
)
from billbook.client._convert import to_ms
from billbook.times import now_ms


def choices(name: str, source: Any) -> type[enum.StrEnum]:
    """A Typer choice type from a ``Literal``, an enum or a sequence of names; from the SDK's
    vocabulary, the CLI offers exactly the values the SDK sends."""
    values = [str(getattr(v, "value", v)) for v in get_args(source) or source]
    return enum.StrEnum(name, {value: value for value in values})  # type: ignore[return-value]


BillingTypeChoice = choices("BillingTypeChoice", BillingType)
SortChoice = choices("SortChoice", SortOrder)
RecordFormat = choices("RecordFormat", ("table", "json", "jsonl", "csv"))
SummaryFormat = choices("SummaryFormat", ("table", "json"))


def _optional(name: str, kind: Any, *flags: str, help: str, **kwargs: Any) -> inspect.Parameter:  # noqa: A002
    """An option of a group that defaults to None (not given)."""
    return option(name, Annotated[kind | None, typer.Option(*flags, help=help, show_default=False, **kwargs)])


# --- the connection --------------------------------------------------------------------------------


def describe_client_error(exc: BillbookClientError, base_url: str) -> str:
    """The SDK's error with what to check next."""
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


@option_group(
    "client",
    _optional(
        "base_url", str, "--base-url", envvar="BILLBOOK_BASE_URL",
        help="Server URL (default http://127.0.0.1:8000; https://api.wavespeed.ai works too).",
    ),
    _optional(
        "api_key", str, "--api-key", envvar=["BILLBOOK_API_KEY", "WAVESPEED_API_KEY"],
        help="API key (prefer the environment variable: arguments show up in process lists).",
    ),
)
@contextmanager
def connected(base_url: str | None, api_key: str | None) -> Iterator[Client]:
    """A client for the command, with every failure while it runs turned into one line."""
    if not api_key:  # typer has already looked in both environment variables
        fail("no API key: pass --api-key or set BILLBOOK_API_KEY", EXIT_USAGE)
    try:
        client = Client(api_key=api_key, base_url=base_url)
    except ConfigurationError as exc:
        fail(exc.message, EXIT_USAGE)
    try:
        with client:
            yield client
    except ConfigurationError as exc:
        fail(exc.message, EXIT_USAGE)
    except BillbookClientError as exc:
        fail(describe_client_error(exc, client.base_url), EXIT_REFUSED)
    except ValueError as exc:  # an option's value the command could not use
        fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc), EXIT_REFUSED)


# --- the time window -------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


@dataclass(frozen=True)
class Window:
    """Inclusive bounds in epoch milliseconds; None: open on that side."""

    start: int | None
    end: int | None


def parse_since(text: str, now: int) -> int:
    """``7d`` -> the epoch millisecond seven days before ``now``."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"--since {text!r} is not a duration like 30m, 12h, 7d or 2w")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    return now - seconds * 1000


def time_window(since: str | None, start: str | None, until: str | None) -> Window:
    """The window that --since / --from / --until describe."""
    if since and start:
        raise ValueError("use either --since or --from, not both")
    lo = parse_since(since, now_ms()) if since else _point(start, "--from", end_of_day=False)
    hi = _point(until, "--until", end_of_day=True)
    if lo is not None and hi is not None and lo > hi:
        raise ValueError("the start of the range is after its end (--from/--since vs --until)")
    return Window(lo, hi)


def _point(text: str | None, option_name: str, *, end_of_day: bool) -> int | None:
    if text is None:
        return None
    try:
        return to_ms(text, option_name, end_of_day=end_of_day)
    except ValueError:
        raise ValueError(f"{option_name} {text!r} is not a date or time (use 2026-04-01 or ISO 8601)") from None


WINDOW_OPTIONS = (
    _optional("since", str, "--since", help="Only the last 30m, 12h, 7d or 2w (instead of --from)."),
    _optional("start", str, "--from", help="Start, inclusive: 2026-04-01 (UTC midnight), 2026-04-01T09:30:00Z or epoch ms."),
    _optional("until", str, "--until", help="End, inclusive: a date alone covers that whole UTC day."),
)

windowed: Decorator = option_group("window", *WINDOW_OPTIONS)(time_window)


# --- record filters --------------------------------------------------------------------------------

FILTER_OPTIONS = (
    _optional("billing_type", BillingTypeChoice, "--type", help="Only this billing type.", case_sensitive=False),
    _optional("prediction", list[str], "--prediction", help="Only records of this prediction uuid (repeatable)."),
    _optional("model", list[str], "--model", help="Only this model, e.g. bytedance/seedream-v4.5 (repeatable)."),
    _optional("key", list[str], "--key", help="Only this access key id, e.g. 77730_1776946986692727375 (repeatable)."),
)


@option_group("filters", *FILTER_OPTIONS, *WINDOW_OPTIONS)
def filtered(
    billing_type: enum.StrEnum | None,
    prediction: list[str] | None,
    model: list[str] | None,
    key: list[str] | None,
    **window: str | None,
) -> SearchParams:
    """The SDK's search keywords for these options (types, uuids, models, keys and the window)."""
    bounds = time_window(**window)
    return {
        "billing_type": billing_type.value if billing_type else None,  # type: ignore[typeddict-item]
        "prediction_uuids": prediction,
        "model_uuid": model,
        "access_key_uuid": key,
        "start_time": bounds.start,
        "end_time": bounds.end,
    }


# --- output format ---------------------------------------------------------------------------------


def formatted(formats: type[enum.StrEnum]) -> Decorator:
    """``--format`` among ``formats`` and ``--json``, given to the command as the chosen name:
    table on a terminal, JSON otherwise, unless asked."""
    names = _listed(formats)

    @option_group(
        "fmt",
        _optional(
            "fmt", formats, "--format", "-f", case_sensitive=False,
            help=f"{names}: table by default on a terminal, json otherwise.",
        ),
        option("as_json", Annotated[bool, typer.Option("--json", help="Same as --format json.")], default=False),
    )
    def chosen(fmt: enum.StrEnum | None, as_json: bool) -> str:
        if as_json:
            return "json"
        if fmt is not None:
            return str(fmt.value)
        return "table" if sys.stdout.isatty() else "json"

    return chosen


def _listed(formats: Iterable[enum.StrEnum]) -> str:
    values = [str(f.value) for f in formats]
    return ", ".join(values[:-1]) + " or " + values[-1]
