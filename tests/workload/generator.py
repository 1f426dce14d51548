"""Random operations over the ledger, all drawn from one ``random.Random(seed)``: a seed replays
the same sequence. Each operation carries both the HTTP request to send and the model's view of it
(micro-dollars, milliseconds), so the runner can ask the model what must happen.

The mix leans on what breaks ledgers: retries with the same and with a different payload, status
changes in every order (most illegal), charges larger than the balance, revoked keys, recharges and
adjustments retried under the same reference, and malformed fields that must change nothing. Charges
without a price are priced from the seed's own catalog models, which get new versions (now and
back-dated) and discounts mid-run; their retries come before and after those changes.

Charges carry their own ``hold_timeout_s`` or take the server's default, and some are back-dated
hours before the run so that their holds have ended; a ``sweep`` step expires them. A platform's
``completed`` after a hold's end still settles before the sweep and is refused after it. Every
hold ends at least ``HOLD_MARGIN_MS`` before or after the run's start, so a sweep during the run
sees the same holds expired as the model.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from tests.workload.model import DURATION_FORMULA, LedgerModel

MODELS = ("bytedance/seedream-v4.5", "wavespeed-ai/flux-dev", "google/veo3-fast")
STATUSES = ("processing", "completed", "failed", "cancelled", "timeout", "created")
BASE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
#: Holds a charge may ask for (None: the server's default), up to the longest allowed (7 days).
HOLDS = (None, None, None, 60, 900, 3_600, 4 * 3_600, 12 * 3_600, 2 * 86_400, 7 * 86_400)
#: No hold ends closer than this to the run's start: a run (minutes) cannot straddle a deadline.
HOLD_MARGIN_MS = HOUR_MS

#: Relative weights of each kind of step.
WEIGHTS = {
    "charge": 24,
    "charge_retry": 8,
    "charge_conflict": 4,
    "charge_invalid": 3,
    "batch": 4,
    "status": 22,
    "status_invalid": 2,
    "recharge": 6,
    "recharge_retry": 3,
    "adjust": 4,
    "adjust_retry": 2,
    "revoke": 2,
    "new_key": 2,
    "balance": 6,
    "unknown": 2,
    "charge_catalog": 12,
    "catalog_retry": 5,
    "catalog_conflict": 2,
    "version": 3,
    "discount": 2,
    "sweep": 3,
    "late_status": 3,
    "limits": 3,
}
#: Spend limits a step sets (micro-dollars; None: no limit in that window).
LIMITS = (None, None, 50_000, 300_000, 1_000_000, 3_000_000)
#: Base prices of catalog versions: multiples of 5 micro-dollars, so ``* duration / 5`` is exact.
BASE_PRICES = (10_000, 25_000, 40_000, 100_005, 1_500_000)
RATES = (0, 10, 12.5, 25, 50, 33.33)


def catalog_models(seed: int) -> dict[str, str | None]:
    """The seed's own catalog models (the database is shared by every seed) and their formulas."""
    return {f"catalog/s{seed}-flat": None, f"catalog/s{seed}-video": DURATION_FORMULA}


def wire_usd(rng: random.Random, micros: int) -> Any:
    """The amount as a JSON string or number; numbers go out exactly (at most 6 decimals)."""
    text = format(Decimal(micros).scaleb(-6).normalize(), "f")
    if rng.random() < 0.5:
        return text
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else float(text)


