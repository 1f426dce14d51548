"""Options shared by many commands, declared once.

As sqlite-utils' CLI shares one click decorator per option group, an option group here is one
decorator: it adds its options to the command's signature (so Typer parses them and lists them in
``--help``) and hands the command a single argument built from their values (a client, a time
window, the settings). A command declares only the options that are its own, and a new option of a
group is one edit.

Values that need checking on the way in (USD amounts, account ids, names) have parsers here, so a
bad value is refused while the command line is parsed, with the option's name in the message.
"""

from __future__ import annotations

import functools
import inspect
import unicodedata
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

import typer

from billbook.money import MoneyError, usd_to_micros

F = TypeVar("F", bound=Callable[..., Any])
Decorator = Callable[[F], F]

#: Account ids are 32-bit integers in every database billbook runs on.
MAX_ACCOUNT_ID = 2**31 - 1


def option(name: str, annotation: Any, default: Any = None) -> inspect.Parameter:
    """One option of a group: ``annotation`` is ``Annotated[type, typer.Option(...)]``."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def option_group(into: str, *options: inspect.Parameter) -> Callable[[Callable[..., Any]], Decorator]:
    """Make ``build`` (the options' values as keywords -> a value, or a context manager giving it)
    into a decorator that adds ``options`` to a command and passes it ``into=<built value>``.

    A built context manager stays open while the command runs, so it can also turn the command's
    exceptions into clear failures (a client's connection errors, a database's).
    """

    def make(build: Callable[..., Any]) -> Decorator:
        def decorate(command: F) -> F:
            own = [p for p in _parameters(command) if p.name != into]

            @functools.wraps(command)
            def run(**values: Any) -> Any:
                given = {p.name: values.pop(p.name) for p in options}
                with ExitStack() as stack:
                    built = build(**given)
                    if isinstance(built, AbstractContextManager):
                        built = stack.enter_context(built)
                    return command(**values, **{into: built})

            parameters = [*own, *options]
            run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
            run.__annotations__ = {p.name: p.annotation for p in parameters}
            return run  # type: ignore[return-value]

        return decorate

    return make


def _parameters(command: Callable[..., Any]) -> list[inspect.Parameter]:
    """The command's parameters as keyword-only, annotations resolved (postponed annotations are
    strings; the one an option group fills may name a type imported only for type checkers)."""
    found = []
    for p in inspect.signature(command).parameters.values():
        annotation = p.annotation
        if isinstance(annotation, str):
            try:
                # The module's own annotation text, evaluated as typing.get_type_hints would.
                annotation = eval(annotation, getattr(command, "__globals__", {}))  # noqa: S307
            except NameError:
                annotation = Any
        found.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=annotation))
    return found


# --- values checked while parsing ------------------------------------------------------------------


def parse_usd(text: str) -> int:
    """A USD amount typed by a person (``12.50``, ``$12.50``) as micro-dollars."""
    if isinstance(text, int):  # a default
        return text
    try:
        return usd_to_micros(Decimal(text.strip().lstrip("$")))
    except (InvalidOperation, MoneyError):
        raise typer.BadParameter(f"{text!r} is not an amount of USD with at most 6 decimals") from None


def usd_option(flag: str, help_text: str, *, show_default: bool = False) -> Any:
    """An option taking USD, handed to the command as micro-dollars."""
    return typer.Option(flag, help=help_text, parser=parse_usd, metavar="USD", show_default=show_default)


def parse_account_id(text: str) -> int:
    """An account id: a whole number that fits the databases' 32-bit column."""
    try:
        number = int(str(text).strip())
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an account id") from None
    if not 1 <= number <= MAX_ACCOUNT_ID:
        raise typer.BadParameter(f"account ids run from 1 to {MAX_ACCOUNT_ID}, got {number}")
    return number


def parse_name(text: str) -> str:
    """A name shown in records and dashboards: control characters (a newline, an escape) are refused."""
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise typer.BadParameter(f"control characters are not allowed in a name, got {text!r}")
    return text


Json = Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else on stdout.")]
AccountId = Annotated[int, typer.Option("--account", help="Account id.", parser=parse_account_id, metavar="ID")]
