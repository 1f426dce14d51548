"""Accounts and their balances."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger.errors import InvalidRequest, NotFound
from billbook.ledger.funds import recharge
from billbook.store import accounts as account_store
from billbook.times import now_ms

OPENING_REFERENCE = "opening-balance"


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    balance: int
    #: The ``recharge`` record of the opening balance, if there was one.
    opening_record_uuid: str | None = None


async def create_account(conn: AsyncConnection, name: str, opening_balance: int = 0) -> Account:
    """A new account; an opening balance is written as a ``recharge`` so balance == sum of records."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidRequest("name must be 1 to 200 characters")
    if opening_balance < 0:
        raise InvalidRequest("balance must not be negative")
    account_id = await account_store.insert(conn, name=name, created_at=now_ms())
    opening = None
    if opening_balance:
        opening = (await recharge(conn, account_id, opening_balance, OPENING_REFERENCE)).record.uuid
    return Account(account_id, name, opening_balance, opening)


async def get_balance(conn: AsyncConnection, account_id: int) -> int:
    balance = await account_store.balance(conn, account_id)
    if balance is None:
        raise NotFound(f"account {account_id} not found")
    return balance
