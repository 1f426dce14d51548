"""Webhook signing secrets: made, kept encrypted, and used to sign as Standard Webhooks says.

A signing secret must be usable to sign every delivery, so unlike an API key it cannot be kept as a
hash: it is encrypted with Fernet (``cryptography``; AES-128-CBC with HMAC-SHA256, authenticated)
under the server's webhook key. Signing is the ``standardwebhooks`` library's own ``sign``, the
same code receivers verify with. See docs/decisions/0023-webhook-delivery.md.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.ext.asyncio import AsyncConnection
from standardwebhooks import Webhook

from billbook.store import webhooks as webhook_store
from billbook.times import now_ms

SECRET_PREFIX = "whsec_"
#: Random bytes in a signing secret (Standard Webhooks asks for 24 to 64).
SECRET_BYTES = 32
#: Name of the webhook key kept in the database where none is configured.
STORED_KEY = "secrets"

log = logging.getLogger("billbook.webhooks")


def check_keys(text: str, variable: str) -> None:
    """Raise ValueError naming ``variable`` unless ``text`` is comma-separated Fernet keys."""
    try:
        _fernet(text)
    except ValueError:
        raise ValueError(
            f"{variable} must be one or more comma-separated Fernet keys (32 url-safe base64 bytes,"
            " as `billbook webhooks new-key` prints)"
        ) from None


def _fernet(text: str) -> MultiFernet:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    if not keys:
        raise ValueError("no key")
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except (ValueError, TypeError) as exc:
        raise ValueError(str(exc)) from None


def new_key() -> str:
    """A fresh webhook key for ``BILLBOOK_WEBHOOK_SECRET_KEY``."""
    return Fernet.generate_key().decode()


def new_signing_secret() -> str:
    """``whsec_`` and the base64 of fresh random bytes: what receivers give ``standardwebhooks``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


class SecretBox:
    """Encrypts and decrypts signing secrets with the server's webhook key(s)."""

    def __init__(self, keys: str) -> None:
        self._fernet = _fernet(keys)

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise RuntimeError(
                "a webhook secret cannot be decrypted: BILLBOOK_WEBHOOK_SECRET_KEY does not hold the key it was"
                " encrypted with"
            ) from None


async def secret_box(conn: AsyncConnection, configured: str | None) -> SecretBox:
    """The configured key, else the one kept in the database (made now, once, if there is none)."""
    if configured:
        return SecretBox(configured)
    stored = await webhook_store.get_key(conn, STORED_KEY)
    if stored is None:
        await webhook_store.put_key_if_absent(conn, STORED_KEY, new_key(), now_ms())
        stored = await webhook_store.get_key(conn, STORED_KEY)
        log.warning(
            "BILLBOOK_WEBHOOK_SECRET_KEY is not set: webhook secrets are encrypted with a key kept in the"
            " database itself; set it to keep them safe from a copy of the database"
        )
    assert stored is not None
    return SecretBox(stored)


def signature(signing_secrets: Sequence[str], msg_id: str, timestamp_s: int, body: str) -> str:
    """The ``webhook-signature`` header: ``v1,<base64>`` per secret, space-separated (during a
    rotation's overlap both the new and the previous secret sign)."""
    at = datetime.fromtimestamp(timestamp_s, tz=UTC)
    return " ".join(Webhook(s).sign(msg_id, at, body) for s in signing_secrets)
