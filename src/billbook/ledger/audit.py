"""The audit log: who changed what, through which route, and how it ended.

Every internal write appends one row in its own transaction, so the row and the change commit or
vanish together. A refused write (a 4xx from the ledger, or a ``read`` token's 403) rolls its
transaction back and is then written alone, with the refusal's status. The summary names what
was asked, never a secret: an API key's or a token's plaintext never reaches it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import audit as audit_store
from billbook.store.audit import AuditFilter
from billbook.store.rows import AuditRow, Record
from billbook.times import now_ms
from billbook.vocabulary import AuditAction, BillingType

__all__ = ["AuditFilter", "AuditPage", "Entry", "export", "page", "record", "record_all"]

#: Keys never copied into a summary, whatever a caller sends.
SECRET_FIELDS = frozenset({"api_key", "token", "secret", "password", "authorization"})
#: A summary's text values are cut to this many characters.
MAX_TEXT = 200


@dataclass
class Entry:
    """One audit row in the making; a route fills ``ref`` and ``summary`` as it learns them."""

    token_name: str
    action: str
    route: str
    target: str
    account_id: int | None = None
    ref: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    status: int = 200


def _storable(text: str | None, limit: int) -> str | None:
    """Text both databases keep (no NUL, no unpaired surrogate), cut to its column: a target comes
    from a path the caller chose, and a refused request is audited too."""
    if text is None:
        return None
    kept = text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    return kept[:limit]


def _clean(summary: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in summary.items():
        if key.lower() in SECRET_FIELDS:
            continue
        out[key] = value[:MAX_TEXT] if isinstance(value, str) else value
    return out


async def record(conn: AsyncConnection, entry: Entry) -> None:
    await audit_store.append(
        conn,
        at=now_ms(),
        token_name=_storable(entry.token_name, 100) or "",
        action=entry.action,
        route=_storable(entry.route, 200) or "",
        account_id=entry.account_id,
        target=_storable(entry.target, 300) or "",
        ref=_storable(entry.ref, 200),
        summary=json.dumps(_clean(entry.summary), sort_keys=True, default=str),
        status=entry.status,
    )


@dataclass(frozen=True)
class AuditPage:
    page: int
    page_size: int
    total: int
    items: list[AuditRow]

    @property
    def has_more(self) -> bool:
        return self.page * self.page_size < self.total


async def page(conn: AsyncConnection, f: AuditFilter, page_number: int, page_size: int) -> AuditPage:
    """Newest first; the exact total of rows matching ``f``."""
    total = await audit_store.count(conn, f)
    offset = (page_number - 1) * page_size
    items = await audit_store.page(conn, f, offset=offset, limit=page_size) if offset < total else []
    return AuditPage(page_number, page_size, total, items)


async def export(conn: AsyncConnection, f: AuditFilter, after_id: int, limit: int) -> list[AuditRow]:
    """Rows after ``after_id`` in write order: what an export reads chunk by chunk."""
    return await audit_store.after(conn, f, after_id, limit)


async def record_all(
    conn: AsyncConnection, token_name: str, route: str, account_id: int, key_ids: list[str], records: list[Record]
) -> None:
    """Audit keys issued and recharges or adjustments written outside the API (``billbook demo``)."""
    for key_id in key_ids:
        await record(conn, Entry(token_name, AuditAction.KEY_CREATE, route, f"account:{account_id}", account_id, key_id))
    for r in records:
        action = AuditAction.RECHARGE if r.billing_type == BillingType.RECHARGE else AuditAction.ADJUST
        await record(conn, Entry(token_name, action, route, f"account:{account_id}", account_id, r.uuid, {"reference": r.reference}))