class Generator:
    def __init__(self, seed: int, model: LedgerModel, start: int) -> None:
        """``start``: the server's time when the run starts, in ms (charges are dated from it)."""
        self.start = start
        self.rng = random.Random(seed)
        self.model = model
        self.seed = seed
        self.catalog = catalog_models(seed)

    # --- helpers ---------------------------------------------------------------------------------

    def uuid(self) -> str:
        return f"{self.rng.getrandbits(128):032x}"

    def price(self) -> int:
        roll = self.rng.random()
        if roll < 0.05:
            return 0
        if roll < 0.15:  # often more than the balance
            return self.rng.randrange(1_000_000, 20_000_000)
        return self.rng.choice((6_000, 25_000, 40_000, 300_000, 1_200_000)) + self.rng.randrange(0, 1000)

    def key(self, *, charging: bool = True) -> Any:
        keys = [k for k in self.model.keys.values() if not (charging and k.auditor)]
        return self.rng.choice(keys)

    def prediction(self) -> Any:
        return self.rng.choice(list(self.model.predictions.values())) if self.model.predictions else None

    def account_id(self) -> int:
        return self.rng.choice(list(self.model.accounts))

    def created_at(self) -> int:
        """A back-fill: on one of a few days months ago (its hold long over), within two minutes
        either side of that month's (and year's) first UTC midnight, to cross day and month
        windows of the spend limits, or a few hours to days before the run (its hold over or not,
        depending on its timeout)."""
        if self.rng.random() < 0.2:
            return BASE_MS + self.rng.choice((-1, 1)) * self.rng.randrange(1, 120_000)
        if self.rng.random() < 0.6:
            return BASE_MS + self.rng.randrange(4) * DAY_MS + self.rng.randrange(DAY_MS)
        return self.start - self.rng.randrange(2 * HOUR_MS, 3 * DAY_MS)

    def hold(self, charge: dict) -> None:
        """Give ``charge`` a ``hold_timeout_s`` (or leave the server's default), one whose hold
        ends at least ``HOLD_MARGIN_MS`` from the run's start (a charge dated by the server ends
        an hour or more after it; the default is an hour)."""
        created_at = charge.get("created_at", self.start)
        while True:
            hold_s = self.rng.choice(HOLDS)
            ends = created_at + (hold_s or self.model.hold_default_s) * 1000
            if ends >= self.start + HOLD_MARGIN_MS or ends <= self.start - HOLD_MARGIN_MS:
                break
        if hold_s is not None:
            charge["hold_timeout_s"] = hold_s

    # --- operations ------------------------------------------------------------------------------

    def next(self) -> dict:
        kinds = list(WEIGHTS)
        while True:
            kind = self.rng.choices(kinds, [WEIGHTS[k] for k in kinds])[0]
            op = getattr(self, f"_{kind}")()
            if op is not None:
                op["step_kind"] = kind
                return op

    def new_charge(self) -> dict:
        key = self.key()
        price = self.price()
        charge: dict[str, Any] = {
            "prediction_uuid": self.uuid(),
            "access_key_id": key.access_key_id,
            "model_uuid": self.rng.choice(MODELS),
            "price": price,
        }
        if self.rng.random() < 0.3:
            charge["origin_price"] = price + self.rng.choice((0, 1000, 10_000))
        if self.rng.random() < 0.3:
            charge["model_type"] = self.rng.choice(("text-to-image", "text-to-video"))
        if self.rng.random() < 0.5:  # a back-fill, to spread the rollups and to end holds
            charge["created_at"] = self.created_at()
        self.hold(charge)
        return charge

    def body(self, charge: dict) -> dict:
        body = dict(charge)
        if "price" not in charge:
            return body
        body["price"] = wire_usd(self.rng, charge["price"])
        if "origin_price" in charge:
            body["origin_price"] = wire_usd(self.rng, charge["origin_price"])
        return body

    def _charge(self) -> dict:
        charge = self.new_charge()
        return {"kind": "charge", "charge": charge, "body": self.body(charge)}

    def _replayed(self) -> dict | None:
        p = self.prediction()
        if p is None:
            return None
        charge = {
            "prediction_uuid": p.uuid, "access_key_id": p.access_key_id, "model_uuid": p.model_uuid,
            "price": p.price, "origin_price": p.origin_price,
        }
        if p.created_at is not None and self.rng.random() < 0.5:
            charge["created_at"] = p.created_at
        if p.model_type and self.rng.random() < 0.5:
            charge["model_type"] = p.model_type
        if self.rng.random() < 0.3:
            charge["hold_timeout_s"] = p.hold_s
        return charge

    def _charge_retry(self) -> dict | None:
        charge = self._replayed()
        return None if charge is None else {"kind": "charge", "charge": charge, "body": self.body(charge)}

    def _charge_conflict(self) -> dict | None:
        charge = self._replayed()
        if charge is None:
            return None
        what = self.rng.choice(("price", "model_uuid", "access_key_id", "created_at", "hold_timeout_s"))
        if what == "hold_timeout_s":
            charge["hold_timeout_s"] = self.model.predictions[charge["prediction_uuid"]].hold_s - 1
        elif what == "price":
            charge["price"] += 1
        elif what == "model_uuid":
            charge["model_uuid"] += "-v2"
        elif what == "access_key_id":
            charge["access_key_id"] = self.key().access_key_id
        else:
            charge["created_at"] = charge.get("created_at", BASE_MS) + 1
        return {"kind": "charge", "charge": charge, "body": self.body(charge)}

    def _charge_invalid(self) -> dict:
        charge = self.new_charge()
        body = self.body(charge)
        how = self.rng.choice(("uuid", "negative", "decimals", "type", "missing", "long"))
        if how == "uuid":
            body["prediction_uuid"] = charge["prediction_uuid"].upper()
        elif how == "negative":
            body["price"] = "-0.5"
        elif how == "decimals":
            body["price"] = "0.0000001"
        elif how == "type":
            body["price"] = self.rng.choice((True, [1], {"usd": 1}, "NaN", "1e400"))
        elif how == "missing":
            del body["model_uuid"]
        else:
            body["model_uuid"] = "m" * 201
        charge["valid"] = False
        return {"kind": "charge", "charge": charge, "body": body}

    def _batch(self) -> dict:
        items = []
        for _ in range(self.rng.randint(1, 5)):
            roll = self.rng.random()
            if roll < 0.2 and items:
                items.append(dict(items[-1]))  # the same charge twice in one batch
            elif roll < 0.3:
                items.append(self._charge_invalid())
            elif roll < 0.45:
                retry = self._charge_retry()
                items.append(retry if retry is not None else self._charge())
            elif roll < 0.7:
                retry = self._catalog_retry() if self.rng.random() < 0.3 else None
                items.append(retry if retry is not None else self._charge_catalog())
            else:
                items.append(self._charge())
        return {"kind": "batch", "items": items, "body": {"charges": [i["body"] for i in items]}}

    # --- the price catalog -----------------------------------------------------------------------

    def inputs(self, model_id: str) -> dict | None:
        roll = self.rng.random()
        if roll < 0.2:
            return None
        if self.catalog.get(model_id) is None:
            return {"prompt": self.rng.choice(("a cat", "a dog"))}
        inputs: dict[str, Any] = {"duration": self.rng.randint(1, 20)}
        if roll < 0.5:
            inputs = {"prompt": "x", **inputs}  # keys in another order than most
        return inputs

    def _charge_catalog(self) -> dict:
        key = self.key()
        model_id = self.rng.choice(list(self.catalog)) if self.rng.random() < 0.95 else "catalog/not-there"
        charge: dict[str, Any] = {"prediction_uuid": self.uuid(), "access_key_id": key.access_key_id, "model_uuid": model_id}
        inputs = self.inputs(model_id)
        if inputs is not None:
            charge["inputs"] = inputs
        roll = self.rng.random()
        if roll < 0.05:  # before the model's first version: no price to be had
            charge["created_at"] = BASE_MS - 2 * DAY_MS
        elif roll < 0.5:
            charge["created_at"] = self.created_at()
        self.hold(charge)
        return {"kind": "charge", "charge": charge, "body": self.body(charge)}

    def _catalog_replayed(self) -> dict | None:
        priced = [p for p in self.model.predictions.values() if p.catalog]
        if not priced:
            return None
        p = self.rng.choice(priced)
        charge: dict[str, Any] = {"prediction_uuid": p.uuid, "access_key_id": p.access_key_id, "model_uuid": p.model_uuid}
        if p.inputs is not None:
            charge["inputs"] = dict(reversed(list(p.inputs.items())))  # the same object, keys reordered
        if p.created_at is not None and self.rng.random() < 0.5:
            charge["created_at"] = p.created_at
        if self.rng.random() < 0.3:
            charge["hold_timeout_s"] = p.hold_s
        return charge

    def _catalog_retry(self) -> dict | None:
        charge = self._catalog_replayed()
        return None if charge is None else {"kind": "charge", "charge": charge, "body": self.body(charge)}

    def _catalog_conflict(self) -> dict | None:
        charge = self._catalog_replayed()
        if charge is None:
            return None
        what = self.rng.choice(("inputs", "price", "model_uuid"))
        if what == "inputs":
            charge["inputs"] = {"duration": (charge.get("inputs") or {}).get("duration", 0) + 1}
        elif what == "price":
            charge["price"] = 40_000
        else:
            charge["model_uuid"] = next(m for m in self.catalog if m != charge["model_uuid"])
        return {"kind": "charge", "charge": charge, "body": self.body(charge)}

    def _version(self) -> dict:
        model_id = self.rng.choice(list(self.catalog))
        base_price = self.rng.choice(BASE_PRICES)
        effective_from = None  # from now on
        if self.rng.random() < 0.5:  # back-dated among the back-filled charges' days
            effective_from = BASE_MS + self.rng.randrange(4) * DAY_MS + self.rng.randrange(DAY_MS)
        return self.version(model_id, base_price, effective_from)

    def version(self, model_id: str, base_price: int, effective_from: int | None) -> dict:
        formula = self.catalog[model_id]
        body: dict[str, Any] = {"name": model_id, "base_price": wire_usd(self.rng, base_price), "formula": formula}
        if effective_from is not None:
            body["effective_from"] = effective_from
        return {"kind": "version", "model_id": model_id, "base_price": base_price, "formula": formula,
                "effective_from": effective_from, "body": body}

    def _discount(self) -> dict:
        account_id = self.account_id()
        model_id = self.rng.choice([None, *self.catalog])
        rate = self.rng.choice(RATES)
        return {"kind": "discount", "account_id": account_id, "model_id": model_id,
                "rate_bp": int(Decimal(str(rate)) * 100), "body": {"model_id": model_id, "rate_percent": rate}}

    def _status(self) -> dict | None:
        p = self.prediction()
        if p is None:
            return None
        status = self.rng.choice(STATUSES)
        body: dict[str, Any] = {"status": status}
        if self.rng.random() < 0.3:
            body["at"] = BASE_MS + self.rng.randrange(5) * DAY_MS
        return {"kind": "status", "uuid": p.uuid, "status": status, "body": body}

    def _sweep(self) -> dict:
        return {"kind": "sweep"}

    def _late_status(self) -> dict | None:
        """A platform reporting after a hold ended: before a sweep the prediction still settles
        (``completed``), after it the sweep's ``timeout`` stands."""
        ended = [
            p for p in self.model.predictions.values()
            if p.swept or (p.status in ("created", "processing") and p.hold_until < self.start)
        ]
        if not ended:
            return None
        p = self.rng.choice(ended)
        status = self.rng.choice(("completed", "processing"))
        return {"kind": "status", "uuid": p.uuid, "status": status, "body": {"status": status}}

    def _status_invalid(self) -> dict:
        p = self.prediction()
        uuid = p.uuid if p is not None else self.uuid()
        status = self.rng.choice(("done", "COMPLETED", "", "refunded"))
        return {"kind": "status", "uuid": uuid, "status": status, "body": {"status": status}}

    def _recharge(self) -> dict:
        amount = self.rng.choice((1_000_000, 5_000_000, 50_000_000, 250_000))
        if self.rng.random() < 0.1:
            amount = self.rng.choice((0, -1_000_000))
        reference = self.rng.choice((f"pay_{self.uuid()[:12]}", "opening-balance"))
        return self._funds("recharge", self.account_id(), amount, reference, None)

    def _funds(self, kind: str, account_id: int, amount: int, reference: str, reason: str | None) -> dict:
        body: dict[str, Any] = {"amount": wire_usd(self.rng, amount), "reference": reference}
        if reason is not None:
            body["reason"] = reason
        return {
            "kind": kind, "account_id": account_id, "amount": amount, "reference": reference,
            "reason": reason, "body": body,
        }

    def _seen_reference(self, kind: str) -> tuple[int, str, int, str | None] | None:
        seen = [
            (a.id, ref, delta, reason)
            for a in self.model.accounts.values()
            for (k, ref), (delta, reason) in a.references.items()
            if k == kind
        ]
        return self.rng.choice(seen) if seen else None

    def _recharge_retry(self) -> dict | None:
        seen = self._seen_reference("recharge")
        if seen is None:
            return None
        account_id, reference, amount, _ = seen
        if self.rng.random() < 0.3:
            amount += 1  # same reference, different amount: 409
        padded = f"  {reference} " if self.rng.random() < 0.2 else reference
        return self._funds("recharge", account_id, amount, padded, None)

    def _adjust(self) -> dict:
        amount = self.rng.choice((1, -1)) * self.rng.choice((100_000, 2_000_000, 30_000_000))
        if self.rng.random() < 0.1:
            amount = 0
        reason = self.rng.choice(("chargeback", "goodwill credit", "outage refund", " "))
        return self._funds("adjust", self.account_id(), amount, f"adj_{self.uuid()[:10]}", reason)

    def _adjust_retry(self) -> dict | None:
        seen = self._seen_reference("adjust")
        if seen is None:
            return None
        account_id, reference, amount, reason = seen
        if self.rng.random() < 0.3:
            reason = "another reason"
        return self._funds("adjust", account_id, amount, reference, reason)

    def _limits(self) -> dict:
        """The operator's or the customer's whole set of limits on a key or on an account."""
        key = self.key()
        subject = key.access_key_id if self.rng.random() < 0.6 else ""
        setter = self.rng.choice(("operator", "customer"))
        values = {p: self.rng.choice(LIMITS) for p in ("daily", "monthly", "total")}
        body = {p: None if v is None else wire_usd(self.rng, v) for p, v in values.items() if v is not None or self.rng.random() < 0.5}
        return {"kind": "limits", "account_id": key.account_id, "subject": subject, "setter": setter,
                "values": values, "body": body}

    def _revoke(self) -> dict:
        return {"kind": "revoke", "access_key_id": self.key().access_key_id}

    def _new_key(self) -> dict:
        return {"kind": "new_key", "account_id": self.account_id()}

    def _balance(self) -> dict:
        return {"kind": "balance", "key": self.key(charging=False).access_key_id}

    def _unknown(self) -> dict:
        """Things that do not exist: 404 on the internal routes."""
        what = self.rng.choice(("key", "account", "prediction", "revoke"))
        if what == "key":
            charge = self.new_charge() | {"access_key_id": f"999999_{self.rng.randrange(10**18, 10**19)}"}
            return {"kind": "charge", "charge": charge, "body": self.body(charge)}
        if what == "account":
            return self._funds("recharge", 999_999_999, 1_000_000, "pay_nowhere", None)
        if what == "prediction":
            return {"kind": "status", "uuid": self.uuid(), "status": "completed", "body": {"status": "completed"}}
        return {"kind": "revoke", "access_key_id": "999999_1"}
