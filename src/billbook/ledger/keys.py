"""Access keys: issue (secret shown once), revoke (effective at the next request), authenticate."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger import credentials
from billbook.ledger.errors import InvalidRequest, NotFound, Unauthorized
from billbook.store import accounts as account_store
from billbook.store import keys as key_store
from billbook.store.rows import KeyRow
from billbook.times import now_ms


@dataclass(frozen=True)
class IssuedKey:
    access_key_id: str
    ak_id: int
    name: str
    api_key: str
    account_id: int


@dataclass(frozen=True)
class Principal:
    """Who is calling a public route: everything they see is filtered by ``account_id``."""

    account_id: int
    ak_id: int
    access_key_id: str


async def create_key(conn: AsyncConnection, account_id: int, name: str) -> IssuedKey:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidRequest("name must be 1 to 200 characters")
    if await account_store.get(conn, account_id) is None:
        raise NotFound(f"account {account_id} not found")
    secret = credentials.new_api_key()
    access_key_id = credentials.new_access_key_id(account_id)
    ak_id = await key_store.insert(
        conn,
        account_id=account_id,
        access_key_id=access_key_id,
        name=name,
        lookup=secret.lookup,
        salt=secret.salt,
        secret_hash=secret.secret_hash,
        created_at=now_ms(),
    )
    return IssuedKey(access_key_id, ak_id, name, secret.plaintext, account_id)


async def revoke_key(conn: AsyncConnection, access_key_id: str) -> KeyRow:
    """Revoke a key; revoking a revoked key again is a no-op that reports the first revocation."""
    key = await key_store.by_access_key_id(conn, access_key_id)
    if key is None:
        raise NotFound(f"access key {access_key_id} not found")
    if key.revoked_at is None:
        key = replace(key, revoked_at=now_ms())
        await key_store.revoke(conn, key.ak_id, key.revoked_at)
    return key


async def authenticate(conn: AsyncConnection, api_key: str) -> Principal:
    """The principal behind an api_key. Unknown, malformed and revoked keys look the same to the caller."""
    parts = credentials.split_api_key(api_key)
    key = await key_store.by_lookup(conn, parts[0]) if parts else None
    if parts is None or key is None or not credentials.matches(key.salt, key.secret_hash, parts[1]):
        raise Unauthorized("invalid API key")
    if key.revoked_at is not None:
        raise Unauthorized("API key has been revoked")
    return Principal(key.account_id, key.ak_id, key.access_key_id)


ADMIN_SECRET = "admin_token"


async def ensure_admin_token(conn: AsyncConnection) -> str | None:
    """Make and keep (hashed) an admin token if none exists; returns it only when this call made it."""
    if await key_store.get_secret(conn, ADMIN_SECRET) is not None:
        return None
    token = credentials.new_admin_token()
    stored = await key_store.put_secret_if_absent(
        conn, name=ADMIN_SECRET, salt=token.salt, secret_hash=token.secret_hash, created_at=now_ms()
    )
    return token.plaintext if stored else None


async def stored_admin_hash(conn: AsyncConnection) -> tuple[str, str] | None:
    """``(salt, hash)`` of the stored admin token, if there is one."""
    row = await key_store.get_secret(conn, ADMIN_SECRET)
    return (row.salt, row.secret_hash) if row else None
