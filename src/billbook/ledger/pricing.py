"""The price catalog: price versions per model, discounts per account, and what a request costs.

A model's price at a time is the version in force then: the latest whose ``effective_from`` is not
after it. Versions are never edited; a new one is added. An account's discount at a time is the
latest one set at or before it for that model, or else for every model; none means 0 %.

The price of a request is computed in one place (:func:`price_of`) whichever way the version and
discount were found, so a quote and a charge with the same inputs at the same time cost the same to
the micro-dollar.
"""

from __future__ import annotations

import bisect
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger import formulas
from billbook.ledger.errors import BillbookError, Conflict, InvalidRequest, NotFound
from billbook.store import accounts as account_store
from billbook.store import catalog as store
from billbook.times import now_ms

#: Discounts are kept in hundredths of a percent.
FULL_RATE_BP = 10_000
#: What a model id looks like: ``wavespeed-ai/flux-dev``, ``bytedance/seedream-v4.5``.
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-/:+@]{0,199}")


@dataclass(frozen=True, slots=True)
class Version:
    id: int
    model_id: str
    name: str
    type: str
    description: str
    base_price: int
    formula: str | None
    sort_order: int
    effective_from: int
    created_at: int

    @classmethod
    def from_row(cls, row: dict) -> Version:
        return cls(**{name: row[name] for name in cls.__slots__})

    def content(self) -> tuple:
        """What a version says, without when or as which row: equal content is the same price."""
        return (self.name, self.type, self.description, self.base_price, self.formula, self.sort_order)


@dataclass(frozen=True, slots=True)
class Discount:
    account_id: int
    model_id: str | None
    rate_bp: int
    set_at: int


@dataclass(frozen=True, slots=True)
class Quote:
    """What a request costs: ``list_price`` from the version, ``price`` after the discount."""

    model_id: str
    version_id: int
    list_price: int
    discount_bp: int
    price: int


def rate_percent(rate_bp: int) -> Decimal:
    """``1250`` -> ``Decimal('12.5')``; ``0`` -> ``Decimal('0')``."""
    return (Decimal(rate_bp) / 100).normalize() if rate_bp else Decimal(0)


def apply_discount(list_price: int, rate_bp: int) -> int:
    """``list_price`` less ``rate_bp`` hundredths of a percent, rounded half up to the micro-dollar."""
    kept = list_price * (FULL_RATE_BP - rate_bp)
    return (2 * kept + FULL_RATE_BP) // (2 * FULL_RATE_BP)


def list_price(version: Version, inputs: dict[str, Any]) -> int:
    """The version's price for normalised inputs: ``base_price`` without a formula or inputs."""
    if version.formula is None or not inputs:
        return version.base_price
    return formulas.evaluate(version.formula, version.base_price, inputs)


def price_of(version: Version, rate_bp: int, inputs: dict[str, Any]) -> Quote:
    """The one place a price is computed; raises ``InvalidRequest`` naming ``inputs``."""
    try:
        listed = list_price(version, inputs)
    except formulas.UnpriceableInputs as exc:
        raise InvalidRequest(f"inputs {exc}") from None
    return Quote(version.model_id, version.id, listed, rate_bp, apply_discount(listed, rate_bp))


class NormalInputs(dict):
    """Inputs already normalised (by :func:`normalize_inputs_json`): not walked again."""


def normalize_inputs_json(raw: Any) -> tuple[NormalInputs, str]:
    """Normalised inputs and their JSON text, for a charge that keeps what it was sent; raises
    ``InvalidRequest`` naming ``inputs``."""
    try:
        plain, text = formulas.normalize_inputs_json(raw)
    except formulas.UnpriceableInputs as exc:
        raise InvalidRequest(f"inputs {exc}") from None
    return NormalInputs(plain), text


def normalize_inputs(raw: Any) -> dict[str, Any]:
    """Inputs as every price reads them (a bounded JSON object; None is ``{}``); raises
    ``InvalidRequest`` naming ``inputs``."""
    if isinstance(raw, NormalInputs):
        return raw
    try:
        return formulas.normalize_inputs(raw)
    except formulas.UnpriceableInputs as exc:
        raise InvalidRequest(f"inputs {exc}") from None


# --- Reading ---------------------------------------------------------------------------------------


async def quote(
    conn: AsyncConnection, account_id: int, model_id: str, inputs: Any = None, at: int | None = None
) -> Quote:
    """What ``account_id`` pays for ``model_id`` with ``inputs`` at ``at`` (default: now)."""
    at = now_ms() if at is None else at
    normal = normalize_inputs(inputs)
    row = await store.version_at(conn, model_id, at) if is_model_id(model_id) else None
    if row is None:
        raise NotFound(f"model {model_id} is not in the price catalog")
    rows = await store.discounts_of(conn, account_id, model_id, at)
    specific = [r for r in rows if r["model_id"] is not None]
    chosen = (specific or rows or [None])[0]
    return price_of(Version.from_row(row), chosen["rate_bp"] if chosen else 0, normal)


