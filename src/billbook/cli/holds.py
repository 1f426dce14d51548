"""``billbook holds expire``: one full sweep of expired holds, by hand or from cron.

The same sweep ``billbook serve`` runs in the background (``BILLBOOK_HOLD_SWEEP_INTERVAL``), safe to
run while servers run theirs: each expired hold is refunded exactly once whoever gets to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from billbook.cli.operating import DATABASE, on_database, operator_command
from billbook.cli.operator import emit
from billbook.cli.options import Json

if TYPE_CHECKING:
    from billbook.settings import Settings
    from billbook.store.db import Database

holds_app = typer.Typer(help="Holds: the price a charge holds until its prediction ends.", no_args_is_help=True)


@operator_command(holds_app, "expire", DATABASE)
def holds_expire(settings: Settings, as_json: Json = False) -> None:
    """Move every prediction still created or processing past its hold deadline to timeout, with
    one refund each, and print how many expired.

    Example: billbook holds expire --db postgresql://postgres@127.0.0.1/billbook --json
    """
    from billbook.ledger.holds import sweep
    from billbook.store.migrate import upgrade

    async def expire(db: Database) -> int:
        await upgrade(db)
        return await sweep(lambda: db.transaction(write=True))

    expired = on_database(settings, expire)
    emit(as_json, {"expired": expired}, f"{expired} expired hold(s) refunded")


def register(app: typer.Typer) -> None:
    app.add_typer(holds_app, name="holds")
