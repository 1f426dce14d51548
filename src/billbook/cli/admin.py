"""Named admin tokens and the audit log, on the database directly: ``billbook admin-tokens
create|list|revoke`` and ``billbook audit export``. Token changes are audited (token name ``cli``)
in their own transaction."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from billbook.cli.operating import DATABASE, in_transaction, on_database, operator_command
from billbook.cli.operator import CLI, console, emit
from billbook.cli.options import Json

if TYPE_CHECKING:
    from billbook.settings import Settings

tokens_app = typer.Typer(help="Named admin tokens with roles (read or write).", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log of internal writes.", no_args_is_help=True)

Role = Annotated[str, typer.Option("--role", help="read (sees everything, moves nothing) or write.")]
#: Rows read per query by an export.
EXPORT_CHUNK = 1000


@operator_command(tokens_app, "create", DATABASE)
def tokens_create(
    settings: Settings,
    name: Annotated[str, typer.Option("--name", help="The token's name, shown in the audit log.")],
    role: Role = "read",
    as_json: Json = False,
) -> None:
    """Issue a named admin token. It is printed once and stored only as a salted hash.

    Example: billbook admin-tokens create --name support --role read --json
    """
    from billbook.ledger import admin_tokens

    issued = in_transaction(settings, lambda conn: admin_tokens.create(conn, name, role, by=CLI))
    data = {"name": issued.name, "role": str(issued.role), "token": issued.token}
    emit(as_json, data, f"admin token {issued.name!r} ({issued.role})\ntoken (shown once): {issued.token}")


@operator_command(tokens_app, "list", DATABASE)
def tokens_list(settings: Settings, as_json: Json = False) -> None:
    """List named admin tokens (never their secrets); BILLBOOK_ADMIN_TOKEN is 'default', not listed.

    Example: billbook admin-tokens list --json
    """
    from billbook.ledger import admin_tokens
    from billbook.times import ms_to_iso

    rows = in_transaction(settings, admin_tokens.all_tokens)
    items = [
        {"name": t.name, "role": t.role, "created_at": ms_to_iso(t.created_at),
         "revoked_at": ms_to_iso(t.revoked_at) if t.revoked_at is not None else None}
        for t in rows
    ]
    text = "\n".join(f"{i['name']}\t{i['role']}\t{i['created_at']}\t{i['revoked_at'] or 'active'}" for i in items)
    emit(as_json, {"items": items}, text or "no named admin tokens")


@operator_command(tokens_app, "revoke", DATABASE)
def tokens_revoke(
    settings: Settings,
    name: Annotated[str, typer.Argument(help="The token's name.")],
    as_json: Json = False,
) -> None:
    """Revoke a named admin token; every server refuses it from its next request.

    Example: billbook admin-tokens revoke support
    """
    from billbook.ledger import admin_tokens
    from billbook.times import ms_to_iso

    token = in_transaction(settings, lambda conn: admin_tokens.revoke(conn, name, by=CLI))
    data = {"name": token.name, "revoked_at": ms_to_iso(token.revoked_at or 0)}
    emit(as_json, data, f"admin token {token.name!r} revoked at {data['revoked_at']}")


@operator_command(audit_app, "export", DATABASE)
def audit_export(
    settings: Settings,
    out: Annotated[Path, typer.Option("--out", help="File to write, one JSON object per line (JSON Lines).")],
    account: Annotated[int | None, typer.Option("--account", help="Only rows about this account.")] = None,
    token: Annotated[str | None, typer.Option("--token", help="Only rows of this token name.")] = None,
) -> None:
    """Export the audit log, oldest first, as JSON Lines.

    Example: billbook audit export --out audit.jsonl --account 7
    """
    import json

    from billbook.ledger import audit
    from billbook.store.db import Database
    from billbook.times import ms_to_iso

    f = audit.AuditFilter(account_id=account, token_name=token)

    async def write_all(db: Database) -> int:
        written, after = 0, 0
        with out.open("w", encoding="utf-8") as sink:
            while True:
                async with db.transaction(write=False) as conn:
                    rows = await audit.export(conn, f, after, EXPORT_CHUNK)
                for r in rows:
                    item = {
                        "id": r.id, "time": ms_to_iso(r.at), "token_name": r.token_name, "action": r.action,
                        "route": r.route, "account_id": r.account_id, "target": r.target, "ref": r.ref,
                        "summary": json.loads(r.summary), "outcome": r.status,
                    }
                    sink.write(json.dumps(item, sort_keys=True) + "\n")
                written += len(rows)
                if len(rows) < EXPORT_CHUNK:
                    return written
                after = rows[-1].id

    count = on_database(settings, write_all)
    console.print(f"{count} audit rows written to {out}", markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(tokens_app, name="admin-tokens")
    app.add_typer(audit_app, name="audit")
