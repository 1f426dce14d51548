"""Operator commands that work on the database directly (no server needed): accounts, keys, recharges.

Each command is one transaction opened here, at the edge, around one ledger call.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from billbook.cli.options import DEFAULT_DB, DbUrl, Json, usd

T = TypeVar("T")
console = Console()
err = Console(stderr=True)

accounts_app = typer.Typer(help="Create accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Issue and revoke API keys.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def in_transaction(db_url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Migrate if needed, then run ``work(conn)`` in one write transaction; domain errors exit 1."""
    from sqlalchemy.exc import OperationalError

    from billbook.ledger.errors import BillbookError
    from billbook.store.db import Database, UnsupportedDatabase
    from billbook.store.migrate import upgrade

    async def main() -> T:
        db = Database(db_url)
        try:
            await upgrade(db)
            async with db.transaction(write=True) as conn:
                return await work(conn)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except BillbookError as exc:
        err.print(f"error: {exc.message}", markup=False)
        raise typer.Exit(1) from None
    except UnsupportedDatabase as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from None
    except (OperationalError, OSError) as exc:
        err.print(f"error: cannot use the database: {exc.__class__.__name__}: {exc}".splitlines()[0], markup=False)
        raise typer.Exit(1) from None


def emit(as_json: bool, data: dict, text: str) -> None:
    if as_json:
        typer.echo(json.dumps(data))
    else:
        console.print(text, markup=False, highlight=False)


@db_app.command("upgrade")
def db_upgrade(db: DbUrl = DEFAULT_DB) -> None:
    """Apply pending migrations.

    Example: billbook db upgrade --db postgresql://postgres@127.0.0.1/billbook
    """
    from billbook.store.db import Database
    from billbook.store.migrate import upgrade

    async def main() -> None:
        database = Database(db)
        try:
            await upgrade(database)
        finally:
            await database.dispose()

    asyncio.run(main())
    console.print("database is up to date")


@accounts_app.command("create")
def accounts_create(
    name: Annotated[str, typer.Option("--name", help="Account name.")],
    balance: Annotated[str, typer.Option("--balance", help="Opening balance in USD.")] = "0",
    db: DbUrl = DEFAULT_DB,
    as_json: Json = False,
) -> None:
    """Create an account, with an optional opening balance (written as a recharge).

    Example: billbook accounts create --name "Acme" --balance 100 --json
    """
    from billbook.ledger import accounts
    from billbook.money import micros_to_json

    opening = usd("--balance", balance)
    account = in_transaction(db, lambda conn: accounts.create_account(conn, name, opening))
    data = {"id": account.id, "name": account.name, "balance": micros_to_json(account.balance)}
    emit(as_json, data, f"account {account.id} {account.name!r} created, balance {data['balance']} USD")


@keys_app.command("create")
def keys_create(
    account: Annotated[int, typer.Option("--account", help="Account id.")],
    name: Annotated[str, typer.Option("--name", help="Key name, shown in billing records.")],
    db: DbUrl = DEFAULT_DB,
    as_json: Json = False,
) -> None:
    """Issue an API key. The secret is printed once and stored only as a salted hash.

    Example: billbook keys create --account 1 --name production --json
    """
    from billbook.ledger import keys

    key = in_transaction(db, lambda conn: keys.create_key(conn, account, name))
    data = {"access_key_id": key.access_key_id, "ak_id": key.ak_id, "name": key.name, "api_key": key.api_key}
    emit(as_json, data, f"access key {key.access_key_id} ({key.name})\napi_key (shown once): {key.api_key}")


@keys_app.command("revoke")
def keys_revoke(
    access_key_id: Annotated[str, typer.Argument(help="The key's access_key_id, e.g. 1_1776946986692727375.")],
    db: DbUrl = DEFAULT_DB,
    as_json: Json = False,
) -> None:
    """Revoke an API key; it stops working at its next request.

    Example: billbook keys revoke 1_1776946986692727375
    """
    from billbook.ledger import keys
    from billbook.times import ms_to_iso

    key = in_transaction(db, lambda conn: keys.revoke_key(conn, access_key_id))
    data = {"access_key_id": key.access_key_id, "revoked_at": ms_to_iso(key.revoked_at)}
    emit(as_json, data, f"access key {key.access_key_id} revoked at {data['revoked_at']}")


def recharge(
    account: Annotated[int, typer.Option("--account", help="Account id.")],
    amount: Annotated[str, typer.Option("--amount", help="Amount in USD.")],
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="Idempotency reference (e.g. the payment id); repeating it is a no-op."),
    ] = None,
    db: DbUrl = DEFAULT_DB,
    as_json: Json = False,
) -> None:
    """Top up an account. With --reference, running the command twice adds the money once.

    Example: billbook recharge --account 1 --amount 50 --reference stripe_pi_123
    """
    from billbook.ledger import funds
    from billbook.money import micros_to_json

    micros = usd("--amount", amount)
    ref = reference or f"cli-{secrets.token_hex(8)}"
    result = in_transaction(db, lambda conn: funds.recharge(conn, account, micros, ref))
    data = {
        "uuid": result.record.uuid,
        "amount": micros_to_json(result.record.delta),
        "reference": ref,
        "balance": micros_to_json(result.balance),
        "created": result.created,
    }
    verb = "recharged" if result.created else "already recharged (same reference)"
    emit(as_json, data, f"account {account} {verb}: {data['amount']} USD, balance {data['balance']} USD")
