"""Every failure rendered once, here, as the contract's envelope with ``code`` == HTTP status.

The domain's errors (``billbook.ledger.errors``) carry their statuses; the two below exist only
at the HTTP edge. The whole tree, as rendered by ``_billbook_error``:

    BillbookError (500)
     ├── InvalidRequest (400) ........ bad field, header or value; the message names it
     ├── Unauthorized (401) .......... missing, malformed, unknown or revoked credentials
     ├── InsufficientBalance (402) ... a charge larger than the balance
     ├── SpendLimitExceeded (403) .... a charge past a key's or account's spend limit
     ├── ReadOnlyToken (403) ......... a write asked with a ``read`` admin token
     ├── NotFound (404) .............. unknown account, key, prediction or path
     ├── Conflict (409) .............. idempotency key reused with another payload,
     │                                 or an illegal status transition
     ├── Archived (410) .............. records of a month archived to Parquet (search, back-dated
     │                                 writes, retries of archived charges); names the month
     ├── PayloadTooLarge (413) ....... here: a body over ``BILLBOOK_MAX_BODY_BYTES``
     └── RateLimited (429) ........... here: carries ``retry_after`` in seconds

FastAPI's own validation errors become 400 with one sentence naming the field (``describe``);
anything else is a 500 whose message shows no internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from billbook.api.envelope import failure
from billbook.ledger.errors import BillbookError

log = logging.getLogger("billbook.api")

class PayloadTooLarge(BillbookError, status=413):
    """A request body over ``BILLBOOK_MAX_BODY_BYTES``."""


class RateLimited(BillbookError, status=429):
    """Too many requests for one key; carries ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


_HTTP_MESSAGES = {
    404: "not found",
    405: "method not allowed",
    413: "request body too large",
}


_UNION_TAGS = ("str", "list[", "function-", "constrained-")


def _is_tag(part: str) -> bool:
    return part == "str" or part.startswith(_UNION_TAGS[1:])


def _field(loc: tuple[Any, ...]) -> str:
    # pydantic puts the union member's type in the location ("str", "list[str]"): not a field name.
    parts = [str(p) for p in loc if p != "body" and not _is_tag(str(p))]
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text


def describe(errors: list[dict[str, Any]]) -> str:
    """One sentence for the first problem, naming the field: ``page_size must be between 1 and 100``."""
    error = errors[0]
    kind, loc, msg = error.get("type", ""), tuple(error.get("loc", ())), error.get("msg", "")
    field = _field(loc)
    if kind == "json_invalid":
        return "request body is not valid JSON"
    if not field:
        if kind in ("model_attributes_type", "dict_type", "model_type"):
            return "request body must be a JSON object"
        if kind == "missing":
            return "request body is required: send a JSON object"
        return msg.removeprefix("Value error, ")
    if any(_is_tag(str(p)) for p in loc) and kind in ("string_type", "list_type"):
        return f"{field.split('[')[0]} must be a string or an array of strings"
    if kind == "string_type":
        return f"{field} must be a string"
    if kind == "list_type":
        return f"{field} must be an array"
    if kind == "missing":
        return f"{field} is required"
    if kind == "value_error":
        text = str(error.get("ctx", {}).get("error", msg.removeprefix("Value error, ")))
        return text if text.startswith(field.split(".")[0]) else f"{field} {text}"
    if msg.startswith("Input should be"):
        return f"{field} must be{msg.removeprefix('Input should be')}"
    if msg.startswith(("String should have", "List should have")):
        return f"{field} must have{msg.split('have', 1)[1]}".replace(" after validation", "")
    return f"{field}: {msg}"


async def _billbook_error(_request: Request, exc: Exception) -> Any:
    assert isinstance(exc, BillbookError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return failure(exc.status, exc.message, headers)


async def _validation_error(_request: Request, exc: Exception) -> Any:
    assert isinstance(exc, RequestValidationError | ValidationError)
    return failure(400, describe(list(exc.errors())))


async def _http_error(_request: Request, exc: Exception) -> Any:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400:
        return failure(400, "request body is not valid JSON")
    message = _HTTP_MESSAGES.get(exc.status_code, str(exc.detail).lower())
    return failure(exc.status_code, message, dict(exc.headers) if exc.headers else None)


async def _unexpected(request: Request, exc: Exception) -> Any:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return failure(500, "internal server error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(BillbookError, _billbook_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
