"""The ledger's invariants, checked over a whole database (``billbook verify``).

The rules live here; ``store.verify`` turns each into one set-based query that returns only the
rows breaking it. Every check runs in one read transaction, so on a live server it sees one
consistent snapshot. A violation names the check, the account and what is wrong, in words an
operator can act on.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger import limits, pricing
from billbook.ledger.errors import BillbookError
from billbook.money import format_usd
from billbook.store import verify as store
from billbook.times import day_to_date, month_text
from billbook.vocabulary import AuditAction, BillingType, OrderState, PredictionStatus

#: The sign of each billing type's effect on the balance; ``price`` is always the positive amount.
SIGNS = {t: t.sign for t in BillingType}
#: Records that belong to an order (and so to a prediction and a key).
ORDER_TYPES = tuple(t for t in BillingType if t.has_order)
REFUNDING = frozenset(s for s in PredictionStatus if s.refunds)
#: Each order state, the prediction statuses it goes with, and the number of refunds it has.
ORDER_STATES = {
    OrderState.PRE: (frozenset(s for s in PredictionStatus if not s.is_final), 0),
    OrderState.DONE: (frozenset({PredictionStatus.COMPLETED}), 0),
    OrderState.REFUNDED: (REFUNDING, 1),
}
DEFAULT_LIMIT = 100
#: Catalog-priced orders read per query by the catalog price check.
PRICED_ORDERS_PAGE = 5_000


@dataclass(frozen=True)
class Violation:
    check: str
    message: str
    account_id: int | None = None

    def __str__(self) -> str:
        where = f"account {self.account_id}: " if self.account_id is not None else ""
        return f"{self.check}: {where}{self.message}"


@dataclass
class Report:
    violations: list[Violation] = field(default_factory=list)
    #: Checks that found more violations than were listed.
    truncated: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "checks": self.checks,
            "violations": [asdict(v) for v in self.violations],
            "truncated": self.truncated,
        }


def _usd(micros: int | None) -> str:
    return "none" if micros is None else f"{format_usd(int(micros))} USD"


def _about(row: Any, check: str, message: str) -> Violation:
    """A violation of ``check`` in ``row``'s account."""
    return Violation(check, message, row.account_id)


def _balance(row: store.BalanceMismatch) -> Violation:
    return _about(row, "balance", f"balance is {_usd(row.balance)} but its records sum to {_usd(row.records_sum)}")


def _amount(row: store.RecordAmount) -> Violation:
    kind = row.billing_type
    if kind not in SIGNS:
        problem = f"unknown billing_type {kind!r}"
    elif row.price < 0:
        problem = f"negative price {row.price}"
    else:
        problem = f"delta {row.delta} does not match a {kind} of price {row.price}"
    return _about(row, "record_amount", f"record {row.uuid}: {problem}")


def _link(row: store.RecordLinks) -> Violation:
    problems = []
    if row.ak_id is not None and row.key_account_id != row.account_id:
        problems.append(f"its key belongs to account {row.key_account_id}")
    elif row.ak_id is not None and row.access_key_id != row.key_access_key_id:
        problems.append(f"access_key_id {row.access_key_id!r} is not its key's {row.key_access_key_id!r}")
    if row.billing_type in ORDER_TYPES:
        if row.order_id is None or row.prediction_id is None or row.ak_id is None:
            problems.append("a deduct or refund without its order, prediction or key")
        elif row.order_account_id != row.account_id:
            problems.append(f"its order belongs to account {row.order_account_id}")
        elif row.order_prediction_id != row.prediction_id or row.order_ak_id != row.ak_id:
            problems.append("its prediction or key differs from its order's")
    elif row.order_id is not None or row.prediction_id is not None:
        problems.append(f"a {row.billing_type} linked to an order or prediction")
    return _about(row, "record_links", f"record {row.uuid}: {'; '.join(problems)}")


def _order(row: store.OrderFigures) -> list[Violation]:
    """Every rule the order breaks, each its own violation."""
    found = []
    subject = f"order {row.order_uuid} (prediction {row.prediction_uuid})"

    def add(check: str, message: str) -> None:
        found.append(_about(row, check, f"{subject}: {message}"))

    if row.deducts != 1:
        add("one_deduct", f"has {row.deducts} deduct records, not 1")
    refunding = row.status in REFUNDING
    if row.refunds > 1:
        add("refund", f"has {row.refunds} refunds")
    elif row.refunds == 1 and not refunding:
        add("refund", f"refunded although the prediction is {row.status}")
    expected = ORDER_STATES.get(row.state)
    if expected is None:
        add("order_state", f"unknown state {row.state!r}")
    elif row.status not in expected[0] or row.refunds != expected[1]:
        add("order_state", f"state {row.state} with prediction status {row.status} and {row.refunds} refund(s)")
    for kind, low, high in (("deduct", row.deduct_min, row.deduct_max), ("refund", row.refund_min, row.refund_max)):
        if low is not None and (low != row.price or high != row.price):
            add("order_price", f"{kind} price {_usd(low)} differs from the order's {_usd(row.price)}")
    if row.prediction_account_id != row.account_id:
        add("record_links", f"its prediction belongs to account {row.prediction_account_id}")
    if not found:  # the query saw a problem the rules above do not name
        add("order_state", f"inconsistent order: {row}")
    return found


