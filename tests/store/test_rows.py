"""Rows built positionally from a statement's columns: the statement must select them in order."""

from __future__ import annotations

from billbook.store.billing import view_query
from billbook.store.rows import RecordView


def test_the_joined_view_selects_the_fields_of_record_view_in_order() -> None:
    """``dialect.fetch_rows`` makes each ``RecordView`` from a row by position: a column added to
    the view, or a field added to the tuple, in another place would shift every value after it."""
    assert tuple(column.name for column in view_query().selected_columns) == RecordView._fields
