"""Where a webhook may be sent: http or https URLs whose host resolves to public addresses only.

A customer chooses the URL and the server makes the request, so without this check a customer could
make billbook call its own network (a metadata service on 169.254.169.254, an admin port on
localhost, a database on 10.x). The host is resolved and every address it resolves to must be
global; the check runs when an endpoint is created and again before every delivery, because what a
name resolves to can change. ``BILLBOOK_WEBHOOK_ALLOW_PRIVATE=true`` lifts it (a receiver on the
same private network, the tests' receiver on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from billbook.ledger.errors import InvalidRequest

MAX_URL_LENGTH = 2048


class UnsafeTarget(InvalidRequest):
    """A webhook URL that is malformed, or whose host is not (only) on the public internet."""


def check_shape(url: object) -> str:
    """The URL, stripped, if it is an absolute http(s) URL with a host and no credentials."""
    if not isinstance(url, str) or not url.strip():
        raise UnsafeTarget("url must be an http:// or https:// URL")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget(f"url must be at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise UnsafeTarget("url is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeTarget("url must start with http:// or https://")
    if not parts.hostname:
        raise UnsafeTarget("url must name a host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("url must not carry a user name or password")
    if any(ord(c) < 33 for c in url):
        raise UnsafeTarget("url must not contain spaces or control characters")
    return url


def _not_global(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def check_target(url: str, *, allow_private: bool) -> None:
    """Raise ``UnsafeTarget`` unless ``url``'s host resolves, and only to global addresses (any
    address at all with ``allow_private``)."""
    parts = urlsplit(check_shape(url))
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeTarget(f"url's host {host!r} does not resolve") from None
    if allow_private:
        return
    for *_, sockaddr in found:
        if _not_global(str(sockaddr[0])):
            raise UnsafeTarget(
                f"url's host {host!r} resolves to {sockaddr[0]}, a private, loopback, link-local or reserved"
                " address: webhooks are only sent to public addresses"
            )
