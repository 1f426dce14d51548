"""``billbook statements get`` and ``billbook statements receipt``: monthly statements and recharge
receipts through the SDK, to the terminal or to a file chosen by its extension."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from billbook.cli.customer_options import SummaryFormat, connected, formatted
from billbook.cli.failures import reporting
from billbook.cli.render import format_usd, stderr, stdout
from billbook.client import Client, Statement
from billbook.client._convert import dumps
from billbook.client._statements import month_text

statements_app = typer.Typer(help="Monthly statements and recharge receipts.", no_args_is_help=True)

#: What ``--out`` writes, by the file's extension.
OUT_KINDS = {".pdf": "the statement as PDF", ".json": "the statement's figures", ".csv": "the month's records"}


def _write_bytes(path: str, content: bytes) -> None:
    """The file appears at ``path`` only once it is complete."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(content)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _print(statement: Statement) -> None:
    s = statement
    table = Table(title=f"{s.account_name}: statement for {s.month}" + (" (month still open)" if s.open else ""))
    table.add_column("")
    table.add_column("USD", justify="right")
    rows = [
        ("Opening balance", s.opening_balance),
        (f"Recharges ({s.recharge_count})", s.recharges),
        (f"Adjustments ({s.adjustment_count})", s.adjustments),
        (f"Charges ({s.charge_count})", -s.charges),
        (f"Refunds ({s.refund_count})", s.refunds),
        ("Closing balance", s.closing_balance),
    ]
    for label, amount in rows:
        table.add_row(label, format_usd(amount))
    stdout().print(table)
    if s.charges_by_model:
        models = Table(title="Charges by model")
        for name in ("Model", "Charges", "Refunds", "Net USD"):
            models.add_column(name, justify="left" if name == "Model" else "right")
        for m in s.charges_by_model:
            models.add_row(m.model_uuid, str(m.charge_count), str(m.refund_count), format_usd(m.net))
        stdout().print(models)


def _default_month() -> str:
    now = datetime.now(UTC)
    return f"{now.year:04d}-{now.month:02d}"


@statements_app.command("get")
@reporting
@connected
@formatted(SummaryFormat)
def get(
    client: Client,
    fmt: str,
    month: Annotated[str | None, typer.Option("--month", "-m", help="UTC month, YYYY-MM (default: this month).",
                                              show_default=False)] = None,
    out: Annotated[str | None, typer.Option("--out", "-o", help="Write to a file: .pdf, .json, or .csv (the month's records).",
                                            show_default=False)] = None,
) -> None:
    """Show a month's statement, or save it as PDF, JSON or the month's records as CSV.

    Example: billbook statements get --month 2026-10 --out oct.pdf
    """
    chosen = month_text(month or _default_month())
    if out is None:
        statement = client.statements.get(chosen)
        if fmt == "json":
            typer.echo(dumps(statement.raw))
        else:
            _print(statement)
        return
    kind = Path(out).suffix.lower()
    if kind not in OUT_KINDS:
        raise typer.BadParameter(f"--out must end in {', '.join(OUT_KINDS)}, not {Path(out).name!r}")
    if kind == ".pdf":
        _write_bytes(out, client.statements.pdf(chosen))
    elif kind == ".json":
        _write_bytes(out, (dumps(client.statements.get(chosen).raw) + "\n").encode())
    else:
        statement = client.statements.get(chosen)
        client.billings.export(out, start_time=statement.start_time, end_time=statement.end_time)
    stderr().print(f"wrote {OUT_KINDS[kind]} for {chosen} to {out}", markup=False)


@statements_app.command("receipt")
@reporting
@connected
def receipt(
    client: Client,
    record_uuid: Annotated[str, typer.Argument(help="The recharge record's uuid.", show_default=False)],
    out: Annotated[str, typer.Option("--out", "-o", help="PDF file to write.", show_default=False)],
) -> None:
    """Save the receipt of one of your recharges as a PDF.

    Example: billbook statements receipt 0f1e2d3c4b5a69788796a5b4c3d2e1f0 --out receipt.pdf
    """
    _write_bytes(out, client.receipts.pdf(record_uuid))
    stderr().print(f"wrote the receipt of {record_uuid} to {out}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(statements_app, name="statements")
