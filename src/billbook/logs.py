"""JSON log lines, a request id on every line logged while serving a request, and no secrets.

One JSON object per line (``time``, ``level``, ``logger``, ``message``, ``request_id`` and, on access
lines, ``method``, ``path``, ``status``, ``duration_ms``) is what log shippers parse without a
pattern. Secrets are kept out in two ways: nothing logs headers or bodies, and every line is passed
through :func:`redact` before it is written, so an API key, the admin token, a bearer credential or
a database password that reaches a message anyway (an exception's text, say) is replaced.
"""

from __future__ import annotations

import logging
import re
import time
from contextvars import ContextVar
from typing import Any

import orjson

#: The id of the request being served; set by the API's middleware, read by the formatter.
request_id: ContextVar[str | None] = ContextVar("billbook_request_id", default=None)

#: Fields of an access line, copied from the record's ``extra``.
ACCESS_FIELDS = ("method", "path", "status", "duration_ms")

_PATTERNS = re.compile(
    r"(?P<key>bb_)[0-9a-f]{16}_[A-Za-z0-9_\-]+"  # an API key (bb_<lookup>_<secret>)
    r"|(?P<admin>bbadmin_)[A-Za-z0-9_\-]+"  # a generated admin token
    r"|(?P<bearer>[Bb][Ee][Aa][Rr][Ee][Rr]\s+)[^\s\"',;]+"  # any bearer credential
    r"|(?P<url>\b[a-z][a-z0-9+.\-]*://[^\s:/@\"']+:)[^\s@/\"']+(?=@)"  # a password in a URL
)
_literals: set[str] = set()
_literal_forms: list[str] = []  # each secret as written and as escaped inside a JSON string
_literal_pattern: re.Pattern[str] | None = None


def _replace(match: re.Match[str]) -> str:
    prefix = match.group("key") or match.group("admin") or match.group("bearer") or match.group("url") or ""
    return f"{prefix}[redacted]"


def add_secret(secret: str | None) -> None:
    """Redact this exact string too (a configured admin token has no recognisable shape)."""
    global _literal_pattern
    if not secret or len(secret) < 6 or secret in _literals:
        return
    _literals.add(secret)
    escaped = orjson.dumps(secret).decode()[1:-1]  # as it appears inside a JSON line
    _literal_forms.extend({secret, escaped})
    forms = sorted({re.escape(secret), re.escape(escaped)}, key=len, reverse=True)
    alternatives = "|".join(forms) if _literal_pattern is None else f"{_literal_pattern.pattern}|{'|'.join(forms)}"
    _literal_pattern = re.compile(alternatives)


def redact(text: str) -> str:
    # Substring tests first: most lines hold none of these, and a search for them is much cheaper
    # than running the patterns (this is on the path of every access line).
    low = text.lower()
    if "bb_" in low or "bearer" in low or "://" in low or "bbadmin_" in low:
        text = _PATTERNS.sub(_replace, text)
    if _literal_pattern is not None and any(form in text for form in _literal_forms):
        text = _literal_pattern.sub("[redacted]", text)
    return text


class JSONFormatter(logging.Formatter):
    """One JSON object per line, redacted. Formats an access line in a few microseconds: the
    date and time up to the second is formatted once per second, not once per line."""

    _second = -1
    _stamp = ""

    def _time(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._stamp}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id.get(),
        }
        for field in ACCESS_FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return redact(orjson.dumps(entry, default=str).decode())


class TextFormatter(logging.Formatter):
    """The ``text`` format, for a terminal: readable, and redacted the same way."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None) or request_id.get()
        return redact(f"{line} [request_id={rid}]" if rid else line)


def uvicorn_log_config(log_format: str = "json", level: str = "INFO") -> dict[str, Any]:
    """``logging.config`` for ``billbook serve``: uvicorn's and billbook's loggers, one format.

    Access lines go to stdout and everything else to stderr, as uvicorn itself splits them; uvicorn's
    own access log is off (billbook writes its own, with the request id).
    """
    formatter = "billbook.logs.JSONFormatter" if log_format == "json" else "billbook.logs.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": formatter}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"},
            "stdout": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "billbook": {"handlers": ["stderr"], "level": level, "propagate": False},
            "billbook.access": {"handlers": ["stdout"], "level": level, "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }
