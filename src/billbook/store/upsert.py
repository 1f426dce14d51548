"""Dialect-specific spellings the two databases share an idea of."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, Table, any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def insert_for(conn: AsyncConnection, table: Table) -> Any:
    """The dialect's ``insert`` construct, which has ``on_conflict_do_*``."""
    module = sqlite if conn.dialect.name == "sqlite" else postgresql
    return module.insert(table)


def one_of(conn: AsyncConnection, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN (…)``. On PostgreSQL, ``column = ANY(:array)``: one parameter, one cached plan,
    however many values (a 1,000-charge batch would otherwise render 1,000 placeholders)."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(list(values))
