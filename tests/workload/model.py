"""A plain in-memory model of the ledger: what the contract says each request must do.

It is written from the contract (``shared/spec/api.md``), not from the server's code, so the two
are independent statements of the same rules. ``expect_*`` methods answer the HTTP status (and
the few response fields worth checking) a request must get, and apply its effect when it succeeds.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

REFUNDING = frozenset({"failed", "cancelled", "timeout"})
STATUSES = frozenset({"created", "processing", "completed"}) | REFUNDING
NEXT = {"created": {"processing", "completed"} | REFUNDING, "processing": {"completed"} | REFUNDING}
MAX_MICROS = 10**18
#: A charge without ``created_at`` is dated when the server writes it: after every step before it.
NOW = 2**62
#: A charge's hold when neither it nor the server says: the test app's ``hold_timeout_s``.
DEFAULT_HOLD_S = 3_600
#: The formula of the workload's priced-by-duration models, as the catalog holds it.
DURATION_FORMULA = "base_price * duration / 5"


@dataclass(frozen=True)
class Version:
    """A price version as the contract describes it; ``formula`` is None (flat) or DURATION_FORMULA."""

    effective_from: int
    base_price: int
    formula: str | None

    def list_price(self, inputs: dict) -> int:
        """``base_price`` without a formula or inputs, else ``base_price * duration / 5``; the
        workload's base prices are multiples of 5 micro-dollars, so the result is exact."""
        if self.formula is None or not inputs:
            return self.base_price
        exact = Decimal(self.base_price) * Decimal(inputs["duration"]) / 5
        return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


