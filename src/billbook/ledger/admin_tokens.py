"""Named admin tokens with roles: issue (secret shown once), revoke, authenticate.

A named token is ``bbadmin_<lookup>_<secret>``: the 16-hex ``lookup`` finds its row, the secret
half is only kept as a salted hash, as for API keys. ``BILLBOOK_ADMIN_TOKEN`` (or the token the
server made on first start) is the ``write`` token named ``default`` and is checked in memory.
Named tokens are read from the database on each request, by their unique lookup: one indexed read,
and a revocation holds at the very next request on every worker and server, with no cache to
invalidate.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger import audit, credentials
from billbook.ledger.errors import Conflict, InvalidRequest, NotFound
from billbook.store import admin_tokens as token_store
from billbook.store.rows import AdminTokenRow
from billbook.times import now_ms
from billbook.vocabulary import AdminRole, AuditAction

PREFIX = "bbadmin_"
DEFAULT_NAME = "default"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Operator:
    """Who is calling an internal route."""

    name: str
    role: AdminRole

    @property
    def can_write(self) -> bool:
        return self.role == AdminRole.WRITE


DEFAULT_OPERATOR = Operator(DEFAULT_NAME, AdminRole.WRITE)


@dataclass(frozen=True)
class IssuedToken:
    name: str
    role: AdminRole
    token: str


def split_token(token: str) -> tuple[str, str] | None:
    """``(lookup, secret)`` of a well-formed named token, else ``None``."""
    if not token.startswith(PREFIX):
        return None
    lookup, sep, secret = token[len(PREFIX) :].partition("_")
    if len(lookup) != credentials.LOOKUP_LEN or not sep or not secret:
        return None
    return lookup, secret


def _check_name(name: str) -> str:
    name = name.strip()
    if not NAME.match(name):
        raise InvalidRequest("name must be 1 to 100 letters, digits, '_', '.' or '-', starting with a letter or digit")
    if name == DEFAULT_NAME:
        raise InvalidRequest(f"name '{DEFAULT_NAME}' is the configured admin token's")
    return name


async def create(conn: AsyncConnection, name: str, role: str, *, by: str) -> IssuedToken:
    """A new named token; its plaintext is in the result only. Audited in the same transaction."""
    name = _check_name(name)
    if role not in set(AdminRole):
        raise InvalidRequest("role must be 'read' or 'write'")
    lookup = secrets.token_hex(credentials.LOOKUP_LEN // 2)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    stored = await token_store.insert(
        conn, name=name, role=role, lookup=lookup, salt=salt,
        secret_hash=credentials.hash_secret(salt, secret), created_at=now_ms(),
    )
    if not stored:
        raise Conflict(f"an admin token named '{name}' exists (names are never reused)")
    await audit.record(
        conn, audit.Entry(by, AuditAction.TOKEN_CREATE, "cli admin-tokens create", f"token:{name}", ref=name, summary={"name": name, "role": role})
    )
    return IssuedToken(name, AdminRole(role), f"{PREFIX}{lookup}_{secret}")


async def revoke(conn: AsyncConnection, name: str, *, by: str) -> AdminTokenRow:
    """Revoke a token by name; again is a no-op reporting the first revocation. Audited."""
    token = await token_store.by_name(conn, name)
    if token is None:
        raise NotFound(f"admin token '{name}' not found")
    if token.revoked_at is None:
        at = now_ms()
        await token_store.revoke(conn, token.id, at)
        token = await token_store.by_name(conn, name)
        await audit.record(
            conn, audit.Entry(by, AuditAction.TOKEN_REVOKE, "cli admin-tokens revoke", f"token:{name}", ref=name, summary={"name": name})
        )
    assert token is not None
    return token


async def all_tokens(conn: AsyncConnection) -> list[AdminTokenRow]:
    return await token_store.all_tokens(conn)


async def authenticate(conn: AsyncConnection, presented: str) -> Operator | None:
    """The operator behind a named token; ``None`` for anything unknown, malformed or revoked."""
    parts = split_token(presented)
    if parts is None:
        return None
    token = await token_store.by_lookup(conn, parts[0])
    if token is None or token.revoked_at is not None or not credentials.matches(token.salt, token.secret_hash, parts[1]):
        return None
    return Operator(token.name, AdminRole(token.role))
