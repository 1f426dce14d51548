"""Monthly statements and recharge receipts.

A statement covers the records *dated* in one UTC month (``created_at``), whenever they were
written. Its opening balance is the sum of every record dated before the month, its closing balance
the opening plus the month's movements, so ``opening + recharges + adjustments - charges + refunds
== closing`` holds by construction, and the closing balance of the newest month is the account's
balance. Everything comes from the ``billing_monthly`` rollup (a few rows per month) and one index
step to the month's last record, so an account of millions of records costs what a small one does.

The stored ``balance_after`` follows write order. Where no record was written out of time order
across the month's end, the month's last record (in time order) has ``balance_after == closing``;
a record back-dated into the month (or before it) after later-dated records were written changes
this month's movements and closing and every later month's opening and closing, while the
``balance_after`` values already written stay as they were. ``matches_balance_after`` says which
case a statement is in (docs/statements.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger.errors import InvalidRequest, NotFound
from billbook.store import accounts as account_store
from billbook.store import statements as statement_store
from billbook.store.rows import EdgeRecord, MonthlyCell, Record
from billbook.times import month_key, month_start_ms, month_text, next_month, now_ms
from billbook.vocabulary import BillingType

_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
#: The oldest month a statement can be asked for (times before 2000 are refused everywhere).
FIRST_MONTH = 200001


def parse_month(text: str, *, now: int | None = None) -> int:
    """``2026-10`` -> ``202610``; 400 naming ``month`` for anything else, and for a month not yet begun."""
    match = _MONTH.match(text)
    if not match or not 1 <= int(match[2]) <= 12:
        raise InvalidRequest(f"month must be a UTC month written YYYY-MM, such as 2026-10, not {text[:20]!r}")
    key = int(match[1]) * 100 + int(match[2])
    if key < FIRST_MONTH:
        raise InvalidRequest("month must be 2000-01 or later")
    if key > month_key(now_ms() if now is None else now):
        raise InvalidRequest(f"month {text} has not begun yet")
    return key


@dataclass(frozen=True, slots=True)
class ModelCharges:
    """One model's charges in the month: deducts dated in it, refunds dated in it, and the net."""

    model_uuid: str
    charges: int
    charge_count: int
    refunds: int
    refund_count: int

    @property
    def net(self) -> int:
        return self.charges - self.refunds


@dataclass(frozen=True, slots=True)
class Statement:
    account_id: int
    account_name: str
    month: int
    start_ms: int
    end_ms: int
    #: The month has not ended: its figures can still change.
    is_open: bool
    generated_at: int
    opening: int
    recharges: int
    recharge_count: int
    #: Signed: positive corrections less negative ones.
    adjustments: int
    adjustment_count: int
    #: Positive amounts: deducts dated in the month, refunds dated in the month.
    charges: int
    refunds: int
    by_model: tuple[ModelCharges, ...]
    record_count: int
    #: The last record dated in the month or before it, in time order (None: no record yet).
    last_record: EdgeRecord | None

    @property
    def net_charges(self) -> int:
        return self.charges - self.refunds

    @property
    def charge_count(self) -> int:
        return sum(m.charge_count for m in self.by_model)

    @property
    def refund_count(self) -> int:
        return sum(m.refund_count for m in self.by_model)

    @property
    def closing(self) -> int:
        return self.opening + self.recharges + self.adjustments - self.charges + self.refunds

    @property
    def matches_balance_after(self) -> bool:
        """Whether the stored ``balance_after`` of the month's last record equals the closing balance."""
        return (self.last_record.balance_after if self.last_record else 0) == self.closing

    @property
    def month_text(self) -> str:
        return month_text(self.month)


def _by_model(cells: list[MonthlyCell]) -> tuple[ModelCharges, ...]:
    sums: dict[str, list[int]] = {}
    for cell in cells:
        if cell.billing_type not in (BillingType.DEDUCT, BillingType.REFUND):
            continue
        row = sums.setdefault(cell.model_uuid, [0, 0, 0, 0])
        if cell.billing_type == BillingType.DEDUCT:
            row[0] -= cell.amount
            row[1] += cell.count
        else:
            row[2] += cell.amount
            row[3] += cell.count
    return tuple(ModelCharges(model, *row) for model, row in sorted(sums.items()))


def _total(cells: list[MonthlyCell], billing_type: BillingType) -> tuple[int, int]:
    """(sum of ``delta``, count) of the month's records of one type."""
    chosen = [c for c in cells if c.billing_type == billing_type]
    return sum(c.amount for c in chosen), sum(c.count for c in chosen)


async def _account_name(conn: AsyncConnection, account_id: int) -> str:
    account = await account_store.get(conn, account_id)
    if account is None:
        raise NotFound(f"account {account_id} not found")
    return account.name


async def statement(conn: AsyncConnection, account_id: int, month: int) -> Statement:
    """The statement of ``month`` (``YYYYMM``, see ``parse_month``) for one account."""
    name = await _account_name(conn, account_id)
    start, end = month_start_ms(month), month_start_ms(next_month(month))
    cells = await statement_store.month_cells(conn, account_id, month)
    recharges, recharge_count = _total(cells, BillingType.RECHARGE)
    adjustments, adjustment_count = _total(cells, BillingType.ADJUST)
    deducts, _ = _total(cells, BillingType.DEDUCT)
    refunds, _ = _total(cells, BillingType.REFUND)
    now = now_ms()
    return Statement(
        account_id=account_id,
        account_name=name,
        month=month,
        start_ms=start,
        end_ms=end,
        is_open=now < end,
        generated_at=now,
        opening=await statement_store.sum_before(conn, account_id, month),
        recharges=recharges,
        recharge_count=recharge_count,
        adjustments=adjustments,
        adjustment_count=adjustment_count,
        charges=-deducts,
        refunds=refunds,
        by_model=_by_model(cells),
        record_count=sum(c.count for c in cells),
        last_record=await statement_store.last_before(conn, account_id, end),
    )


@dataclass(frozen=True, slots=True)
class Receipt:
    account_id: int
    account_name: str
    record: Record


async def receipt(conn: AsyncConnection, account_id: int, record_uuid: str) -> Receipt:
    """A recharge record of the account, for its receipt; 404 for any other record."""
    name = await _account_name(conn, account_id)
    record = await statement_store.recharge_by_uuid(conn, account_id, record_uuid)
    if record is None:
        raise NotFound(f"no recharge {record_uuid} on this account")
    return Receipt(account_id, name, record)
