"""The domain: accounts, keys, charges, refunds, recharges, adjustments, search and usage.

No HTTP here and no SQL: every function takes the caller's open transaction (an ``AsyncConnection``)
and calls ``billbook.store``. Functions never commit; the edge that opened the transaction does.
"""
