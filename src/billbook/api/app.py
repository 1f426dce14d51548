"""The ASGI application: routes, error rendering, the dashboard and the operator console, start-up
(migrate, admin token) and the background sweep of expired holds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from billbook import __version__
from billbook.api import errors, middleware
from billbook.api.deps import AdminAuth
from billbook.api.routes import catalog, console, health, internal, limits, operator, public, statements, webhooks
from billbook.ledger import holds, keys
from billbook.ledger.dispatcher import DispatchConfig, Dispatcher
from billbook.ledger.webhook_secrets import SecretBox, secret_box
from billbook.settings import Settings, get_settings
from billbook.store.db import Database
from billbook.store.migrate import upgrade
from billbook.web import CONSOLE_HTML, INDEX_HTML, STATIC_DIR

log = logging.getLogger("billbook")


async def prepare(db: Database, settings: Settings) -> AdminAuth:
    """Migrate, then settle the admin token: the configured one, or one made now and printed once."""
    await upgrade(db)
    if settings.admin_token:
        return AdminAuth(token=settings.admin_token)
    async with db.transaction(write=True) as conn:
        made = await keys.ensure_admin_token(conn)
        stored = await keys.stored_admin_hash(conn)
    if made:
        print(f"billbook: admin token (shown once, keep it safe): {made}", file=sys.stderr, flush=True)
    return AdminAuth(salted_hash=stored)


#: How long shutdown waits for a sweep's batch under way to commit before cancelling it.
SWEEPER_STOP_TIMEOUT_S = 10


def _start_hold_sweeper(db: Database, settings: Settings) -> tuple[asyncio.Task, asyncio.Event] | None:
    """Expire holds every ``hold_sweep_interval_s`` in the background of this process (every worker
    runs one; the sweep's locking makes them share the work), unless the interval is ``off``."""
    if settings.hold_sweep_interval_s is None:
        return None
    stop = asyncio.Event()
    loop = holds.sweep_forever(lambda: db.transaction(write=True), settings.hold_sweep_interval_s, stop)
    return asyncio.create_task(loop, name="billbook-hold-sweeper"), stop


async def _stop_task(sweeper: tuple[asyncio.Task, asyncio.Event] | None) -> None:
    """Let the batch under way commit, then end the loop; cancel it if it does not end in time."""
    if sweeper is None:
        return
    task, stop = sweeper
    stop.set()
    await asyncio.wait({task}, timeout=SWEEPER_STOP_TIMEOUT_S)
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def webhook_box(db: Database, settings: Settings) -> SecretBox:
    """The key that encrypts webhook secrets: the configured one, or the one kept in the database."""
    async with db.transaction(write=True) as conn:
        return await secret_box(conn, settings.webhook_secret_key)


def _start_dispatcher(db: Database, settings: Settings, box: SecretBox) -> tuple[asyncio.Task, asyncio.Event] | None:
    """Every process runs a dispatcher; the lease lets one of them send at a time (the others only
    look at the lease every poll interval). Off with ``BILLBOOK_WEBHOOK_DISPATCH=false``."""
    if not settings.webhook_dispatch:
        return None
    stop = asyncio.Event()
    dispatcher = Dispatcher(
        lambda: db.transaction(write=True), box, DispatchConfig.of(settings), read=lambda: db.transaction(write=False)
    )
    return asyncio.create_task(dispatcher.run(stop), name="billbook-webhook-dispatcher"), stop


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database.from_settings(settings)
        app.state.db = db
        app.state.admin_auth = await prepare(db, settings)
        app.state.webhook_box = await webhook_box(db, settings)
        sweeper = _start_hold_sweeper(db, settings)
        dispatcher = _start_dispatcher(db, settings, app.state.webhook_box)
        try:
            yield
        finally:
            await _stop_task(dispatcher)
            await _stop_task(sweeper)
            await db.dispose()

    app = FastAPI(
        title="billbook",
        version=__version__,
        description="Billing ledger for pay-per-use AI APIs; wire-compatible with WaveSpeedAI's v3 money endpoints.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        telemetry=None if settings.opentelemetry else {"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    errors.install(app)
    middleware.install(app, settings)
    app.include_router(public.router)
    app.include_router(internal.router)
    app.include_router(limits.public)
    app.include_router(limits.internal)
    app.include_router(operator.router)
    app.include_router(console.router)
    app.include_router(health.router)
    catalog.register(app)
    webhooks.register(app)
    statements.register(app)
    _mount_dashboard(app)
    _describe_errors_truthfully(app)
    return app


def _describe_errors_truthfully(app: FastAPI) -> None:
    """Validation failures are 400 in the envelope, never FastAPI's 422: drop 422 from the document."""

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class _Revalidated(StaticFiles):
    """Static files that browsers re-check on every load, so an upgrade never mixes old and new."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        return response


def _mount_dashboard(app: FastAPI) -> None:
    if not INDEX_HTML.exists():
        return
    app.mount("/static", _Revalidated(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(INDEX_HTML, headers={"Cache-Control": "no-cache"})

    @app.get("/admin", include_in_schema=False)
    async def console_page() -> FileResponse:
        """The operator console: the same static files and policy as the dashboard, another page."""
        return FileResponse(CONSOLE_HTML, headers={"Cache-Control": "no-cache"})
