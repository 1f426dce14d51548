"""What every route needs: the caller's credential, checked before the body is read, and one
transaction per request.

Credentials are checked by the route classes below, at the edge of each route and before FastAPI
reads or validates the body, so a caller without a valid key learns 401 and nothing about what the
server makes of its body. A customer route's read transaction is opened there too and spans the
whole route: the key is checked and the data read in one snapshot, and the transaction is committed
(or rolled back on any exception) when the route's work is done. Operator routes open their write
transaction in the route itself, after the body is known to be valid.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_body_to_args
from fastapi.exceptions import HTTPException, RequestValidationError
from pydantic_core import PydanticUndefined as Undefined
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from billbook.api.decimal_json import DecimalJSONRequest, DecimalJSONRoute
from billbook.api.direct import OTHER_PARAMETERS
from billbook.ledger import admin_tokens, audit, credentials, keys
from billbook.ledger.admin_tokens import DEFAULT_OPERATOR, Operator
from billbook.ledger.errors import BillbookError, InvalidRequest, ReadOnlyToken, Unauthorized
from billbook.ledger.keys import Principal
from billbook.store.db import Database
from billbook.vocabulary import AuditAction

#: Declares the scheme in the OpenAPI document; the checking is done by the route classes.
bearer_scheme = HTTPBearer(auto_error=False, description="an API key (public routes) or the admin token")

#: How each kind of caller is told what to send.
API_KEY = ("missing API key: send the header 'Authorization: Bearer <api_key>'", "Authorization must be 'Bearer <api key>'")
ADMIN_TOKEN = (
    "missing admin token: send the header 'Authorization: Bearer <admin token>'",
    "Authorization must be 'Bearer <admin token>'",
)


class AdminAuth:
    """The admin token as configured, or the salted hash kept in the database."""

    def __init__(self, token: str | None = None, salted_hash: tuple[str, str] | None = None) -> None:
        if token is not None:
            salt = secrets.token_hex(16)
            salted_hash = (salt, credentials.hash_secret(salt, token))
        self.salted_hash = salted_hash

    def check(self, presented: str) -> bool:
        """Constant-time comparison of hashes (the configured token is hashed once, at start)."""
        return self.salted_hash is not None and credentials.matches(*self.salted_hash, presented)


def presented_secret(request: Request, words: tuple[str, str]) -> str:
    """The secret of the request's ``Authorization: Bearer <secret>`` header (the middleware has
    already refused a request with more than one)."""
    header = request.headers.get("authorization")
    if header is None or not header.strip():
        raise Unauthorized(words[0])
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized(words[1])
    if not secret.strip():
        raise Unauthorized(words[0])
    return secret.strip()


def database(request: Request) -> Database:
    return request.app.state.db


@dataclass(frozen=True, slots=True)
class Customer:
    """The authenticated caller of a public route and the route's read transaction."""

    conn: AsyncConnection
    principal: Principal

    @property
    def account_id(self) -> int:
        return self.principal.account_id


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class CustomerRoute(DecimalJSONRoute):
    """A public route: the API key is checked before the body is parsed, in the read transaction
    that then serves the route. The body is received first, so no database connection waits on a
    slow client. Customer reads may be served by a fresh streaming replica (see
    ``store.replicas``); a key refused there is checked again on the primary.

    A route whose only parameters are a JSON body and the caller (the search, the balance, usage)
    is called directly with them: its body is validated by FastAPI's own function for bodies, so
    every error reads the same, but FastAPI's general dependency solving (a good part of a small
    search's cost) is skipped. Other routes go through FastAPI's handler."""

    def get_route_handler(self) -> Handler:
        self._direct = _direct_parameters(self.dependant)
        return super().get_route_handler()

    def direct_handler(self) -> Handler | None:
        """This route's handler when its endpoint is called with its body and caller alone
        (``api.direct`` then reaches it without the router)."""
        return self.get_route_handler() if _direct_parameters(self.dependant) is not None else None

    async def run(self, request: DecimalJSONRequest, handler: Handler) -> Response:
        if self._direct is not None:
            handler = partial(_call_directly, self, self._direct)
        secret = presented_secret(request, API_KEY)
        await request.body()
        db = database(request)
        async with db.transaction(write=False, replica_ok=True) as conn:
            principal = await _authenticate(db, conn, secret)
            if principal is not None:
                request.state.customer = Customer(conn, principal)
                return await handler(request)
        # A key the replica does not know may have been made a moment ago: the primary decides.
        async with db.transaction(write=False) as conn:
            request.state.customer = Customer(conn, await keys.authenticate(conn, secret))
            return await handler(request)


@dataclass(frozen=True, slots=True)
class _DirectCall:
    """The parameter names of a route that takes only a JSON body, the caller and the request."""

    body: str | None
    caller: str
    request: str | None


def _direct_parameters(dependant: Dependant) -> _DirectCall | None:
    """How to call the endpoint directly, when those are its only parameters."""
    if dependant.path_params or dependant.query_params or dependant.header_params or dependant.cookie_params:
        return None
    if any(getattr(dependant, name, None) for name in OTHER_PARAMETERS):
        return None
    if len(dependant.dependencies) != 1 or dependant.dependencies[0].call is not customer or len(dependant.body_params) > 1:
        return None
    caller = dependant.dependencies[0].name
    if caller is None:
        return None
    if dependant.body_params and getattr(dependant.body_params[0].field_info, "embed", False):
        return None  # an embedded body is read from a key of the JSON object: FastAPI's handler does it
    body = dependant.body_params[0].name if dependant.body_params else None
    return _DirectCall(body, caller, dependant.request_param_name)


