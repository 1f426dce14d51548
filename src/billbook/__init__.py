"""billbook: a self-hosted billing ledger for pay-per-use AI APIs.

Layers, outermost first: ``api`` and ``cli`` (edges) call ``ledger`` (the domain), which calls
``store`` (tables, queries, migrations). ``client`` is the customer SDK and needs none of them.
"""

__version__ = "0.1.0"
