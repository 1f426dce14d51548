"""Options shared by many commands, declared once (``Annotated`` aliases, as sqlite-utils shares decorators)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer

from billbook.money import MoneyError, usd_to_micros

DbUrl = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="BILLBOOK_DATABASE_URL",
        help="Database URL: sqlite:///billbook.db (default), sqlite:////abs/path.db or postgresql://user@host/db.",
        show_default=False,
    ),
]
DEFAULT_DB = "sqlite:///billbook.db"

Json = Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else on stdout.")]
Host = Annotated[str, typer.Option("--host", envvar="BILLBOOK_HOST", help="Interface to listen on.")]
Port = Annotated[int, typer.Option("--port", envvar="BILLBOOK_PORT", help="TCP port to listen on.")]


def usd(option: str, text: str) -> int:
    """A USD amount typed by a person, as micro-dollars; a clear error naming the option otherwise."""
    try:
        return usd_to_micros(Decimal(text.strip().lstrip("$")))
    except (InvalidOperation, MoneyError) as exc:
        raise typer.BadParameter(f"{text!r} is not an amount of USD with at most 6 decimals", param_hint=option) from exc
