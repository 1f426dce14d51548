"""Customer commands for spend limits and alerts: ``keys list``, ``limits get|set``, ``alerts get|set``.

They speak HTTP through the SDK only, like the other customer commands. The operator's own limits
are set on the database with ``billbook accounts limit`` and ``billbook keys limit``
(``billbook.cli.operator``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any

import typer

from billbook.cli.customer import customer_command
from billbook.cli.render import format_usd, stdout
from billbook.client import Client, SpendLimits, Windows

limits_app = typer.Typer(help="Spend limits on your account and keys.", no_args_is_help=True)
alerts_app = typer.Typer(help="Low-balance alert thresholds.", no_args_is_help=True)
PERIODS = ("daily", "monthly", "total")
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else on stdout.")]


def _amount(flag: str, help_text: str) -> Any:
    return typer.Option(flag, help=help_text, metavar="USD", show_default=False)


def _text(value: Decimal | None) -> str:
    return "-" if value is None else format_usd(value)


def _wire(windows: Windows) -> dict[str, str | None]:
    return {p: None if getattr(windows, p) is None else str(getattr(windows, p)) for p in PERIODS}


def _limits_json(found: SpendLimits) -> dict:
    return {
        "spend": _wire(found.spend),
        "limits": {"operator": _wire(found.operator), "customer": _wire(found.customer), "applied": _wire(found.applied)},
    }


def _limits_lines(found: SpendLimits) -> list[str]:
    names = {"daily": "today", "monthly": "this month", "total": "total"}
    lines = []
    for p in PERIODS:
        spent, applied = getattr(found.spend, p), getattr(found.applied, p)
        limit = "no limit" if applied is None else f"limit {format_usd(applied)}"
        lines.append(
            f"  {names[p]:<11} {_text(spent):>12}  {limit}"
            f"  (operator {_text(getattr(found.operator, p))}, yours {_text(getattr(found.customer, p))})"
        )
    return lines


def _print(as_json: bool, data: Any, lines: list[str]) -> None:
    if as_json:
        typer.echo(json.dumps(data))
    else:
        stdout().print("\n".join(lines), markup=False)


@customer_command
def keys_list(client: Client, as_json: Json = False) -> None:
    """List your access keys with their spend today, this month and in total against their limits.

    Example: billbook keys list --json
    """
    keys = client.keys.list()
    data = [
        {"access_key_id": k.access_key_id, "access_key_name": k.access_key_name, "revoked": k.revoked,
         **_limits_json(k.limits)}
        for k in keys
    ]
    lines = []
    for k in keys:
        lines.append(f"{k.access_key_id} ({k.access_key_name}){' revoked' if k.revoked else ''}")
        lines += _limits_lines(k.limits)
    _print(as_json, {"items": data}, lines or ["no keys"])


@limits_app.command("get")
@customer_command
def limits_get(client: Client, as_json: Json = False) -> None:
    """Show your account's spend and limits (a key's: billbook keys list).

    Example: billbook limits get --json
    """
    found = client.limits.get()
    _print(as_json, _limits_json(found), ["account", *_limits_lines(found)])


@limits_app.command("set")
@customer_command
def limits_set(
    client: Client,
    daily: Annotated[str | None, _amount("--daily", "Limit per UTC day, USD.")] = None,
    monthly: Annotated[str | None, _amount("--monthly", "Limit per UTC month, USD.")] = None,
    total: Annotated[str | None, _amount("--total", "Limit on all spend, USD.")] = None,
    key: Annotated[str | None, typer.Option("--key", help="One of your access key ids (default: the account).")] = None,
    as_json: Json = False,
) -> None:
    """Replace your limits on the account or on one key; a window left out has no limit.

    The operator's limits, if lower, still apply.

    Example: billbook limits set --daily 50 --monthly 500 --key 1_1776946986692727375
    """
    found = client.limits.set(daily=daily, monthly=monthly, total=total, access_key_id=key)
    _print(as_json, _limits_json(found), [key or "account", *_limits_lines(found)])


@alerts_app.command("get")
@customer_command
def alerts_get(client: Client, as_json: Json = False) -> None:
    """Show your low-balance alert thresholds.

    Example: billbook alerts get
    """
    found = client.alerts.get().low_balance
    _print(as_json, {"low_balance": [str(v) for v in found]}, [", ".join(format_usd(v) for v in found) or "none"])


@alerts_app.command("set")
@customer_command
def alerts_set(
    client: Client,
    low_balance: Annotated[list[str] | None, typer.Argument(help="Thresholds in USD; none turns alerts off.", show_default=False)] = None,
    as_json: Json = False,
) -> None:
    """Replace your low-balance thresholds: an alert (balance.low) each time the balance goes below one.

    Example: billbook alerts set 50 10
    """
    found = client.alerts.set(low_balance or []).low_balance
    _print(as_json, {"low_balance": [str(v) for v in found]}, [", ".join(format_usd(v) for v in found) or "none"])


def register(app: typer.Typer, keys_app: typer.Typer) -> None:
    """``limits`` and ``alerts`` on the root app; ``list`` on the (operator's) ``keys`` group."""
    app.add_typer(limits_app, name="limits")
    app.add_typer(alerts_app, name="alerts")
    keys_app.command("list")(keys_list)
