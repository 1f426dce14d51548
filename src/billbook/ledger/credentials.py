"""API keys and the admin token: generated with ``secrets``, stored as salted SHA-256, compared in
constant time.

An api_key is ``bb_<lookup>_<secret>``: the 16-hex ``lookup`` finds the row without revealing
anything, the 256-bit ``secret`` is what is hashed. A fast hash is right for random 256-bit secrets
(there is nothing to brute-force); the per-key salt keeps equal secrets from hashing alike.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "bb_"
LOOKUP_LEN = 16


@dataclass(frozen=True)
class NewSecret:
    plaintext: str
    lookup: str
    salt: str
    secret_hash: str


def hash_secret(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


def matches(salt: str, stored_hash: str, secret: str) -> bool:
    return hmac.compare_digest(hash_secret(salt, secret), stored_hash)


def new_api_key() -> NewSecret:
    lookup = secrets.token_hex(LOOKUP_LEN // 2)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    return NewSecret(f"{PREFIX}{lookup}_{secret}", lookup, salt, hash_secret(salt, secret))


def split_api_key(api_key: str) -> tuple[str, str] | None:
    """``(lookup, secret)`` of a well-formed key, else ``None``."""
    if not api_key.startswith(PREFIX) or len(api_key) < len(PREFIX) + LOOKUP_LEN + 2:
        return None
    lookup, sep, secret = api_key[len(PREFIX) :].partition("_")
    if len(lookup) != LOOKUP_LEN or not sep or not secret:
        return None
    return lookup, secret


def new_access_key_id(account_id: int) -> str:
    """``77730_1776946986692727375``: the account id, ``_``, 19 random digits."""
    return f"{account_id}_{secrets.randbelow(9 * 10**18) + 10**18}"


def new_admin_token() -> NewSecret:
    token = "bbadmin_" + secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    return NewSecret(token, "", salt, hash_secret(salt, token))
