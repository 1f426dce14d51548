"""Writing records to CSV or JSON Lines, one at a time, so an export of millions of records runs in
constant memory, and into a temporary file renamed into place only when complete, so a failed or
interrupted export never leaves a plausible-looking but partial file behind."""

from __future__ import annotations

import csv
import errno
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal

from billbook.client._convert import dumps, iso_ms
from billbook.client.types import BillingRecord

ExportFormat = Literal["csv", "jsonl"]

#: The columns of a CSV export, in order. The dashboard's csv.js mirrors this list.
CSV_COLUMNS = (
    "uuid",
    "created_at",
    "updated_at",
    "billing_type",
    "price",
    "amount",
    "balance_after",
    "access_key_id",
    "access_key_name",
    "model_uuid",
    "prediction_uuid",
    "prediction_status",
    "order_uuid",
    "order_state",
    "order_price",
    "order_origin_price",
    "order_ak_id",
)
#: Spreadsheets run a cell starting with one of these as a formula; key names are free text.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def format_for(path: str | os.PathLike[str]) -> ExportFormat:
    """The export format a file name asks for."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise ValueError(f"cannot tell the format of {os.fspath(path)!r}: name it .csv or .jsonl")


def _safe_text(value: str | None) -> str:
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def _money(value: Decimal | None) -> str:
    """Exact decimal text (never an exponent), or an empty cell for an unknown amount."""
    return "" if value is None else format(value, "f")


def csv_row(record: BillingRecord) -> list[str]:
    order, prediction = record.order, record.prediction
    return [
        record.uuid,
        iso_ms(record.created_at),
        iso_ms(record.updated_at),
        record.billing_type,
        _money(record.price),
        _money(record.amount),
        _money(record.balance_after),
        record.access_key_id or "",
        _safe_text(record.access_key_name),
        _safe_text(prediction.model_uuid if prediction else None),
        prediction.uuid if prediction else "",
        prediction.status if prediction else "",
        order.uuid if order else "",
        order.state if order else "",
        _money(order.price if order else None),
        _money(order.origin_price if order else None),
        "" if order is None or order.ak_id is None else str(order.ak_id),
    ]


def jsonl_object(record: BillingRecord) -> Mapping[str, Any]:
    """The server's object field for field, with ``amount`` and ``balance_after`` after ``price``
    where the server left them out (null when unknown), so every line has the same fields."""
    raw = record.raw
    if raw.get("amount") is not None and "balance_after" in raw:
        return raw
    added = {"amount": record.amount, "balance_after": raw.get("balance_after")}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in added:
            out[key] = value
        if key == "price":
            out.update(added)
    out.update({k: v for k, v in added.items() if k not in out})
    return out


RecordWriter = Callable[[BillingRecord], None]


def record_writer(stream: IO[str], fmt: ExportFormat) -> RecordWriter:
    """A function writing one record to ``stream`` (CSV writes its header first)."""
    if fmt == "jsonl":
        return lambda record: _write_line(stream, dumps(jsonl_object(record)))
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    return lambda record: writer.writerow(csv_row(record))


def _write_line(stream: IO[str], line: str) -> None:
    stream.write(line)
    stream.write("\n")


@contextmanager
def atomic_text_file(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """A file that appears at ``path`` only if the block finishes without an exception."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(target))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:  # name the file the caller asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, str(target)) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
