"""Idempotent account and key creation under a caller's ``Idempotency-Key``.

Recharges and adjustments are idempotent on their ``reference`` and charges on their
``prediction_uuid``; creating an account or a key has no such natural key, so the caller may send
one. The first call's answer is kept in its own transaction; a retry with the same key and the same
body gets it again, a different body is a 409. A key's secret is never kept: a retry of a key's
creation revokes the key the first call issued (its answer may never have arrived, and its secret
cannot be shown again) and issues the replacement in the retry's transaction, so exactly one usable
key comes of one logical call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger import audit, keys
from billbook.ledger.errors import Conflict
from billbook.store import idempotency as store
from billbook.times import now_ms
from billbook.vocabulary import AuditAction


def _hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


async def once(
    conn: AsyncConnection, key: str | None, action: str, payload: Any, make: Callable[[], Awaitable[dict]]
) -> dict:
    """``make()``'s answer, made once per ``key`` (every call without a key makes a new one)."""
    if key is None:
        return await make()
    kept = await store.claim(conn, key, action, _hash(payload), now_ms())
    if kept is not None:
        if kept.request_hash != _hash(payload):
            raise Conflict("Idempotency-Key was used before with a different request")
        return json.loads(kept.response)
    answer = await make()
    await store.keep(conn, key, action, json.dumps(answer))
    return answer


async def key_once(
    conn: AsyncConnection, key: str | None, account_id: int, name: str, payload: Any, entry: audit.Entry
) -> keys.IssuedKey:
    """A key for ``account_id``; with ``key`` given, a retry replaces the first call's key."""
    if key is None:
        return await keys.create_key(conn, account_id, name)
    request = {"account_id": account_id, "body": payload}
    kept = await store.claim(conn, key, AuditAction.KEY_CREATE, _hash(request), now_ms())
    if kept is not None and kept.request_hash != _hash(request):
        raise Conflict("Idempotency-Key was used before with a different request")
    if kept is not None and kept.response:
        first = json.loads(kept.response)["access_key_id"]
        revoked = await keys.revoke_key(conn, first)
        entry.summary["replaces"] = first
        await audit.record(
            conn,
            audit.Entry(
                entry.token_name, AuditAction.KEY_REVOKE, entry.route, f"key:{first}", account_id, ref=first,
                summary={"reason": "replaced by a retry of the same Idempotency-Key", "revoked_at": revoked.revoked_at},
            ),
        )
    issued = await keys.create_key(conn, account_id, name)
    await store.keep(conn, key, AuditAction.KEY_CREATE, json.dumps({"access_key_id": issued.access_key_id}))
    return issued
