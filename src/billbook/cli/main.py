"""The ``billbook`` command tree. Server-side imports happen inside commands, so the customer
commands work with only the SDK's dependencies installed."""

from __future__ import annotations

import typer

from billbook.cli import admin, archive, catalog, demo, holds, operator, server, verify

app = typer.Typer(
    name="billbook",
    help="billbook: a billing ledger for pay-per-use AI APIs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
server.register(app)
demo.register(app)
operator.register(app)
verify.register(app)
catalog.register(app)
holds.register(app)
admin.register(app)
archive.register(app)

try:  # the customer commands (search, export, usage, balance, limits, webhooks) speak HTTP only
    from billbook.cli import customer, limits, webhooks
except ImportError:  # pragma: no cover - present in every build of the package
    customer = None  # type: ignore[assignment]
if customer is not None:
    customer.register(app)
    limits.register(app, operator.keys_app)
    webhooks.register(app)


def run() -> None:
    app()