async def catalog(conn: AsyncConnection, at: int | None = None) -> list[Version]:
    """Every model with a version in force at ``at`` (default: now), in catalog order."""
    return [Version.from_row(r) for r in await store.catalog_at(conn, now_ms() if at is None else at)]


async def versions(conn: AsyncConnection, model_id: str, page: int, page_size: int) -> tuple[int, list[Version]]:
    """One model's versions, newest first; 404 for a model the catalog has never had."""
    total, rows = 0, []
    if is_model_id(model_id):
        total, rows = await store.versions_page(conn, model_id, (page - 1) * page_size, page_size)
    if total == 0:
        raise NotFound(f"model {model_id} is not in the price catalog")
    return total, [Version.from_row(r) for r in rows]


@dataclass(frozen=True, slots=True)
class PriceRequest:
    """One charge to price: whose, which model, when (ms), and its inputs (None for none)."""

    account_id: int
    model_id: str
    created_at: int
    inputs: Any = None


async def price_many(conn: AsyncConnection, requests: Sequence[PriceRequest | tuple]) -> list[Quote | BillbookError]:
    """Price a batch of charges set-wise: two queries whatever the batch's size.

    For each request, in order: the :class:`Quote` a charge records (``origin_price`` =
    ``list_price``, ``price`` = ``price`` after the account's discount, and the order keeps
    ``version_id``), or the error that refuses that charge alone: ``NotFound`` when the model has no
    version in force at ``created_at`` (a charge without ``price`` turns it into a 400 naming
    ``price``), ``InvalidRequest`` naming ``inputs`` when the formula cannot price them. The
    version and the discount are those in force at the charge's ``created_at``, as
    :func:`quote` finds them, and the price comes from the same :func:`price_of`, so a charge costs
    what a quote for the same inputs at the same time said. A charge's idempotency must compare what
    was sent (model, inputs, created_at), never this result: a retry after a new version came in is
    still the same charge.
    """
    items = [r if isinstance(r, PriceRequest) else PriceRequest(*r) for r in requests]
    if not items:
        return []
    until = max(i.created_at for i in items)
    models = {i.model_id for i in items if is_model_id(i.model_id)}
    timeline = _Timeline(await store.versions_of_models(conn, models, until))
    rates = _Rates(await store.discounts_for(conn, {i.account_id for i in items}, models, until))
    results: list[Quote | BillbookError] = []
    for item in items:
        try:
            version = timeline.at(item.model_id, item.created_at)
            results.append(price_of(version, rates.at(item.account_id, item.model_id, item.created_at), normalize_inputs(item.inputs)))
        except BillbookError as exc:
            results.append(exc)
    return results


class _Timeline:
    """Versions by model, found for a time by bisection (rows come oldest first)."""

    def __init__(self, rows: list[dict]) -> None:
        self._starts: dict[str, list[int]] = defaultdict(list)
        self._versions: dict[str, list[Version]] = defaultdict(list)
        for row in rows:
            version = Version.from_row(row)
            self._starts[version.model_id].append(version.effective_from)
            self._versions[version.model_id].append(version)

    def at(self, model_id: str, at: int) -> Version:
        index = bisect.bisect_right(self._starts.get(model_id, []), at) - 1
        if index < 0:
            raise NotFound(f"model {model_id} is not in the price catalog")
        return self._versions[model_id][index]


class _Rates:
    """Discount settings by (account, model or None), found for a time by bisection."""

    def __init__(self, rows: list[dict]) -> None:
        self._times: dict[tuple, list[int]] = defaultdict(list)
        self._rates: dict[tuple, list[int]] = defaultdict(list)
        for row in rows:
            key = (row["account_id"], row["model_id"])
            self._times[key].append(row["set_at"])
            self._rates[key].append(row["rate_bp"])

    def times(self, key: tuple) -> list[int]:
        return self._times.get(key, [])

    def _latest(self, key: tuple, at: int) -> int | None:
        index = bisect.bisect_right(self._times.get(key, []), at) - 1
        return None if index < 0 else self._rates[key][index]

    def at(self, account_id: int, model_id: str, at: int) -> int:
        specific = self._latest((account_id, model_id), at)
        if specific is not None:
            return specific
        every = self._latest((account_id, None), at)
        return 0 if every is None else every


class PriceBook:
    """Every version and discount setting, held in memory: what an order priced at any time should
    have cost, without a query per order (``billbook verify``). ``versions`` come as rows in any
    order, ``discounts`` oldest first."""

    def __init__(self, versions: list[dict], discounts: list[dict]) -> None:
        self.versions = {row["id"]: Version.from_row(row) for row in versions}
        self._rates = _Rates(discounts)

    def rate_at(self, account_id: int, model_id: str, at: int) -> int:
        """The account's discount for the model in force at ``at``, in hundredths of a percent."""
        return self._rates.at(account_id, model_id, at)

    def rates_until(self, account_id: int, model_id: str, at: int) -> set[int]:
        """Every discount the account had for the model at some time up to ``at``.

        A setting takes effect when it is written, so a charge dated ``at`` and written at ``w`` was
        priced with the rate in force at ``min(w, at)``: one of these. (The rate at ``at`` itself
        is the one when the charge was not dated ahead of its writing.)"""
        changes = [
            t
            for times in (self._rates.times((account_id, model_id)), self._rates.times((account_id, None)))
            for t in times
            if t <= at
        ]
        return {0, self.rate_at(account_id, model_id, at)} | {self.rate_at(account_id, model_id, t) for t in changes}


