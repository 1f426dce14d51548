"""The HTTP edge: routes, request/response schemas, error rendering. Calls ``billbook.ledger`` only."""
