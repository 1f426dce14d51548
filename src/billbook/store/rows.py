"""What the queries of ``store/`` hand back: one frozen dataclass (or named tuple) per shape of row.

Names say what a field holds: ``ak_id`` is an access key's integer id (the wire's ``ak_id``) and
``access_key_id`` its public string id, ``prediction_id``/``order_id`` are integer ids and
``*_uuid`` the public ones. Money is integer micro-dollars and times integer epoch milliseconds,
as in the tables. A row is built from a result mapping by keyword (``Row(**mapping)``), one object
per row and nothing more, so the hot paths stay as cheap as the mappings were.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

from billbook.vocabulary import BillingType


@dataclass(frozen=True, slots=True)
class AccountRow:
    id: int
    name: str
    balance: int
    created_at: int


@dataclass(frozen=True, slots=True)
class ListedAccount:
    """An account of the operator's list with its stored 30-day spend (``account_spend``; None
    when the account has no row, which ``verify`` reports)."""

    id: int
    name: str
    balance: int
    created_at: int
    stored_spend: int | None

    def row(self) -> AccountRow:
        return AccountRow(self.id, self.name, self.balance, self.created_at)


@dataclass(frozen=True, slots=True)
class PlatformTotals:
    """Money across every account (micro-dollars): what customers hold, and what open orders hold."""

    accounts: int
    balance: int
    held: int


@dataclass(frozen=True, slots=True)
class KeyRow:
    """An access key, with the salted hash of its secret."""

    ak_id: int
    access_key_id: str
    account_id: int
    name: str
    lookup: str
    salt: str
    secret_hash: str
    created_at: int
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class SecretRow:
    """One of the server's own secrets (the admin token), hashed."""

    name: str
    salt: str
    secret_hash: str
    created_at: int


@dataclass(frozen=True, slots=True)
class PredictionWithOrder:
    """A charged prediction and its order, read together."""

    prediction_id: int
    uuid: str
    account_id: int
    ak_id: int
    model_uuid: str
    model_type: str
    status: str
    created_at: int
    updated_at: int
    hold_until: int
    order_id: int
    order_uuid: str
    order_state: str
    order_price: int
    order_origin_price: int
    #: The catalog version the price came from; None when the charge sent its price.
    order_price_version_id: int | None
    #: The inputs the charge sent, as canonical JSON text; None when none were sent.
    order_inputs: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class NewRecord:
    """A billing record to append. ``price`` is positive, ``delta`` is the signed change to the
    balance and ``balance_after`` the balance right after it in the ledger's write order."""

    uuid: str
    account_id: int
    billing_type: BillingType
    price: int
    delta: int
    balance_after: int
    created_at: int
    ak_id: int | None = None
    access_key_id: str | None = None
    order_id: int | None = None
    prediction_id: int | None = None
    model_uuid: str | None = None
    reference: str | None = None
    reason: str | None = None


NEW_RECORD_COLUMNS = tuple(f.name for f in fields(NewRecord))


@dataclass(frozen=True, slots=True, kw_only=True)
class Record(NewRecord):
    """A stored billing record."""

    id: int
    updated_at: int


class RecordView(NamedTuple):
    """A record joined with its key's name, its order and its prediction, as the wire shows it.

    A named tuple, not a dataclass like the other rows: a search builds one per record of every
    page, and a tuple is made from the driver's row in one step (``dialect.fetch_rows``), where a
    frozen dataclass sets each of its 21 fields in turn."""

    id: int
    uuid: str
    billing_type: str
    price: int
    delta: int
    balance_after: int
    access_key_id: str | None
    created_at: int
    updated_at: int
    #: Whose record it is (the operator's search shows it; the public one does not).
    account_id: int
    access_key_name: str | None
    order_uuid: str | None
    order_state: str | None
    order_price: int | None
    order_origin_price: int | None
    order_ak_id: int | None
    order_updated_at: int | None
    #: The catalog version the order was priced from; None when the charge sent its price.
    order_price_version_id: int | None
    prediction_uuid: str | None
    prediction_model_uuid: str | None
    prediction_status: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageCell:
    """Usage of one UTC day, model and key of an account (the query's): a row of ``usage_daily``."""

    day: int
    model_uuid: str
    access_key_id: str
    model_type: str
    deduct_count: int
    deduct_amount: int
    refund_count: int
    refund_amount: int
    completed_count: int
    last_used_at: int
    last_price: int
    #: Whose usage it is (the operator's statistics over every account sum per account too).
    account_id: int = 0


