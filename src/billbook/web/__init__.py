"""The billing dashboard and the operator console: static files served at ``/`` (index.html),
``/admin`` (console.html) and ``/static/``.

Plain HTML, CSS and ES modules with no build step; the dashboard talks only to the public API,
the console only to the internal one. One module
per view (sign-in, balance, spend, records, record details, CSV download), wired by ``app.js``; see
docs/decisions/0009-web-views.md. The console reuses those views through a client scoped to one
account; see docs/decisions/0025-operator-console.md.
"""

from __future__ import annotations

from pathlib import Path

#: Directory mounted at ``/static/``; ``index.html`` in it is the page served at ``/``.
STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX_HTML = STATIC_DIR / "index.html"
#: The operator console, served at ``/admin``.
CONSOLE_HTML = STATIC_DIR / "console.html"

__all__ = ["CONSOLE_HTML", "INDEX_HTML", "STATIC_DIR"]
