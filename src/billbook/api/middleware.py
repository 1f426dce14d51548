"""The guard in front of every request: request id, header checks, body size limit, per-key rate
limit, ``HEAD`` as ``GET``, metrics and access log.

One pure ASGI middleware does all of it, so a request pays for one extra layer, not five, and none
of Starlette's ``BaseHTTPMiddleware`` (which runs the app in a separate task and buffers). Refusals
(413 for a declared ``Content-Length`` over the limit, 429) are decided from the headers alone,
before the body is read or a database connection is taken, and are rendered by the application's
own error handlers, so they carry the contract's envelope like every other error.

A body without ``Content-Length`` (chunked) is counted as it arrives; the first chunk past the
limit raises :class:`BodyTooLarge` inside the route's body read, which FastAPI lets through and the
error handler renders as 413. Nothing is buffered here.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from secrets import token_hex
from time import perf_counter
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billbook import logs
from billbook.api import metrics, metrics_port
from billbook.api.direct import DirectRoutes
from billbook.api.envelope import failure
from billbook.api.errors import PayloadTooLarge, RateLimited
from billbook.api.ratelimit import Limiter, Rate, bucket, make_limiter, retry_after
from billbook.ledger.credentials import split_api_key
from billbook.ledger.errors import BillbookError, InvalidRequest, Unauthorized
from billbook.settings import Settings

access_log = logging.getLogger("billbook.access")

#: An incoming X-Request-ID is kept only if it is this tame: it is echoed and logged as it is.
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")
#: Paths under the per-key rate limit: the public API. Internal routes are the platform's own calls.
PUBLIC_PREFIX = "/api/"
UNMATCHED = "<unmatched>"


class BodyTooLarge(PayloadTooLarge, HTTPException):
    """Raised from ``receive``. It must be an ``HTTPException``: FastAPI turns any other exception
    raised while reading a body into a 400. Its MRO puts ``BillbookError`` first, so the domain's
    error handler renders it, with the limit in the message."""

    def __init__(self, limit: int) -> None:
        PayloadTooLarge.__init__(self, f"request body too large: the limit is {limit} bytes")
        self.status_code = 413
        self.detail = self.message
        self.headers = None


class _Exchange:
    """What the middleware learns about the response as it goes by."""

    __slots__ = ("status", "started")

    def __init__(self) -> None:
        self.status = 500  # what is recorded if the app ends without answering
        self.started = False


class RequestGuard:
    """The middleware. ``handlers`` is the application's exception-handler table, read at call time;
    ``routes`` gives the routes, to name the template of a request refused before routing."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        limiter: Limiter | None,
        access_log_enabled: bool,
        handlers: Mapping[Any, Callable[..., Any]],
        routes: Callable[[], list],
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.limiter = limiter
        self.access_log = access_log_enabled
        self.handlers = handlers
        self.routes = routes
        self.direct = DirectRoutes(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = perf_counter()
        length = auth = incoming = None
        credentials = 0
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"authorization":
                auth = value
                credentials += 1
            elif name == b"x-request-id":
                incoming = value
        if scope["method"] == "HEAD":
            scope, send = _as_get(scope, send)
        rid = incoming.decode("ascii") if incoming is not None and _REQUEST_ID.fullmatch(incoming) else token_hex(16)
        token = logs.request_id.set(rid)
        rid_header = (b"x-request-id", rid.encode("ascii"))
        exchange = _Exchange()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                exchange.started = True
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        try:
            refusal = await self._refusal(scope, length, auth, credentials)
            if length is None and scope["method"] not in ("GET", "HEAD"):
                receive = _limited(receive, self.max_body)
            if refusal is not None:
                await self._render(refusal, scope, receive, send_with_id)
            elif (direct := self.direct.find(scope["method"], scope["path"])) is not None:
                await self.direct.serve(direct, scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if exchange.started:
                raise
            await self._render(exc, scope, receive, send_with_id)
        finally:
            self._record(scope, exchange.status, perf_counter() - start, rid)
            logs.request_id.reset(token)

    async def _refusal(
        self, scope: Scope, length: bytes | None, auth: bytes | None, credentials: int
    ) -> BillbookError | None:
        if credentials > 1:
            # Authentication and the rate limit must read the same credential: refuse the ambiguity.
            return InvalidRequest(f"send one Authorization header, not {credentials}")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return BodyTooLarge(self.max_body)
        if self.limiter is None or auth is None or not scope["path"].startswith(PUBLIC_PREFIX):
            return None
        scheme, _, credential = auth.partition(b" ")
        parts = split_api_key(credential.strip().decode("latin-1")) if scheme.lower() == b"bearer" else None
        if parts is None:  # no well-formed key: refused with 401 without touching the database
            return None
        wait = await self.limiter.wait_time(bucket(parts[0]))
        if wait <= 0:
            return None
        metrics.RATE_LIMITED.inc()
        rate = self.limiter.rate
        return RateLimited(
            f"rate limit exceeded: at most {rate.count} requests per {_period(rate)} per API key; "
            f"retry after {retry_after(wait)} s",
            retry_after(wait),
        )

    async def _render(self, exc: Exception, scope: Scope, receive: Receive, send: Send) -> None:
        """The response the application's handler for ``exc`` gives (it logs unexpected errors)."""
        handler = None
        for cls in type(exc).__mro__:
            handler = self.handlers.get(cls)
            if handler is not None:
                break
        response = await handler(Request(scope, receive), exc) if handler is not None else None
        if response is None:
            response = failure(500, "internal server error")
        await response(scope, receive, send)

    def _record(self, scope: Scope, status: int, seconds: float, rid: str) -> None:
        route = scope.get("route")
        template = route.path if route is not None else self._template(scope)
        method = scope["method"]
        metrics.observe_request(method, template, status, seconds)
        if status == 402:  # the contract gives 402 one meaning: a charge larger than the balance
            metrics.refused_for_funds()
        if self.access_log and access_log.isEnabledFor(logging.INFO):
            path = scope["path"]
            access_log.info(
                "%s %s %d",
                method,
                path,
                status,
                extra={"method": method, "path": path, "status": status,
                       "duration_ms": round(seconds * 1000, 3), "request_id": rid},
            )

    def _template(self, scope: Scope) -> str:
        """The route a request refused before routing would have reached; unknown paths share one label."""
        return _find_template(self.routes(), scope)


def _find_template(routes: list, scope: Scope) -> str:
    for route in routes:
        # FastAPI wraps an included router in one object that matches for all of its routes.
        inner = getattr(route, "original_router", None)
        if inner is not None:
            found = _find_template(inner.routes, scope)
            if found != UNMATCHED:
                return found
            continue
        match, _ = route.matches(scope)
        if match != Match.NONE:
            return getattr(route, "path", UNMATCHED)
    return UNMATCHED


def _as_get(scope: Scope, send: Send) -> tuple[Scope, Send]:
    """``HEAD`` answered as ``GET`` without the body (health checks and monitors use it); the
    headers, ``Content-Length`` included, are the ``GET``'s."""

    async def send_headers_only(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return {**scope, "method": "GET"}, send_headers_only


def _limited(receive: Receive, limit: int) -> Receive:
    received = 0

    async def receive_limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return receive_limited


def _period(rate: Rate) -> str:
    names = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}
    return names.get(int(rate.period), f"{rate.period:g} seconds")


def _metrics_endpoint(token: str | None) -> Callable[[Request], Any]:
    """``GET /metrics``; with ``BILLBOOK_METRICS_TOKEN`` set, only for ``Authorization: Bearer <it>``
    (business volume is not for everyone who can reach the port)."""
    if not token:
        return metrics.endpoint
    expected = f"Bearer {token}".encode()

    async def protected(request: Request) -> Any:
        presented = request.headers.get("authorization", "").strip().encode()
        if not hmac.compare_digest(presented, expected):
            raise Unauthorized("GET /metrics needs 'Authorization: Bearer <metrics token>'")
        return await metrics.endpoint(request)

    return protected


def install(app: FastAPI, settings: Settings) -> None:
    """Add the edge middleware and ``GET /metrics``; close the rate limiter's connections on shutdown."""
    logs.add_secret(settings.admin_token)
    logs.add_secret(settings.metrics_token)
    limiter = make_limiter(
        Rate.parse(settings.rate_limit, settings.rate_limit_burst), settings.redis_url, settings.rate_limit_prefix
    )
    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.max_body_bytes,
        limiter=limiter,
        access_log_enabled=settings.access_log,
        handlers=app.exception_handlers,
        routes=lambda: app.routes,
    )
    if settings.metrics_port is None:
        app.add_route("/metrics", _metrics_endpoint(settings.metrics_token), methods=["GET"], include_in_schema=False)
    app.state.limiter = limiter
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        metrics_server = None
        if settings.metrics_port is not None:
            metrics_server = await metrics_port.serve(settings.host, settings.metrics_port, settings.metrics_token)
        try:
            async with inner(application) as state:
                yield state
        finally:
            if metrics_server is not None:
                metrics_server.close()
            if limiter is not None:
                await limiter.aclose()

    app.router.lifespan_context = lifespan
