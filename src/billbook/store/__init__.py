"""Storage: table definitions, every SQL query (one repository module per aggregate), migrations.

Nothing outside this package writes SQL. Functions here take an open ``AsyncConnection`` and
never commit: the transaction belongs to the caller at the edge.
"""
