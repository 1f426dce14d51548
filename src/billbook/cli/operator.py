"""Operator commands that work on the database directly (no server needed): accounts, keys, recharges.

Each command is one transaction opened here, at the edge, around one ledger call. Settings, errors
and the database are shared with every operator command (``billbook.cli.operating``).
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from billbook.cli.operating import DATABASE, in_transaction, on_database, operator_command
from billbook.cli.options import AccountId, Json, parse_name, usd_option

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from billbook.settings import Settings
    from billbook.store.rows import KeyRow

#: The token name the audit log gives the command line's writes (they need no token).
CLI = "cli"

console = Console()

commands = typer.Typer()  # the ones that sit at the root: ``billbook recharge``
accounts_app = typer.Typer(help="Create accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Issue and revoke API keys.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def _exact(value: object) -> object:
    """Money in ``--json`` output: the exact decimal, never a float."""
    import orjson  # the server's dependency: the customer commands run without it

    if isinstance(value, Decimal):
        return orjson.Fragment(format(value, "f"))
    raise TypeError(f"cannot render {type(value).__name__} as JSON")


def emit(as_json: bool, data: dict, text: str) -> None:
    if as_json:
        import orjson

        typer.echo(orjson.dumps(data, default=_exact).decode())
    else:
        console.print(text, markup=False, highlight=False)


@operator_command(db_app, "upgrade", DATABASE)
def db_upgrade(settings: Settings) -> None:
    """Apply pending migrations.

    Example: billbook db upgrade --db postgresql://postgres@127.0.0.1/billbook
    """
    from billbook.store.migrate import upgrade

    on_database(settings, upgrade)
    console.print("database is up to date")


@operator_command(accounts_app, "create", DATABASE)
def accounts_create(
    settings: Settings,
    name: Annotated[str, typer.Option("--name", help="Account name.", parser=parse_name)],
    balance: Annotated[int, usd_option("--balance", "Opening balance in USD.", show_default=True)] = 0,
    as_json: Json = False,
) -> None:
    """Create an account, with an optional opening balance (written as a recharge).

    Example: billbook accounts create --name "Acme" --balance 100 --json
    """
    from billbook.ledger import accounts
    from billbook.money import format_usd, micros_to_decimal

    from billbook.ledger import audit
    from billbook.vocabulary import AuditAction

    async def work(conn: AsyncConnection) -> accounts.Account:
        made = await accounts.create_account(conn, name, balance)
        await audit.record(conn, audit.Entry(
            CLI, AuditAction.ACCOUNT_CREATE, "cli accounts create", f"account:{made.id}", made.id,
            made.opening_record_uuid, {"name": name, "balance": micros_to_decimal(balance)},
        ))
        return made

    account = in_transaction(settings, work)
    data = {"id": account.id, "name": account.name, "balance": micros_to_decimal(account.balance)}
    emit(as_json, data, f"account {account.id} {account.name!r} created, balance {format_usd(account.balance)} USD")


@operator_command(keys_app, "create", DATABASE)
def keys_create(
    settings: Settings,
    account: AccountId,
    name: Annotated[str, typer.Option("--name", help="Key name, shown in billing records.", parser=parse_name)],
    as_json: Json = False,
) -> None:
    """Issue an API key. The secret is printed once and stored only as a salted hash.

    Example: billbook keys create --account 1 --name production --json
    """
    from billbook.ledger import keys

    from billbook.ledger import audit
    from billbook.vocabulary import AuditAction

    async def work(conn: AsyncConnection) -> keys.IssuedKey:
        made = await keys.create_key(conn, account, name)
        await audit.record(conn, audit.Entry(
            CLI, AuditAction.KEY_CREATE, "cli keys create", f"account:{account}", account, made.access_key_id, {"name": name},
        ))
        return made

    key = in_transaction(settings, work)
    data = {"access_key_id": key.access_key_id, "ak_id": key.ak_id, "name": key.name, "api_key": key.api_key}
    emit(as_json, data, f"access key {key.access_key_id} ({key.name})\napi_key (shown once): {key.api_key}")


@operator_command(keys_app, "revoke", DATABASE)
def keys_revoke(
    settings: Settings,
    access_key_id: Annotated[str, typer.Argument(help="The key's access_key_id, e.g. 1_1776946986692727375.")],
    as_json: Json = False,
) -> None:
    """Revoke an API key; it stops working at its next request.

    Example: billbook keys revoke 1_1776946986692727375
    """
    from billbook.ledger import keys
    from billbook.times import ms_to_iso

    from billbook.ledger import audit
    from billbook.vocabulary import AuditAction

    async def work(conn: AsyncConnection) -> KeyRow:
        revoked = await keys.revoke_key(conn, access_key_id)
        await audit.record(conn, audit.Entry(
            CLI, AuditAction.KEY_REVOKE, "cli keys revoke", f"key:{access_key_id}", revoked.account_id, access_key_id,
        ))
        return revoked

    key = in_transaction(settings, work)
    data = {"access_key_id": key.access_key_id, "revoked_at": ms_to_iso(key.revoked_at)}
    emit(as_json, data, f"access key {key.access_key_id} revoked at {data['revoked_at']}")


@operator_command(commands, "recharge", DATABASE)
def recharge(
    settings: Settings,
    account: AccountId,
    amount: Annotated[int, usd_option("--amount", "Amount in USD.")],
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="Idempotency reference (e.g. the payment id); repeating it is a no-op."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Top up an account. With --reference, running the command twice adds the money once.

    Example: billbook recharge --account 1 --amount 50 --reference stripe_pi_123
    """
    from billbook.ledger import funds
    from billbook.money import format_usd, micros_to_decimal

    ref = reference or f"cli-{secrets.token_hex(8)}"
    from billbook.ledger import audit
    from billbook.vocabulary import AuditAction

    async def work(conn: AsyncConnection) -> funds.FundsResult:
        made = await funds.recharge(conn, account, amount, ref)
        await audit.record(conn, audit.Entry(
            CLI, AuditAction.RECHARGE, "cli recharge", f"account:{account}", account, made.record.uuid,
            {"amount": micros_to_decimal(amount), "reference": ref, "created": made.created},
        ))
        return made

    result = in_transaction(settings, work)
    data = {
        "uuid": result.record.uuid,
        "amount": micros_to_decimal(result.record.delta),
        "reference": ref,
        "balance": micros_to_decimal(result.balance),
        "created": result.created,
    }
    verb = "recharged" if result.created else "already recharged (same reference)"
    amount_text, balance_text = format_usd(result.record.delta), format_usd(result.balance)
    emit(as_json, data, f"account {account} {verb}: {amount_text} USD, balance {balance_text} USD")


