"""``billbook archive``: move months of billing records out of PostgreSQL into Parquet files, and
``billbook partitions``: make the months ahead (the server does it at every start too)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from billbook.cli.operating import DATABASE, on_database, operator_command
from billbook.cli.operator import emit
from billbook.cli.options import Json

if TYPE_CHECKING:
    from billbook.settings import Settings
    from billbook.store.db import Database

commands = typer.Typer()


@operator_command(commands, "archive", DATABASE)
def archive(
    settings: Settings,
    before: Annotated[str, typer.Option("--before", help="First month kept, as YYYY-MM: every month before it is archived.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the Parquet files (one per month).")],
    as_json: Json = False,
) -> None:
    """Write each month of billing records before --before to DIR/billing_records-YYYY-MM.parquet,
    check the file against the database, then detach and drop the month's partition (PostgreSQL).
    Balances, verify, usage and daily counts keep working; searches of those months answer 410.

    Example: billbook archive --before 2025-01 --out /var/lib/billbook/archive --db postgresql://postgres@127.0.0.1/billbook
    """
    from billbook.ledger.archive import archive as run

    async def go(db: Database) -> list:
        return await run(lambda: db.transaction(write=True), before, out)

    done = on_database(settings, go)
    lines = "\n".join(f"{m.month}: {m.records} records -> {m.path}" for m in done) or "nothing to archive"
    emit(as_json, {"archived": [m.__dict__ for m in done]}, lines)


@operator_command(commands, "partitions", DATABASE)
def make_partitions(settings: Settings, as_json: Json = False) -> None:
    """Make the monthly partitions of billing records for this month and the next twelve, and for
    any month whose back-dated records wait in the default partition (PostgreSQL; run it from cron
    if servers run for months without a restart).

    Example: billbook partitions --db postgresql://postgres@127.0.0.1/billbook
    """
    from billbook.store.migrate import upgrade

    async def go(db: Database) -> None:
        await upgrade(db)

    on_database(settings, go)
    emit(as_json, {"ok": True}, "partitions made")


def register(app: typer.Typer) -> None:
    app.registered_commands.extend(commands.registered_commands)
