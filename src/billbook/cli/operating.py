"""What every operator command shares: its settings, its database, and its errors as one line.

An operator command (``serve``, ``db upgrade``, ``accounts``, ``keys``, ``recharge``, ``verify``)
is declared with ``operator_command(app, name, *groups)``. The groups' options (``--db``,
``--host``...) default to nothing, so ``Settings`` decides every default from the environment:
one configuration path, checked in one place. The command receives the ``Settings``; anything it
raises is turned into one line here: a ledger refusal exits 1, a bad option or variable and a
database that cannot be opened exit 2, always with the database's password hidden.

Server-side modules (pydantic, SQLAlchemy) are imported when a command runs, never when the
``billbook`` command tree is built: the customer commands work without them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from billbook.cli.failures import EXIT_REFUSED, EXIT_USAGE, Failure, OneLineUsageErrors, reporting
from billbook.cli.options import Decorator, option, option_group

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from billbook.settings import Settings
    from billbook.store.db import Database

T = TypeVar("T")


@dataclass(frozen=True)
class SettingOption:
    """A command line option that overrides one ``Settings`` field (``--db`` -> ``database_url``)."""

    field: str
    flag: str
    annotation: Any
    shown_default: object


def _setting(field: str, flag: str, kind: type, default: object, help: str) -> SettingOption:  # noqa: A002
    """``default`` is only shown: ``Settings`` applies it (a test checks that the two agree)."""
    variable = "BILLBOOK_" + field.upper()
    shown = typer.Option(flag, help=f"{help} [default: ${variable}, else {default}]", show_default=False)
    return SettingOption(field, flag, Annotated[kind | None, shown], default)


DATABASE = (
    _setting(
        "database_url", "--db", str, "sqlite:///billbook.db",
        "Database URL: sqlite:///billbook.db, sqlite:////abs/path.db or postgresql://user@host/db.",
    ),
)
LISTEN = (
    _setting("host", "--host", str, "127.0.0.1", "Interface to listen on."),
    _setting("port", "--port", int, 8000, "TCP port to listen on."),
)
WORKERS = (_setting("workers", "--workers", int, 1, "Worker processes."),)


def _param_name(setting: SettingOption) -> str:
    return setting.flag.lstrip("-").replace("-", "_")


def with_settings(*groups: tuple[SettingOption, ...]) -> Decorator:
    """Add the groups' options to a command and pass it ``settings``: the environment's, with the
    options given on the command line taking precedence, every failure a one-line ``Failure``."""
    chosen = [s for group in groups for s in group]
    names = {s.field: s.flag for s in chosen}

    @option_group("settings", *(option(_param_name(s), s.annotation) for s in chosen))
    @contextmanager
    def build(**values: Any) -> Iterator[Settings]:
        from billbook.settings import SettingsError, load_settings

        try:
            settings = load_settings(names, **{s.field: values[_param_name(s)] for s in chosen})
        except SettingsError as exc:
            raise Failure(str(exc), EXIT_USAGE) from None
        with explained(settings.database_url):
            yield settings

    return build


def operator_command(app: typer.Typer, name: str, *groups: tuple[SettingOption, ...]) -> Decorator:
    """Register an operator command on ``app``: settings from the groups' options and the
    environment, every error one line on stderr (parse errors included)."""

    def register(command: Callable[..., Any]) -> Any:
        app.command(name, cls=OneLineUsageErrors)(reporting(with_settings(*groups)(command)))
        return command

    return register


# --- errors ----------------------------------------------------------------------------------------

@contextmanager
def explained(database_url: str) -> Iterator[None]:
    """Turn what a command on ``database_url`` raises into a one-line ``Failure``."""
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from billbook.ledger.errors import BillbookError, InvalidRequest
    from billbook.settings import SettingsError, hide_password
    from billbook.store.db import UnsupportedDatabase, unusable_database_errors

    shown = hide_password(database_url)
    try:
        yield
    except SettingsError as exc:
        raise Failure(str(exc), EXIT_USAGE) from None
    except InvalidRequest as exc:
        raise Failure(exc.message, EXIT_USAGE) from None
    except BillbookError as exc:
        raise Failure(exc.message, EXIT_REFUSED) from None
    except (UnsupportedDatabase, ArgumentError) as exc:
        raise Failure(f"{shown}: {exc}", EXIT_USAGE) from None
    except unusable_database_errors() as exc:
        reason = _first_line(exc.orig or exc if isinstance(exc, DBAPIError) else exc)
        message = f"cannot use the database {shown}: {reason}"
        raise Failure(_without_password(message, database_url), EXIT_USAGE) from None
    except OSError as exc:
        message = f"cannot reach the database {shown}: {exc.strerror or _first_line(exc)}"
        raise Failure(_without_password(message, database_url), EXIT_USAGE) from None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else exc.__class__.__name__


def _without_password(message: str, database_url: str) -> str:
    """The message with the URL's password masked wherever a driver may have repeated it."""
    from sqlalchemy.engine import make_url

    password = make_url(database_url).password
    return message.replace(str(password), "***") if password else message


# --- the database ----------------------------------------------------------------------------------


def on_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work(db)`` on the configured database, then close it."""
    from billbook.store.db import Database

    async def main() -> T:
        db = Database.from_settings(settings)
        try:
            return await work(db)
        finally:
            await db.dispose()
            await _let_driver_threads_finish()

    return asyncio.run(main())


async def _let_driver_threads_finish() -> None:
    """Wait for aiosqlite's worker threads to end while the event loop still runs: after a failed
    connection, one still has to hand its last result to the loop, and were the loop closed first,
    that thread would print a traceback on stderr."""
    workers = [t for t in threading.enumerate() if t.name.endswith("(_connection_worker_thread)")]
    if workers:
        await asyncio.to_thread(lambda: [t.join(timeout=5) for t in workers])


def in_transaction(settings: Settings, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Migrate if needed, then run ``work(conn)`` in one write transaction."""
    from billbook.store.migrate import upgrade

    async def migrated(db: Database) -> T:
        await upgrade(db)
        async with db.transaction(write=True) as conn:
            return await work(conn)

    return on_database(settings, migrated)