# --- Writing -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewVersion:
    """What an operator sends to add a version (money in micro-dollars, times in ms)."""

    name: str
    base_price: int
    type: str = ""
    description: str = ""
    formula: str | None = None
    sort_order: int = 0
    effective_from: int | None = None


def is_model_id(model_id: str) -> bool:
    """Whether the catalog could hold ``model_id``; anything else is unknown without a query
    (and text such as NUL never reaches the database)."""
    return bool(MODEL_ID.fullmatch(model_id)) and not model_id.endswith("/versions")


def check_model_id(model_id: str) -> None:
    """A model id can be written in a path: ``/internal/v1/models/{model_id}/versions`` must not
    be read as another model's id, so none ends in ``/versions``."""
    if not is_model_id(model_id):
        raise InvalidRequest(
            "model_id must be 1 to 200 letters, digits and . _ - / : + @, starting with a letter or digit"
        )


async def add_version(conn: AsyncConnection, model_id: str, new: NewVersion) -> tuple[Version, bool]:
    """Add a price version; returns it and whether it was added.

    Idempotent: when the version in force at ``effective_from`` already says the same, nothing is
    added and that version is returned (adding it would change no price). Versions are never
    edited: a different version at the same ``effective_from`` is a 409. A formula that does not
    compile is a 400 naming ``formula``, so a bad formula never reaches a charge.
    """
    check_model_id(model_id)
    if new.base_price < 0:
        raise InvalidRequest("base_price must not be negative")
    if new.formula is not None:
        try:
            formulas.check_formula(new.formula)
        except formulas.FormulaError as exc:
            raise InvalidRequest(f"formula {exc}") from None
    now = now_ms()
    effective_from = now if new.effective_from is None else new.effective_from
    row = {
        "model_id": model_id,
        "name": new.name,
        "type": new.type,
        "description": new.description,
        "base_price": new.base_price,
        "formula": new.formula,
        "sort_order": new.sort_order,
        "effective_from": effective_from,
        "created_at": now,
    }
    candidate = Version.from_row({**row, "id": 0})
    current = await store.version_at(conn, model_id, effective_from)
    if current is not None and Version.from_row(current).content() == candidate.content():
        return Version.from_row(current), False
    if current is not None and current["effective_from"] == effective_from:
        raise Conflict(
            f"model {model_id} already has a different version taking effect at {effective_from}: "
            "versions are never edited; add one with another effective_from"
        )
    try:
        version_id = await store.insert_version(conn, row)
    except IntegrityError:  # a concurrent writer added one at the same time first; nothing is kept
        raise Conflict(f"model {model_id} already has a version taking effect at {effective_from}") from None
    return Version.from_row({**row, "id": version_id}), True


def rate_bp_of(rate: Decimal | int) -> int:
    """A discount in percent (0..100, at most 2 decimals) as hundredths of a percent."""
    if isinstance(rate, bool) or not isinstance(rate, int | Decimal):
        raise InvalidRequest("rate_percent must be a number between 0 and 100")
    value = Decimal(rate)
    if not value.is_finite() or not 0 <= value <= 100:
        raise InvalidRequest("rate_percent must be between 0 and 100")
    bp = value * 100
    if bp != bp.to_integral_value():
        raise InvalidRequest("rate_percent must have at most 2 decimal places")
    return int(bp)


async def set_discount(
    conn: AsyncConnection, account_id: int, model_id: str | None, rate_bp: int
) -> tuple[Discount, bool]:
    """Set an account's discount for one model or (``model_id`` None) every model, from now on.

    Idempotent: setting the rate already in force adds nothing. Returns the discount in force and
    whether it changed. 0 % for one model overrides an every-model discount for that model.
    """
    if not 0 <= rate_bp <= FULL_RATE_BP:
        raise InvalidRequest("rate_percent must be between 0 and 100")
    if await account_store.get(conn, account_id) is None:
        raise NotFound(f"account {account_id} not found")
    if model_id is not None and not (is_model_id(model_id) and await store.has_model(conn, model_id)):
        raise NotFound(f"model {model_id} is not in the price catalog")
    await account_store.lock(conn, account_id)  # one writer per account: no duplicate settings
    latest = await store.latest_discount(conn, account_id, model_id)
    if latest is not None and latest["rate_bp"] == rate_bp:
        return Discount(account_id, model_id, rate_bp, latest["set_at"]), False
    set_at = max(now_ms(), latest["set_at"] if latest else 0)
    await store.insert_discount(
        conn, {"account_id": account_id, "model_id": model_id, "rate_bp": rate_bp, "set_at": set_at}
    )
    return Discount(account_id, model_id, rate_bp, set_at), True