def iso(ms: int) -> str:
    """Milliseconds since the epoch as the API writes a time: ``2026-01-01T00:00:00.000Z``."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def discounted(list_price: int, rate_bp: int) -> int:
    """The list price less ``rate_bp`` hundredths of a percent, rounded half up to the micro-dollar."""
    exact = Decimal(list_price) * (10_000 - rate_bp) / 10_000
    return int(exact.to_integral_value(rounding=ROUND_HALF_UP))


@dataclass
class Key:
    access_key_id: str
    ak_id: int
    account_id: int
    api_key: str
    revoked: bool = False
    #: Kept for reading the account back at the end: never revoked, never charged with.
    auditor: bool = False


@dataclass
class Prediction:
    uuid: str
    account_id: int
    access_key_id: str
    model_uuid: str
    price: int
    origin_price: int
    model_type: str
    created_at: int | None
    status: str = "created"
    #: Priced from the catalog (the charge sent no price), with these inputs.
    catalog: bool = False
    inputs: dict | None = None
    #: The hold in seconds (the charge's ``hold_timeout_s``, else the server's default) and when it
    #: ends, in ms; a charge the server dated is taken as dated at the run's clock (a little early).
    hold_s: int = DEFAULT_HOLD_S
    hold_until: int = 0
    #: Moved to ``timeout`` by a sweep of expired holds (not by the platform).
    swept: bool = False
    #: The time the charge counts at in spend windows (its ``created_at``, else when it was sent).
    spent_at: int = 0

    @property
    def order_state(self) -> str:
        if self.status in REFUNDING:
            return "refunded"
        return "done" if self.status == "completed" else "pre"


@dataclass
class Account:
    id: int
    balance: int = 0
    #: (billing_type, reference) -> (delta, reason)
    references: dict[tuple[str, str], tuple[int, str | None]] = field(default_factory=dict)
    #: model id or None (every model) -> [(set_at, rate_bp)], oldest first
    discounts: dict[str | None, list[tuple[int, int]]] = field(default_factory=dict)
    #: (billing_type, price, prediction uuid or None), one per record
    records: list[tuple[str, int, str | None]] = field(default_factory=list)

    def counts(self) -> Counter:
        return Counter(kind for kind, _, _ in self.records)


PERIODS = ("daily", "monthly", "total")


def windows(at: int) -> dict[str, int]:
    """The first UTC day of the day, month and (0) total windows holding the time ``at``."""
    moment = datetime.fromtimestamp(at / 1000, UTC)
    first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return {"daily": at // 86_400_000, "monthly": int(first.timestamp()) // 86_400, "total": 0}


@dataclass(frozen=True)
class Outcome:
    status: int
    #: Response fields to compare, e.g. ``{"created": True}``.
    fields: dict = field(default_factory=dict)
    #: Words the response's ``message`` must contain.
    message: str | None = None


@dataclass
class LedgerModel:
    accounts: dict[int, Account] = field(default_factory=dict)
    keys: dict[str, Key] = field(default_factory=dict)
    predictions: dict[str, Prediction] = field(default_factory=dict)
    #: model id -> versions, by ``effective_from``
    catalog: dict[str, list[Version]] = field(default_factory=dict)
    #: The server's time, in ms, as far as holds go: every hold's deadline is hours away from it for
    #: the whole run, so "expired at the sweep" is "expired at ``clock``".
    clock: int = 0
    hold_default_s: int = DEFAULT_HOLD_S
    #: (account_id, key or "" for the account, setter) -> {period: micros or None}
    limits: dict[tuple[int, str, str], dict[str, int | None]] = field(default_factory=dict)
    #: (account_id, key or "", period, window start) -> spend: deducts less their refunds
    spend: Counter = field(default_factory=Counter)

    # --- spend limits ----------------------------------------------------------------------------

    def expect_limits(self, account_id: int, subject: str, setter: str, values: dict[str, int | None]) -> Outcome:
        """A whole set replaced; the answer's ``applied`` is the lower of both setters'."""
        self.limits[(account_id, subject, setter)] = dict(values)
        return Outcome(200)

    def applied(self, account_id: int, subject: str, period: str) -> int | None:
        found = [
            self.limits.get((account_id, subject, setter), {}).get(period) for setter in ("operator", "customer")
        ]
        found = [v for v in found if v is not None]
        return min(found) if found else None

    def _fits(self, account_id: int, key: str, at: int, price: int) -> bool:
        for subject in (key, ""):
            for period, start in windows(at).items():
                limit = self.applied(account_id, subject, period)
                if limit is not None and self.spend[(account_id, subject, period, start)] + price > limit:
                    return False
        return True

    def _spend(self, account_id: int, key: str, at: int, amount: int) -> None:
        for subject in (key, ""):
            for period, start in windows(at).items():
                self.spend[(account_id, subject, period, start)] += amount

    # --- the price catalog -----------------------------------------------------------------------

    def expect_version(self, model_id: str, version: Version) -> Outcome:
        """A version is added unless the one in force at its time already says the same; another
        version at the same time is a 409."""
        versions = self.catalog.setdefault(model_id, [])
        current = self.version_at(model_id, version.effective_from)
        if current is not None and (current.base_price, current.formula) == (version.base_price, version.formula):
            return Outcome(200, {"created": False})
        if current is not None and current.effective_from == version.effective_from:
            return Outcome(409)
        versions.append(version)
        versions.sort(key=lambda v: v.effective_from)
        return Outcome(200, {"created": True})

    def version_at(self, model_id: str, at: int) -> Version | None:
        versions = self.catalog.get(model_id, [])
        index = bisect.bisect_right([v.effective_from for v in versions], at) - 1
        return versions[index] if index >= 0 else None

    def expect_discount(self, account_id: int, model_id: str | None, rate_bp: int) -> Outcome:
        account = self.accounts[account_id]
        settings = account.discounts.setdefault(model_id, [])
        if settings and settings[-1][1] == rate_bp:
            return Outcome(200, {"changed": False})
        return Outcome(200, {"changed": True})

    def record_discount(self, account_id: int, model_id: str | None, rate_bp: int, set_at: int) -> None:
        """A change the server made at ``set_at`` (its clock: the model cannot know it otherwise)."""
        self.accounts[account_id].discounts[model_id].append((set_at, rate_bp))

    def rate_at(self, account_id: int, model_id: str, at: int) -> int:
        discounts = self.accounts[account_id].discounts
        for scope in (model_id, None):
            settings = [rate for set_at, rate in discounts.get(scope, []) if set_at <= at]
            if settings:
                return settings[-1]
        return 0

    def catalog_price(self, account_id: int, model_id: str, at: int, inputs: dict) -> tuple[int, int] | None:
        """(price, list price) of a charge without price, or None when no version is in force."""
        version = self.version_at(model_id, at)
        if version is None:
            return None
        listed = version.list_price(inputs)
        return discounted(listed, self.rate_at(account_id, model_id, at)), listed

    # --- accounts and keys -------------------------------------------------------------------

    def add_account(self, account_id: int, opening: int) -> None:
        account = Account(account_id)
        self.accounts[account_id] = account
        if opening:
            self._funds(account, "recharge", opening, "opening-balance", None)

    def add_key(self, key: Key) -> None:
        self.keys[key.access_key_id] = key

    def expect_revoke(self, access_key_id: str) -> Outcome:
        key = self.keys.get(access_key_id)
        if key is None:
            return Outcome(404)
        key.revoked = True
        return Outcome(200)

    def expect_balance(self, api_key: str) -> Outcome:
        key = next((k for k in self.keys.values() if k.api_key == api_key), None)
        if key is None or key.revoked:
            return Outcome(401)
        return Outcome(200, {"balance": self.accounts[key.account_id].balance})

    # --- money in --------------------------------------------------------------------------------

    def _funds(self, account: Account, kind: str, delta: int, reference: str, reason: str | None) -> None:
        account.references[(kind, reference)] = (delta, reason)
        account.records.append((kind, abs(delta), None))
        account.balance += delta

    def expect_funds(self, kind: str, account_id: int, delta: int | None, reference: str, reason: str | None) -> Outcome:
        """A recharge (``reason`` None) or an adjustment; ``delta`` None stands for an invalid amount."""
        if delta is None or abs(delta) > MAX_MICROS:
            return Outcome(400)
        if kind == "recharge" and delta <= 0:
            return Outcome(400)
        if kind == "adjust" and (delta == 0 or not (reason or "").strip() or len(reason.strip()) > 1000):
            return Outcome(400)
        reference = reference.strip()
        if not reference or len(reference) > 200:
            return Outcome(400)
        account = self.accounts.get(account_id)
        if account is None:
            return Outcome(404)
        reason = reason.strip() if reason is not None else None
        seen = account.references.get((kind, reference))
        if seen is not None:
            if seen[0] != delta or (reason is not None and seen[1] != reason):
                return Outcome(409)
            return Outcome(200, {"created": False, "balance": account.balance})
        self._funds(account, kind, delta, reference, reason)
        return Outcome(200, {"created": True, "balance": account.balance})

    # --- charges ---------------------------------------------------------------------------------

    def _same_charge(self, existing: Prediction, charge: dict, key: Key) -> bool:
        """A retry repeats what was sent: a catalog-priced charge its inputs (none is ``{}``),
        never the price the catalog gave it; fields the retry leaves out are not compared."""
        price, origin = charge.get("price"), charge.get("origin_price")
        if existing.catalog:
            sent = price is None and (charge.get("inputs") or {}) == (existing.inputs or {})
        else:
            sent = (
                existing.price == price
                and (origin is None or existing.origin_price == origin)
                and ("inputs" not in charge or charge["inputs"] == existing.inputs)
            )
        return (
            sent
            and existing.access_key_id == key.access_key_id
            and existing.model_uuid == charge["model_uuid"]
            and (charge.get("model_type") is None or charge["model_type"] == existing.model_type)
            and (charge.get("created_at") is None or charge["created_at"] == existing.created_at)
            and (charge.get("hold_timeout_s") is None or charge["hold_timeout_s"] == existing.hold_s)
        )

    def expect_charge(self, charge: dict) -> Outcome:
        """``charge`` holds micros and ms (``price`` absent: priced from the catalog; ``price``
        None: an invalid amount; ``valid`` False: a malformed field)."""
        catalog = "price" not in charge
        price, origin = charge.get("price"), charge.get("origin_price")
        if not charge.get("valid", True) or (not catalog and (price is None or price < 0)) or (origin is not None and origin < 0):
            return Outcome(400)
        key = self.keys.get(charge["access_key_id"])
        if key is None:
            return Outcome(404)
        existing = self.predictions.get(charge["prediction_uuid"])
        if existing is not None:
            return Outcome(200, {"created": False}) if self._same_charge(existing, charge, key) else Outcome(409)
        if key.revoked:
            return Outcome(409)
        account = self.accounts[key.account_id]
        if catalog:
            at = charge.get("created_at", NOW)
            priced = self.catalog_price(key.account_id, charge["model_uuid"], at, charge.get("inputs") or {})
            if priced is None:
                return Outcome(400)
            price, origin = priced
        spent_at = charge.get("created_at") or time.time_ns() // 1_000_000
        if not self._fits(key.account_id, key.access_key_id, spent_at, price):
            return Outcome(403)
        if account.balance < price:
            return Outcome(402)
        self._spend(key.account_id, key.access_key_id, spent_at, price)
        account.balance -= price
        account.records.append(("deduct", price, charge["prediction_uuid"]))
        hold_s = charge.get("hold_timeout_s") or self.hold_default_s
        created_at = charge.get("created_at")
        self.predictions[charge["prediction_uuid"]] = Prediction(
            charge["prediction_uuid"], key.account_id, key.access_key_id, charge["model_uuid"], price,
            origin if origin is not None else price, charge.get("model_type") or "", created_at,
            catalog=catalog, inputs=charge.get("inputs"), hold_s=hold_s,
            hold_until=(created_at if created_at is not None else self.clock) + hold_s * 1000,
            spent_at=spent_at,
        )
        return Outcome(200, {"created": True})

    def expect_status(self, uuid: str, status: str) -> Outcome:
        if status not in STATUSES:
            return Outcome(400)
        prediction = self.predictions.get(uuid)
        if prediction is None:
            return Outcome(404)
        if prediction.status == status:
            return Outcome(200, {"changed": False, "order_state": prediction.order_state})
        if status not in NEXT.get(prediction.status, set()):
            # A prediction the sweep timed out says why it cannot be settled any more.
            expired = f"{uuid}'s hold expired at {iso(prediction.hold_until)}"
            return Outcome(409, message=expired if prediction.swept else None)
        self._move(prediction, status)
        return Outcome(200, {"changed": True, "order_state": prediction.order_state})

    def _move(self, prediction: Prediction, status: str) -> None:
        prediction.status = status
        if status in REFUNDING:
            account = self.accounts[prediction.account_id]
            account.balance += prediction.price
            account.records.append(("refund", prediction.price, prediction.uuid))
            self._spend(prediction.account_id, prediction.access_key_id, prediction.spent_at, -prediction.price)

    # --- holds that expire -----------------------------------------------------------------------

    def expect_sweep(self) -> set[str]:
        """A sweep moves every prediction still ``created``/``processing`` whose hold ended before
        now to ``timeout``, with one refund each; returns their uuids."""
        due = {
            p.uuid for p in self.predictions.values()
            if p.status in ("created", "processing") and p.hold_until < self.clock
        }
        for uuid in due:
            self._move(self.predictions[uuid], "timeout")
            self.predictions[uuid].swept = True
        return due
