"""``billbook serve``: migrate once, then run the HTTP server (optionally several worker processes)."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from billbook.cli.options import DEFAULT_DB, DbUrl, Host, Port


def prepare_database(db_url: str) -> None:
    """Migrations and the admin token are settled once here, before any worker starts."""
    from billbook.api.app import prepare
    from billbook.settings import Settings
    from billbook.store.db import Database

    async def main() -> None:
        db = Database(db_url)
        try:
            await prepare(db, Settings(database_url=db_url))
        finally:
            await db.dispose()

    asyncio.run(main())


def run_server(db_url: str, host: str, port: int, workers: int = 1, log_format: str | None = None) -> None:
    import uvicorn

    from billbook.api.metrics import clear_multiprocess_dir
    from billbook.logs import uvicorn_log_config
    from billbook.settings import get_settings

    os.environ["BILLBOOK_DATABASE_URL"] = db_url
    clear_multiprocess_dir()
    uvicorn.run(
        "billbook.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        # JSON lines (or BILLBOOK_LOG_FORMAT=text); billbook writes its own access line, with the request id.
        log_config=uvicorn_log_config(log_format or get_settings().log_format),
        access_log=False,
        # The dashboard and API are one origin; no proxy headers are trusted by default.
        proxy_headers=False,
    )


def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    db: DbUrl = DEFAULT_DB,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes.")] = 1,
) -> None:
    """Migrate the database, then serve the API and the dashboard.

    Example: billbook serve --host 127.0.0.1 --port 8000 --db postgresql://postgres@127.0.0.1/billbook
    """
    prepare_database(db)
    run_server(db, host, port, workers)
