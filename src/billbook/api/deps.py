"""What every route needs: the database, the caller's credentials, one transaction per request.

The transaction is opened and closed here, at the edge, never in the ledger: the block commits when
the route's work is done and rolls back if anything raised.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger import credentials, keys
from billbook.ledger.errors import Unauthorized
from billbook.ledger.keys import Principal
from billbook.store.db import Database

_bearer = HTTPBearer(auto_error=False, description="an API key (public routes) or the admin token")


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


async def bearer_token(creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> str:
    """The presented secret; a missing or non-Bearer header is refused before the body is read."""
    if creds is None or not creds.credentials.strip():
        raise Unauthorized("missing API key: send the header 'Authorization: Bearer <api_key>'")
    return creds.credentials.strip()


async def admin_token(request: Request, token: str = Depends(bearer_token)) -> None:
    auth: AdminAuth = request.app.state.admin_auth
    if not auth.check(token):
        raise Unauthorized("invalid admin token")


def database(request: Request) -> Database:
    return request.app.state.db


@asynccontextmanager
async def as_customer(request: Request, token: str) -> AsyncIterator[tuple[AsyncConnection, Principal]]:
    """A read transaction in which the key is checked; a revoked key fails at its next request."""
    async with database(request).transaction(write=False) as conn:
        yield conn, await keys.authenticate(conn, token)


@asynccontextmanager
async def as_operator(request: Request) -> AsyncIterator[AsyncConnection]:
    """A write transaction for an internal route (the admin token was checked by ``admin_token``)."""
    async with database(request).transaction(write=True) as conn:
        yield conn