@dataclass(frozen=True, slots=True)
class DeductWithOutcome:
    """A deduct with its prediction's status and its refund's price, if refunded: what a usage
    cell summarises."""

    created_at: int
    price: int
    model_uuid: str
    access_key_id: str
    model_type: str
    status: str
    refund_price: int | None
    account_id: int = 0


@dataclass(frozen=True, slots=True)
class AdminTokenRow:
    """A named admin token, with the salted hash of its secret."""

    id: int
    name: str
    role: str
    lookup: str
    salt: str
    secret_hash: str
    created_at: int
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit entry; ``summary`` is JSON text."""

    id: int
    at: int
    token_name: str
    action: str
    route: str
    account_id: int | None
    target: str
    ref: str | None
    summary: str
    status: int


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """An account as the operator's list shows it (money in micro-dollars)."""

    id: int
    name: str
    balance: int
    held: int
    spend_30d: int
    keys: int
    created_at: int


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """An access key without its hash: what the operator sees."""

    ak_id: int
    access_key_id: str
    account_id: int
    name: str
    created_at: int
    revoked_at: int | None


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append to the outbox; ``data`` is its JSON object, already rendered as text."""

    uuid: str
    account_id: int | None
    type: str
    data: str
    created_at: int


@dataclass(frozen=True, slots=True)
class Event(NewEvent):
    """A stored event; ``id`` is the order in which events are handed on."""

    id: int


@dataclass(frozen=True, slots=True)
class LimitRow:
    """One setter's limits on a key (``access_key_id``) or on an account (``access_key_id`` ``''``);
    None: no limit in that window."""

    account_id: int
    access_key_id: str
    setter: str
    daily: int | None
    monthly: int | None
    total: int | None


@dataclass(frozen=True, slots=True)
class SpendWindow:
    """Spend of a key (or account, ``access_key_id`` ``''``) in one window, and the highest limit
    alert (0, 80 or 100) sent for it since it last re-armed."""

    account_id: int
    access_key_id: str
    period: str
    start: int
    amount: int
    alerted: int


@dataclass(frozen=True, slots=True)
class WebhookEndpointRow:
    """A webhook endpoint; ``account_id`` is None for an operator's platform-wide endpoint. The
    secrets are encrypted."""

    id: int
    public_id: str
    account_id: int | None
    url: str
    secret_enc: str
    previous_secret_enc: str | None
    previous_secret_until: int | None
    created_at: int
    disabled_at: int | None
    deleted_at: int | None
    events: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AttemptRow:
    """One attempt to send a delivery."""

    id: int
    delivery_id: int
    started_at: int
    status_code: int | None
    latency_ms: int | None
    error: str | None
    response_body: str | None


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One event's delivery to one endpoint, with its event."""

    id: int
    endpoint_id: int
    event_id: int
    state: str
    attempts: int
    next_attempt_at: int
    retry_from: int
    created_at: int
    delivered_at: int | None
    event_uuid: str
    event_type: str
    event_data: str
    event_created_at: int


@dataclass(frozen=True, slots=True)
class MonthlyCell:
    """One ``billing_monthly`` row of an account's month: records of one type (and model, ``""``
    for recharges and adjustments), their number and the sum of their ``delta``."""

    billing_type: BillingType
    model_uuid: str
    count: int
    amount: int


@dataclass(frozen=True, slots=True)
class EdgeRecord:
    """The record at a month's edge: what its stored ``balance_after`` says the balance was."""

    uuid: str
    created_at: int
    balance_after: int
