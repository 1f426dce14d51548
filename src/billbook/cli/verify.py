"""``billbook verify``: check every ledger invariant of a database and print each violation.

It only reads (one snapshot), so it is safe against a live server, and it does not migrate: a
database it cannot read is an error (exit 2), a database with violations exits 1.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from billbook.cli.operating import DATABASE, on_database, operator_command
from billbook.cli.options import Json

if TYPE_CHECKING:
    from billbook.ledger.verify import Report
    from billbook.settings import Settings
    from billbook.store.db import Database

commands = typer.Typer()


@operator_command(commands, "verify", DATABASE)
def verify(
    settings: Settings,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most violations listed per check.")] = 100,
    as_json: Json = False,
) -> None:
    """Check every ledger invariant: balances equal the sum of records, one deduct per order,
    refunds only for failed predictions and at most once, order states agree with their records,
    no charge overdrew, and the daily rollups equal a recomputation. Exits 1 on any violation.

    Example: billbook verify --db postgresql://postgres@127.0.0.1/billbook
    """
    from billbook.ledger.verify import verify as run_checks

    async def read(db: Database) -> Report:
        async with db.transaction(write=False) as conn:
            return await run_checks(conn, limit=limit)

    report = on_database(settings, read)
    if as_json:
        typer.echo(json.dumps(report.as_dict()))
    else:
        for violation in report.violations:
            typer.echo(str(violation))
        for name in report.truncated:
            typer.echo(f"{name}: more violations than --limit {limit}; only the first are listed")
        counts = ", ".join(f"{n} {what}" for what, n in report.checked.items())
        verdict = "ok" if report.ok else f"{len(report.violations)} violation(s)"
        typer.echo(f"{verdict}: checked {counts} ({len(report.checks)} checks)")
    if not report.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.registered_commands.extend(commands.registered_commands)
