"""A real webhook receiver for the tests: a threaded HTTP server on 127.0.0.1 that records every
request it gets (path, headers, body) and answers what its ``policy`` says (200 unless told).

``policy(path, webhook_id, times_seen)`` returns the status for this request; ``times_seen`` counts
earlier requests with the same ``webhook-id`` to the same path, so a test can fail the first
attempts of every event and accept the next.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Policy = Callable[[str, str, int], int]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


class Receiver:
    def __init__(self, policy: Policy | None = None) -> None:
        self.policy: Policy = policy or (lambda path, webhook_id, seen: 200)
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._lock:
                    webhook_id = headers.get("webhook-id", "")
                    seen = sum(1 for r in receiver.received if r.path == self.path and r.headers.get("webhook-id") == webhook_id)
                    status = receiver.policy(self.path, webhook_id, seen)
                    receiver.received.append(Received(self.path, headers, body, status))
                self.send_response(status)
                self.send_header("content-type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"not now")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def accepted(self, path: str | None = None) -> list[Received]:
        """Requests answered 2xx (to ``path``, if given)."""
        with self._lock:
            return [r for r in self.received if r.status < 300 and (path is None or r.path == path)]

    def all(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
        """Poll ``condition`` until it holds; fails the test after ``timeout_s`` (a bound, not a
        timed assertion: nothing is measured)."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"webhook receiver: condition not met in {timeout_s} s; got {len(self.all())} requests")
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
