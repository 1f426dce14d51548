"""Every failure of a command is one line on stderr and an exit code, never a traceback.

Exit codes: ``EXIT_REFUSED`` (1) when the operation was refused or failed (not found, conflict,
an HTTP error from the server), ``EXIT_USAGE`` (2) for a usage or configuration error (a bad
option, a bad ``BILLBOOK_*`` variable, a database that cannot be opened). Code that knows what went
wrong raises ``Failure``; ``reporting`` prints it. Nothing printed here contains a password: URLs
are rendered with it hidden before they reach a message.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import typer
from typer.core import TyperCommand

EXIT_REFUSED = 1
EXIT_USAGE = 2

F = TypeVar("F", bound=Callable[..., Any])


class Failure(Exception):
    """What went wrong, in words for the person at the terminal, and the exit code it deserves."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = " ".join(message.split())  # one line, whatever the cause's text held
        self.code = code


def fail(message: str, code: int) -> NoReturn:
    raise Failure(message, code)


def report(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(code)


def reporting(command: F) -> F:
    """Run ``command``, printing a ``Failure`` (or a bad value found inside it) as one line."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except Failure as exc:
            report(exc.message, exc.code)
        except typer.TyperException as exc:  # a bad value found by the command (typer.BadParameter)
            report(exc.format_message(), EXIT_USAGE)

    return run  # type: ignore[return-value]


class OneLineUsageErrors(TyperCommand):
    """A command whose parse errors (a missing option, a value out of range) are one line too, instead
    of click's usage block."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except typer.TyperException as exc:  # click's UsageError and its kinds, as Typer vendors them
            report(exc.format_message(), EXIT_USAGE)