async def _call_directly(route: APIRoute, call: _DirectCall, request: DecimalJSONRequest) -> Response:
    """The endpoint called with its body (validated as FastAPI validates it) and its caller."""
    values: dict[str, Any] = {call.caller: request.state.customer}
    if call.request is not None:
        values[call.request] = request
    if call.body is not None:
        received: Any = Undefined
        if await request.body():
            try:
                received = await request.json()
            except json.JSONDecodeError as exc:
                problem = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error",
                           "input": {}, "ctx": {"error": exc.msg}}
                raise RequestValidationError([problem], body=exc.doc) from exc
            except HTTPException:
                raise
            except Exception as exc:  # noqa: BLE001 - nesting too deep, say: what FastAPI answers
                raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc
        parsed, errors = await request_body_to_args(route.dependant.body_params, received, embed_body_fields=False)
        if errors:
            raise RequestValidationError(errors, body=received)
        values.update(parsed)
    return await route.endpoint(**values)


async def authenticate_operator(request: Request) -> Operator:
    """The configured token (``default``, ``write``) is checked in memory; a named token by one
    indexed read of its row, so a revocation holds at once on every worker (no cache)."""
    secret = presented_secret(request, ADMIN_TOKEN)
    auth: AdminAuth = request.app.state.admin_auth
    if auth.check(secret):
        return DEFAULT_OPERATOR
    if admin_tokens.split_token(secret) is not None:
        async with database(request).transaction(write=False) as conn:
            found = await admin_tokens.authenticate(conn, secret)
        if found is not None:
            return found
    raise Unauthorized("invalid admin token")


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def _authenticate(db: Database, conn: AsyncConnection, secret: str) -> Principal | None:
    """The key's principal; None when a replica refused it (the primary must be asked)."""
    try:
        return await keys.authenticate(conn, secret)
    except Unauthorized:
        if db.served_by_replica(conn):
            return None
        raise


_READ_METHODS = frozenset({"GET", "HEAD"})


class OperatorRoute(DecimalJSONRoute):
    """An internal route: the admin token and its role are checked before the body is parsed; a
    ``read`` token is refused with 403 (and the refusal audited) on anything but ``GET``/``HEAD``.
    Reads sent as ``POST`` (searches) use :class:`OperatorReadRoute`."""

    writes = True

    async def run(self, request: DecimalJSONRequest, handler: Handler) -> Response:
        operator = await authenticate_operator(request)
        request.state.operator = operator
        request.state.route = f"{request.method} {self.path}"
        self._refuse_unknown_query(request)
        if self.writes and request.method not in _READ_METHODS and not operator.can_write:
            entry = audit.Entry(operator.name, AuditAction.DENIED, request.state.route, request.url.path, status=403)
            async with database(request).transaction(write=True) as conn:
                await audit.record(conn, entry)
            raise ReadOnlyToken(f"admin token '{operator.name}' is read-only: it cannot change anything")
        return await handler(request)


    def _refuse_unknown_query(self, request: Request) -> None:
        """A query parameter the route does not take, or one given twice, is a 400 naming it: a
        misspelt filter of a list (``acount_id``) would otherwise widen the answer to everything
        without a word, and of two values one would be dropped."""
        known = getattr(self, "_known_query", None)
        if known is None:
            known = frozenset(_query_names(self.dependant))
            self._known_query = known
        for name in request.query_params:
            if name not in known:
                raise InvalidRequest(f"unknown query parameter {name!r}")
            if len(request.query_params.getlist(name)) > 1:
                raise InvalidRequest(f"query parameter {name!r} given more than once")


class OperatorReadRoute(OperatorRoute):
    """An internal read route: any admin token, ``read`` or ``write``."""

    writes = False


async def customer(request: Request, _: HTTPAuthorizationCredentials | None = Security(bearer_scheme)) -> Customer:
    """The caller authenticated by :class:`CustomerRoute` (the parameter documents the scheme)."""
    return request.state.customer


async def operator(_: HTTPAuthorizationCredentials | None = Security(bearer_scheme)) -> None:
    """Documents the admin token's scheme; :class:`OperatorRoute` has checked it."""


def audit_entry(request: Request, action: str, target: str, account_id: int | None = None, **summary: Any) -> audit.Entry:
    """The audit row of this request's write, by the operator the route class authenticated."""
    operator: Operator = request.state.operator
    return audit.Entry(operator.name, action, request.state.route, target, account_id, summary=dict(summary))


@asynccontextmanager
async def as_operator(request: Request, entry: audit.Entry) -> AsyncIterator[AsyncConnection]:
    """A write transaction for an internal route, with its audit row: both committed when the
    block ends, rolled back on error. A refusal (4xx) is then audited alone, with its status."""
    try:
        async with database(request).transaction(write=True) as conn:
            yield conn
            await audit.record(conn, entry)
    except BillbookError as exc:
        if 400 <= exc.status < 500:
            entry.status = exc.status
            entry.summary["error"] = exc.message
            async with database(request).transaction(write=True) as conn:
                await audit.record(conn, entry)
        raise


@asynccontextmanager
async def as_reader(request: Request) -> AsyncIterator[AsyncConnection]:
    """A read transaction for an internal read route (one snapshot for the whole answer)."""
    async with database(request).transaction(write=False) as conn:
        yield conn
