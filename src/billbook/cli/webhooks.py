"""``billbook webhooks``: a customer's endpoints over the API (``create``, ``list``, ``delete``,
``rotate``, ``deliveries``, ``resend``, through the SDK like every customer command), and the
operator's ``dispatch`` (the dispatcher alone, on the database) and ``new-key``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from billbook.cli.customer_options import SummaryFormat, connected, formatted
from billbook.cli.failures import reporting
from billbook.cli.operating import DATABASE, on_database, operator_command
from billbook.cli.render import stdout, when
from billbook.client import Client, WebhookDelivery, WebhookEndpoint
from billbook.client._convert import dumps

if TYPE_CHECKING:
    from billbook.settings import Settings
    from billbook.store.db import Database

webhooks_app = typer.Typer(
    help="Webhooks: signed events (recharge.created, hold.expired, ...) sent to your URLs.", no_args_is_help=True
)

EndpointArg = Annotated[str, typer.Argument(help="The endpoint's id (we_…), as `billbook webhooks list` shows.")]


def customer_command(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(command: Callable[..., Any]) -> Callable[..., Any]:
        webhooks_app.command(name)(reporting(connected(formatted(SummaryFormat)(command))))
        return command

    return register


def _endpoint_wire(e: WebhookEndpoint) -> dict:
    wire = {
        "id": e.id, "url": e.url, "events": list(e.events), "created_at": e.created_at,
        "disabled_at": e.disabled_at, "previous_secret_expires_at": e.previous_secret_expires_at,
    }
    return wire | ({"secret": e.secret} if e.secret else {})


def _delivery_wire(d: WebhookDelivery) -> dict:
    return {
        "id": d.id, "event_id": d.event_id, "type": d.type, "state": d.state, "created_at": d.created_at,
        "next_attempt_at": d.next_attempt_at, "delivered_at": d.delivered_at,
        "attempts": [
            {"at": a.at, "status_code": a.status_code, "latency_ms": a.latency_ms, "error": a.error,
             "response_body": a.response_body}
            for a in d.attempts
        ],
    }


@customer_command("create")
def create(
    client: Client,
    fmt: str,
    url: Annotated[str, typer.Argument(help="Where to send events: an http(s) URL on the public internet.")],
    events: Annotated[list[str], typer.Option("--event", "-e", help="An event type to receive; repeat for more.")],
) -> None:
    """Add an endpoint and print its signing secret, shown this once.

    Example: billbook webhooks create https://example.com/hooks -e recharge.created -e hold.expired
    """
    made = client.webhooks.create(url, events)
    if fmt == "json":
        typer.echo(dumps(_endpoint_wire(made)))
        return
    stdout().print(f"{made.id}  {made.url}  {', '.join(made.events)}")
    stdout().print(f"secret (shown once, give it to your receiver): {made.secret}")


@customer_command("list")
def list_endpoints(client: Client, fmt: str) -> None:
    """List your webhook endpoints.

    Example: billbook webhooks list --json
    """
    found = client.webhooks.list()
    if fmt == "json":
        typer.echo(dumps([_endpoint_wire(e) for e in found]))
        return
    table = Table("id", "url", "events", "created", "disabled")
    for e in found:
        table.add_row(e.id, e.url, ", ".join(e.events), when(e.created_at), when(e.disabled_at) if e.disabled_at else "")
    stdout().print(table if found else "no webhook endpoints")


@customer_command("delete")
def delete(client: Client, fmt: str, endpoint_id: EndpointArg) -> None:
    """Delete an endpoint: nothing more is sent to it.

    Example: billbook webhooks delete we_3f2a9c0d1e4b5a6978877665
    """
    client.webhooks.delete(endpoint_id)
    typer.echo(dumps({"id": endpoint_id, "deleted": True}) if fmt == "json" else f"deleted {endpoint_id}")


@customer_command("rotate")
def rotate(client: Client, fmt: str, endpoint_id: EndpointArg) -> None:
    """Give an endpoint a new secret (shown once); the old one keeps signing for a day.

    Example: billbook webhooks rotate we_3f2a9c0d1e4b5a6978877665 --json
    """
    done = client.webhooks.rotate(endpoint_id)
    if fmt == "json":
        typer.echo(dumps({"id": done.id, "secret": done.secret, "previous_secret_expires_at": done.previous_secret_expires_at}))
        return
    stdout().print(f"new secret (shown once): {done.secret}")
    stdout().print(f"the previous secret signs too until {when(done.previous_secret_expires_at)}")


@customer_command("deliveries")
def deliveries(
    client: Client,
    fmt: str,
    endpoint_id: EndpointArg,
    page: Annotated[int, typer.Option("--page", min=1, help="Page number, from 1.")] = 1,
    page_size: Annotated[int, typer.Option("--page-size", min=1, max=100, help="Deliveries per page, 1-100.")] = 10,
) -> None:
    """Show an endpoint's delivery log, newest event first, with every attempt.

    Example: billbook webhooks deliveries we_3f2a9c0d1e4b5a6978877665 --page-size 20
    """
    found = client.webhooks.deliveries(endpoint_id, page, page_size)
    if fmt == "json":
        typer.echo(dumps({"page": found.page, "page_size": found.page_size, "total": found.total,
                          "has_more": found.has_more, "items": [_delivery_wire(d) for d in found.items]}))
        return
    table = Table("delivery", "event", "type", "state", "attempts", "last")
    for d in found.items:
        last = d.attempts[-1] if d.attempts else None
        shown = "" if last is None else f"{last.status_code or last.error} in {last.latency_ms} ms"
        table.add_row(str(d.id), d.event_id, d.type, d.state, str(len(d.attempts)), shown)
    stdout().print(table if found.items else "no deliveries")
    stdout().print(f"page {found.page}, {found.total} deliveries")


@customer_command("resend")
def resend(
    client: Client,
    fmt: str,
    endpoint_id: EndpointArg,
    delivery_id: Annotated[int, typer.Argument(help="The delivery's id, as `billbook webhooks deliveries` shows.")],
) -> None:
    """Send a delivery again now (the same webhook-id); enables a disabled endpoint again.

    Example: billbook webhooks resend we_3f2a9c0d1e4b5a6978877665 42
    """
    again = client.webhooks.resend(endpoint_id, delivery_id)
    typer.echo(dumps(_delivery_wire(again)) if fmt == "json" else f"delivery {again.id} is due again")


@operator_command(webhooks_app, "dispatch", DATABASE)
def dispatch(settings: Settings) -> None:
    """Run the webhook dispatcher alone, until Ctrl-C or SIGTERM: it sends due deliveries while it
    holds the database's dispatcher lease (servers with BILLBOOK_WEBHOOK_DISPATCH=false leave it
    to this command; any number of them and of these share the database safely).

    Example: billbook webhooks dispatch --db postgresql://postgres@127.0.0.1/billbook
    """
    import asyncio
    import signal

    from billbook.ledger.dispatcher import DispatchConfig, Dispatcher
    from billbook.ledger.webhook_secrets import secret_box
    from billbook.store.migrate import upgrade

    async def run(db: Database) -> None:
        await upgrade(db)
        async with db.transaction(write=True) as conn:
            box = await secret_box(conn, settings.webhook_secret_key)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        dispatcher = Dispatcher(
            lambda: db.transaction(write=True), box, DispatchConfig.of(settings),
            read=lambda: db.transaction(write=False),
        )
        typer.echo(f"webhook dispatcher {dispatcher.holder} running; Ctrl-C to stop", err=True)
        await dispatcher.run(stop)

    on_database(settings, run)


@webhooks_app.command("new-key")
def new_key() -> None:
    """Print a fresh key for BILLBOOK_WEBHOOK_SECRET_KEY (the key that encrypts webhook secrets).

    Example: billbook webhooks new-key
    """
    from billbook.ledger.webhook_secrets import new_key as make

    typer.echo(make())


def register(app: typer.Typer) -> None:
    app.add_typer(webhooks_app, name="webhooks")
