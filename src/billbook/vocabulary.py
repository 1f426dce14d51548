"""The ledger's words, named once: what a record, a prediction, an order and a batch item can be.

Each is a ``StrEnum``, so a member *is* its string: it is stored in its column, sent on the wire and
compared with a value read back from the database as it is. ``store/`` writes and filters these
values and ``ledger/`` decides with them, so they live here, beside ``money`` and ``times``, where
both can import them without ``store/`` importing ``ledger/``.
"""

from __future__ import annotations

from enum import StrEnum


class BillingType(StrEnum):
    """What a billing record did to the balance. ``price`` is always positive; ``delta`` (the wire's
    ``amount``) carries the sign."""

    DEDUCT = "deduct"
    """A prediction's price held at submit: the balance goes down by ``price``."""
    REFUND = "refund"
    """A failed, cancelled or timed-out prediction's price given back, once per order."""
    RECHARGE = "recharge"
    """Money paid in (a top-up, or an account's opening balance); idempotent on ``reference``."""
    ADJUST = "adjust"
    """An operator's correction of either sign, with a reason; idempotent on ``reference``."""

    @property
    def sign(self) -> str:
        """``-``, ``+`` or ``±``: the sign of this type's ``delta``."""
        return _SIGNS[self]

    @property
    def has_order(self) -> bool:
        """Whether records of this type belong to an order (and so to a prediction and a key)."""
        return self in (BillingType.DEDUCT, BillingType.REFUND)


_SIGNS = {BillingType.DEDUCT: "-", BillingType.REFUND: "+", BillingType.RECHARGE: "+", BillingType.ADJUST: "±"}


class PredictionStatus(StrEnum):
    """Where a charged prediction is in its lifecycle, as the platform reports it."""

    CREATED = "created"
    """Charged and submitted; nothing reported yet."""
    PROCESSING = "processing"
    """Running."""
    COMPLETED = "completed"
    """Finished with a result: the charge stands (its order is ``done``)."""
    FAILED = "failed"
    """Finished without a result: refunded."""
    CANCELLED = "cancelled"
    """Stopped by the caller before it finished: refunded."""
    TIMEOUT = "timeout"
    """Gave up waiting: refunded."""

    @property
    def is_final(self) -> bool:
        """No status follows a final one."""
        return self not in (PredictionStatus.CREATED, PredictionStatus.PROCESSING)

    @property
    def refunds(self) -> bool:
        """Reaching this status gives the price back."""
        return self.is_final and self is not PredictionStatus.COMPLETED


class OrderState(StrEnum):
    """What became of the money a prediction's charge holds."""

    PRE = "pre"
    """Held: the prediction has not finished."""
    DONE = "done"
    """Kept: the prediction completed."""
    REFUNDED = "refunded"
    """Given back by a ``refund`` record."""


class BatchOutcome(StrEnum):
    """What happened to one charge of a batch."""

    CREATED = "created"
    """Charged now."""
    DUPLICATE = "duplicate"
    """Already charged (earlier, or earlier in the same batch): the first charge's record."""
    INSUFFICIENT = "insufficient"
    """Refused: the balance did not cover the price. Nothing was written."""
    INVALID = "invalid"
    """Refused: a bad field, an unknown or revoked key, or a retry that disagrees with the first."""
    LIMITED = "limited"
    """Refused (403): the charge would take a key's or account's spend past a limit. Nothing was
    written."""


class LimitPeriod(StrEnum):
    """The window a spend limit counts over. Windows are UTC calendar ones, and a charge counts in
    the window of its ``created_at`` (its refund too), so a back-dated charge spends yesterday's."""

    DAILY = "daily"
    """The UTC day of the charge."""
    MONTHLY = "monthly"
    """The UTC calendar month of the charge."""
    TOTAL = "total"
    """Every charge ever made."""


class LimitSetter(StrEnum):
    """Who set a limit: each keeps their own set on a key or account, and the lower one applies."""

    OPERATOR = "operator"
    """The platform, through ``/internal/v1``."""
    CUSTOMER = "customer"
    """The account's owner, through ``/api/v3``."""


class EventType(StrEnum):
    """What happened, as an event in the outbox and as a webhook's ``type``.

    Every event is written in the transaction of the ledger change that caused it, so an event
    exists exactly when its change does (see docs/decisions/0021-event-outbox.md)."""

    BALANCE_LOW = "balance.low"
    """The balance went below one of the account's low-balance thresholds."""
    BALANCE_DEPLETED = "balance.depleted"
    """The balance reached zero or less."""
    LIMIT_WARNING = "limit.warning"
    """A key's or account's spend in a window reached 80% of a limit."""
    LIMIT_REACHED = "limit.reached"
    """A key's or account's spend in a window reached its limit: further charges are refused."""
    RECHARGE_CREATED = "recharge.created"
    """Money was paid in."""
    ADJUSTMENT_CREATED = "adjustment.created"
    """An operator corrected the balance."""
    HOLD_EXPIRED = "hold.expired"
    """A prediction's hold expired: billbook moved it to ``timeout`` and refunded its price."""
    WEBHOOK_DISABLED = "webhook.disabled"
    """A webhook endpoint failed for too long and was disabled (sent to the operator's endpoints)."""


class DeliveryState(StrEnum):
    """Where one event's delivery to one webhook endpoint stands."""

    PENDING = "pending"
    """Not yet acknowledged: the dispatcher sends it when ``next_attempt_at`` comes."""
    DELIVERED = "delivered"
    """The endpoint answered 2xx."""
    FAILED = "failed"
    """Given up: the endpoint failed for the whole retry window (it is disabled), or it was deleted
    or disabled before this was sent. A resend makes it ``pending`` again."""


class AdminRole(StrEnum):
    """What an admin token may do on the internal routes."""

    READ = "read"
    """Sees everything, moves nothing: every internal write is refused with 403."""
    WRITE = "write"
    """Reads and writes; ``BILLBOOK_ADMIN_TOKEN`` is a ``write`` token named ``default``."""


class AuditAction(StrEnum):
    """What an audit row records; the route and the target say where and on what."""

    STARTED = "audit.started"
    """The log's first row: the last record and key that existed before it (``verify``'s start)."""
    ACCOUNT_CREATE = "account.create"
    KEY_CREATE = "key.create"
    KEY_REVOKE = "key.revoke"
    RECHARGE = "recharge"
    ADJUST = "adjust"
    CHARGE = "charge"
    """One charge, or one batch as counts per outcome (never one row per charge of a batch)."""
    CHARGE_BATCH = "charge.batch"
    STATUS = "status"
    PRICE = "price"
    DISCOUNT = "discount"
    LIMITS = "limits"
    WEBHOOK = "webhook"
    TOKEN_CREATE = "token.create"
    TOKEN_REVOKE = "token.revoke"
    DENIED = "denied"
    """A write refused to a ``read`` token (403), before its body was read."""
