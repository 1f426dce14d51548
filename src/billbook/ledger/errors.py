"""The domain's exceptions. Each carries the HTTP status the contract gives it, so the API renders
every one of them through a single handler and the CLI can print ``message`` as it is.

    BillbookError (500)
     ├── InvalidRequest (400) ........ bad field value; the message names the field
     ├── Unauthorized (401) .......... missing, malformed, unknown or revoked credentials
     ├── InsufficientBalance (402) ... a charge larger than the balance
     ├── NotFound (404) .............. unknown account, key, prediction or path
     ├── Conflict (409) .............. idempotency key reused with another payload,
     │                                 or an illegal status transition
     ├── PayloadTooLarge (413)
     └── RateLimited (429) ........... carries ``retry_after`` in seconds
"""

from __future__ import annotations


class BillbookError(Exception):
    status = 500

    def __init__(self, message: str = "internal server error") -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(BillbookError):
    status = 400


class Unauthorized(BillbookError):
    status = 401


class InsufficientBalance(BillbookError):
    status = 402


class NotFound(BillbookError):
    status = 404


class Conflict(BillbookError):
    status = 409


class PayloadTooLarge(BillbookError):
    status = 413


class RateLimited(BillbookError):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
