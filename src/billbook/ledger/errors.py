"""The domain's exceptions. Each carries the HTTP status the contract gives it, so the API renders
every one of them through a single handler and the CLI can print ``message`` as it is.

A subclass names its status once, in its class line: ``class NotFound(BillbookError, status=404)``.
Errors that exist only at the HTTP edge (413, 429) live in ``billbook.api.errors``, which draws the
whole tree.
"""

from __future__ import annotations

from typing import Any


class BillbookError(Exception):
    """A failure of the server itself (500); the subclasses are refusals."""

    status = 500

    def __init__(self, message: str = "internal server error") -> None:
        super().__init__(message)
        self.message = message

    def __init_subclass__(cls, *, status: int | None = None, **kwargs: Any) -> None:
        """``status``: the subclass's HTTP status; left out, it keeps its parent's."""
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status


class InvalidRequest(BillbookError, status=400):
    """A bad field value; the message names the field."""


class Unauthorized(BillbookError, status=401):
    """Missing, malformed, unknown or revoked credentials."""


class InsufficientBalance(BillbookError, status=402):
    """A charge larger than the balance."""


class SpendLimitExceeded(BillbookError, status=403):
    """A charge that would take a key's or account's spend in a window past a limit. Carries the
    limit it hit, so the message (and a client) can name it and what is left."""

    def __init__(
        self, message: str, *, scope: str = "", period: str = "", limit: int = 0, remaining: int = 0
    ) -> None:
        super().__init__(message)
        self.scope, self.period, self.limit, self.remaining = scope, period, limit, remaining


class NotFound(BillbookError, status=404):
    """An unknown account, key, prediction or path."""


class Conflict(BillbookError, status=409):
    """An idempotency key reused with another payload, or an illegal status transition."""


class ReadOnlyToken(BillbookError, status=403):
    """A write asked with a ``read`` admin token."""


class Archived(BillbookError, status=410):
    """Records of a month that was archived to Parquet (``billbook archive``): the message names the
    month and the file, and the rollups (usage, daily counts) of that month still answer."""
