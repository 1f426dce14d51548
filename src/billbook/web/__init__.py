"""The billing dashboard: static files served at ``/`` (index.html) and ``/static/``.

Plain HTML, CSS and ES modules with no build step; the page talks only to the public API. One module
per view (sign-in, balance, spend, records, record details, CSV download), wired by ``app.js``; see
docs/decisions/0009-web-views.md.
"""

from __future__ import annotations

from pathlib import Path

#: Directory mounted at ``/static/``; ``index.html`` in it is the page served at ``/``.
STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX_HTML = STATIC_DIR / "index.html"

__all__ = ["INDEX_HTML", "STATIC_DIR"]