def register(app: typer.Typer) -> None:
    """Add ``recharge``, ``db``, ``accounts`` and ``keys`` to the root ``billbook`` app."""
    app.registered_commands.extend(commands.registered_commands)
    app.add_typer(db_app, name="db")
    app.add_typer(accounts_app, name="accounts")
    app.add_typer(keys_app, name="keys")


def _set_operator_limits(settings: Settings, values: dict, *, account: int | None, key: str | None, as_json: bool) -> None:
    from billbook.ledger import audit, limits
    from billbook.money import micros_to_decimal, usd_text
    from billbook.vocabulary import AuditAction, LimitSetter

    async def work(conn):  # noqa: ANN001, ANN202
        account_id, subject = await limits.set_for(conn, LimitSetter.OPERATOR, values, account_id=account, access_key_id=key)
        summary = {w: None if v is None else usd_text(v) for w, v in values.items()}
        target = f"key:{key}" if key else f"account:{account_id}"
        route = "cli keys limit" if key else "cli accounts limit"
        await audit.record(conn, audit.Entry(CLI, AuditAction.LIMITS, route, target, account_id, summary=summary))
        return (await limits.subject_limits(conn, account_id, [subject]))[subject]

    found = in_transaction(settings, work)
    shown = {p: None if v is None else micros_to_decimal(v) for p, v in found.operator.items()}
    text = ", ".join(f"{p} {'none' if v is None else f'{v} USD'}" for p, v in shown.items())
    emit(as_json, {"operator": {str(p): v for p, v in shown.items()}}, f"{key or f'account {account}'}: operator limits {text}")


_DAILY = Annotated[int | None, usd_option("--daily", "Limit per UTC day in USD (left out: none).")]
_MONTHLY = Annotated[int | None, usd_option("--monthly", "Limit per UTC month in USD (left out: none).")]
_TOTAL = Annotated[int | None, usd_option("--total", "Limit on all spend in USD (left out: none).")]


@operator_command(accounts_app, "limit", DATABASE)
def accounts_limit(
    settings: Settings, account: AccountId, daily: _DAILY = None, monthly: _MONTHLY = None, total: _TOTAL = None,
    as_json: Json = False,
) -> None:
    """Replace the operator's spend limits on an account; the customer's own, if lower, still apply.

    Example: billbook accounts limit --account 1 --daily 50 --monthly 500
    """
    _set_operator_limits(settings, {"daily": daily, "monthly": monthly, "total": total}, account=account, key=None, as_json=as_json)


@operator_command(keys_app, "limit", DATABASE)
def keys_limit(
    settings: Settings,
    access_key_id: Annotated[str, typer.Argument(help="The key's access_key_id, e.g. 1_1776946986692727375.")],
    daily: _DAILY = None, monthly: _MONTHLY = None, total: _TOTAL = None,
    as_json: Json = False,
) -> None:
    """Replace the operator's spend limits on an API key; the customer's own, if lower, still apply.

    Example: billbook keys limit 1_1776946986692727375 --daily 5
    """
    _set_operator_limits(settings, {"daily": daily, "monthly": monthly, "total": total}, account=None, key=access_key_id, as_json=as_json)