def _lonely_prediction(row: store.LonelyPrediction) -> Violation:
    return _about(row, "one_deduct", f"prediction {row.uuid} ({row.status}) has no order")


def _overdraft(row: store.Overdraft) -> Violation:
    return _about(row, "overdraft", f"deduct {row.uuid} of {_usd(row.price)} left the balance at {_usd(row.running)}")


def _balance_after(row: store.BalanceAfter) -> Violation:
    shown = f"balance_after {_usd(row.balance_after)}"
    if row.balance_after != row.running:
        message = f"record {row.uuid}: {shown} is not the running sum of the account's records, {_usd(row.running)}"
    else:
        message = f"last record {row.uuid}: {shown} is not the account's balance, {_usd(row.balance)}"
    return _about(row, "balance_after", message)


def _cell_name(day: int, model_uuid: str, access_key_id: str) -> str:
    return f"{day_to_date(int(day))} {model_uuid} key {access_key_id}"


def _usage(row: store.CellDifference) -> Violation:
    if row.stored is None:
        problem = "missing from usage_daily"
    elif row.computed is None:
        problem = "in usage_daily but no deduct made it"
    else:
        stored, computed = row.stored, row.computed
        problem = ", ".join(f"{v} {stored[v]} (records say {computed[v]})" for v in stored if stored[v] != computed[v])
    return _about(row, "usage_daily", f"{_cell_name(**row.key)}: {problem}")


def _last_price(row: store.LastPrice) -> Violation:
    cell = _cell_name(row.day, row.model_uuid, row.access_key_id)
    return _about(row, "usage_daily", f"{cell}: last_price {_usd(row.last_price)} is not the price of its newest deduct")


def _billing_daily(row: store.CellDifference) -> Violation:
    stored, computed = (side["count"] if side else 0 for side in (row.stored, row.computed))
    day, billing_type = day_to_date(int(row.key["day"])), row.key["billing_type"]
    return _about(row, "billing_daily", f"{day} {billing_type}: count {stored} but there are {computed} records")


def _billing_daily_shard(row: store.ShardDifference) -> Violation:
    return Violation(
        "billing_daily_shards",
        f"shard {row.shard}, {day_to_date(row.day)} {row.billing_type}: count {row.stored} "
        f"but its accounts' daily counts sum to {row.computed}",
    )


def _billing_monthly(row: store.CellDifference) -> Violation:
    stored, computed = ({"count": 0, "amount": 0} if side is None else side for side in (row.stored, row.computed))
    cell = f"{month_text(int(row.key['month']))} {row.key['billing_type']} {row.key['model_uuid'] or '(no model)'}"
    return _about(row, "billing_monthly", f"{cell}: {stored['count']} records summing {_usd(stored['amount'])}, "
                  f"but the records say {computed['count']} summing {_usd(computed['amount'])}")


def _catalog_price(book: pricing.PriceBook, order: store.PricedOrder) -> list[Violation]:
    """What is wrong with a catalog-priced order: ``origin_price`` must be its version's list price
    for the inputs its charge sent, and ``price`` that less the account's discount at the order's
    time. A charge dated ahead of its writing saw the discount in force when it was written, which
    the ledger does not keep: a price is also accepted at any discount the account had before the
    order's time, never above ``origin_price``."""
    subject = f"order {order.order_uuid} (prediction {order.prediction_uuid})"

    def problem(message: str) -> list[Violation]:
        return [Violation("catalog_price", f"{subject}: {message}", order.account_id)]

    version = book.versions.get(order.price_version_id)
    if version is None:
        return problem(f"priced from version {order.price_version_id}, which the catalog does not have")
    if version.model_id != order.model_uuid:
        return problem(f"priced from version {version.id} of {version.model_id} for a charge of {order.model_uuid}")
    try:
        listed = pricing.price_of(version, 0, pricing.normalize_inputs(json.loads(order.inputs or "{}"))).list_price
    except (BillbookError, ValueError) as exc:
        return problem(f"version {version.id} cannot price its inputs: {exc}")
    if listed != order.origin_price:
        return problem(
            f"origin_price {_usd(order.origin_price)} is not version {version.id}'s list price "
            f"{_usd(listed)} for its inputs"
        )
    rate = book.rate_at(order.account_id, order.model_uuid, order.created_at)
    expected = pricing.apply_discount(listed, rate)
    if order.price == expected:
        return []
    seen = book.rates_until(order.account_id, order.model_uuid, order.created_at)
    if any(order.price == pricing.apply_discount(listed, r) for r in seen):
        return []
    return problem(
        f"price {_usd(order.price)} is not the list price less the discount of "
        f"{format(pricing.rate_percent(rate), 'f')} % then, {_usd(expected)}"
    )


