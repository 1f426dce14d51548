"""``/metrics`` on a port of its own (``BILLBOOK_METRICS_PORT``), for a monitoring network only.

A few lines of HTTP/1.0 on ``asyncio.start_server``: Prometheus sends one ``GET /metrics`` and
reads until the connection closes, so a full HTTP stack would buy nothing. Every worker binds the
port with ``SO_REUSEPORT``; with ``PROMETHEUS_MULTIPROC_DIR`` set any of them answers for all.
The metrics token, when set, is required here too.
"""

from __future__ import annotations

import asyncio
import hmac
import logging

from billbook.api.metrics import CONTENT_TYPE_LATEST, exposition

log = logging.getLogger("billbook.metrics")

#: A request line and its headers must arrive within this and fit in this many bytes.
_READ_TIMEOUT_S = 5.0
_MAX_HEAD = 16_384


def _response(status: str, body: bytes, content_type: str = "text/plain; charset=utf-8") -> bytes:
    head = f"HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    return head.encode("ascii") + body


def answer(head: bytes, token: str | None) -> bytes:
    """The response to one request's head (request line and headers)."""
    lines = head.decode("latin-1").split("\r\n")
    method, _, rest = lines[0].partition(" ")
    path = rest.partition(" ")[0].partition("?")[0]
    if method not in ("GET", "HEAD") or path != "/metrics":
        return _response("404 Not Found", b"not found\n")
    if token:
        presented = next((v.strip() for k, _, v in (h.partition(":") for h in lines[1:]) if k.lower() == "authorization"), "")
        if not hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
            return _response("401 Unauthorized", b"GET /metrics needs 'Authorization: Bearer <metrics token>'\n")
    body = exposition()
    return _response("200 OK", b"" if method == "HEAD" else body, CONTENT_TYPE_LATEST)


async def serve(host: str, port: int, token: str | None) -> asyncio.Server:
    """Start answering on ``host:port``; the caller closes the returned server."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT_S)
            writer.write(answer(head[:_MAX_HEAD], token))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port, reuse_port=True, limit=_MAX_HEAD)
    log.info("metrics on http://%s:%d/metrics", host, port)
    return server
