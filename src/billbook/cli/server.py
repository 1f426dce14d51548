"""``billbook serve``: migrate once, then run the HTTP server (optionally several worker processes).

Workers get their settings one way only: ``run_server`` writes the resolved ``Settings`` into the
environment as ``BILLBOOK_*`` variables, and each worker's ``create_app()`` reads them back. That
holds for one worker (in this process) and for several (spawned processes inherit the environment).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import typer

from billbook.cli.operating import DATABASE, LISTEN, WORKERS, on_database, operator_command

if TYPE_CHECKING:
    from billbook.settings import Settings

commands = typer.Typer()


def prepare_database(settings: Settings) -> None:
    """Migrations and the admin token are settled once here, before any worker starts."""
    from billbook.api.app import prepare

    on_database(settings, lambda db: prepare(db, settings))


def run_server(settings: Settings) -> None:
    import uvicorn

    from billbook.api.metrics import clear_multiprocess_dir
    from billbook.logs import uvicorn_log_config
    from billbook.settings import get_settings

    os.environ.update(settings.as_environment())
    get_settings.cache_clear()
    clear_multiprocess_dir()
    uvicorn.run(
        "billbook.api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="info",
        # JSON lines (or BILLBOOK_LOG_FORMAT=text); billbook writes its own access line, with the request id.
        log_config=uvicorn_log_config(settings.log_format),
        access_log=False,
        # The dashboard and API are one origin; no proxy headers are trusted by default.
        proxy_headers=False,
    )


@operator_command(commands, "serve", DATABASE, LISTEN, WORKERS)
def serve(settings: Settings) -> None:
    """Migrate the database, then serve the API and the dashboard.

    Example: billbook serve --host 127.0.0.1 --port 8000 --db postgresql://postgres@127.0.0.1/billbook
    """
    prepare_database(settings)
    run_server(settings)


def register(app: typer.Typer) -> None:
    app.registered_commands.extend(commands.registered_commands)