async def catalog_price_mismatches(conn: AsyncConnection, limit: int) -> list[Violation]:
    """Catalog-priced orders whose prices are not what their versions say: versions and discounts
    are loaded once, the orders walked a page at a time, each formula evaluated in Python."""
    book = pricing.PriceBook(await store.all_versions(conn), await store.all_discounts(conn))
    found: list[Violation] = []
    after = 0
    while len(found) < limit:
        page = await store.catalog_priced_orders(conn, after, PRICED_ORDERS_PAGE)
        for order in page:
            found.extend(_catalog_price(book, order))
        if len(page) < PRICED_ORDERS_PAGE:
            break
        after = page[-1].order_id
    return found


async def spend_window_mismatches(conn: AsyncConnection, limit: int) -> list[store.SpendWindowMismatch]:
    """Windows of the spend rollup that disagree with a recomputation from the records. Windows
    that begin in an archived month, and the totals of accounts with archived records, cannot be
    recomputed from what is online: they are left out."""
    return await store.spend_window_mismatches(conn, limits.ACCOUNT, limit)


def _spend_window(row: store.SpendWindowMismatch) -> Violation:
    who = f"key {row.access_key_id}" if row.access_key_id else "the account"
    window = "total" if row.period == "total" else f"{row.period} window starting {day_to_date(row.start)}"
    return Violation(
        "spend_windows",
        f"{who}'s {window}: spend {_usd(row.stored)} USD but the records say {_usd(row.computed)} USD",
        row.account_id,
    )


#: For each change the log must hold, the audit actions that account for it.
AUDITED = {
    "recharge": (AuditAction.RECHARGE, AuditAction.ACCOUNT_CREATE),
    "adjust": (AuditAction.ADJUST,),
    "key.create": (AuditAction.KEY_CREATE,),
    "key.revoke": (AuditAction.KEY_REVOKE,),
}


def _unaudited(row: store.Unaudited) -> Violation:
    what = {"recharge": "recharge", "adjust": "adjustment", "key.create": "key issued", "key.revoke": "key revoked"}[row.kind]
    return _about(row, "audit", f"{what} {row.subject} has no audit row")


def _account_spend(row: store.SpendFigure) -> Violation:
    if row.stored is None:
        return _about(row, "account_spend", "has no stored 30-day spend")
    if row.stored != row.computed:
        return _about(
            row, "account_spend",
            f"stored 30-day spend {_usd(row.stored)} as of day {row.day} but usage_daily says {_usd(row.computed)}",
        )
    return _about(row, "account_spend", f"stored 30-day spend still counts {_usd(row.left)} of days the last roll took out")


def _account_count(row: store.AccountCount) -> Violation:
    return Violation("account_count", f"account_count says {row.stored} accounts but there are {row.counted}")


Check = tuple[str, Callable[[AsyncConnection, int], Awaitable[list[Any]]], Callable[[Any], Violation | list[Violation]]]


def checks() -> list[Check]:
    found: list[Check] = [
        ("balance", store.balance_mismatches, _balance),
        ("record_amount", lambda c, n: store.bad_record_amounts(c, SIGNS, n), _amount),
        ("record_links", lambda c, n: store.bad_record_links(c, ORDER_TYPES, n), _link),
        ("orders", lambda c, n: store.bad_orders(c, ORDER_STATES, n), _order),
        ("predictions", store.predictions_without_order, _lonely_prediction),
        ("overdraft", store.overdrawing_deducts, _overdraft),
        ("balance_after", store.balance_after_mismatches, _balance_after),
        ("usage_daily", store.usage_daily_mismatches, _usage),
        ("usage_daily_last_price", store.usage_daily_bad_last_price, _last_price),
        ("account_spend", store.account_spend_mismatches, _account_spend),
        ("account_count", store.account_count_mismatch, _account_count),
        ("catalog_price", catalog_price_mismatches, lambda violation: violation),
        ("spend_windows", spend_window_mismatches, _spend_window),
        ("billing_monthly", store.billing_monthly_mismatches, _billing_monthly),
        ("audit", lambda c, n: store.unaudited_changes(c, AUDITED, n), _unaudited),
    ]
    if store.has_billing_daily():
        found.append(("billing_daily", store.billing_daily_mismatches, _billing_daily))
        found.append(("billing_daily_shards", store.billing_daily_shard_mismatches, _billing_daily_shard))
    return found


async def verify(conn: AsyncConnection, *, limit: int = DEFAULT_LIMIT) -> Report:
    """Run every check; at most ``limit`` violations are listed per check."""
    await store.allow_full_scans(conn)
    report = Report(checked=await store.counts(conn))
    for name, query, describe in checks():
        report.checks.append(name)
        rows = await query(conn, limit + 1)
        if len(rows) > limit:
            report.truncated.append(name)
        for row in rows[:limit]:
            described = describe(row)
            report.violations.extend(described if isinstance(described, list) else [described])
    return report
