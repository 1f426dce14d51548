"""Monthly statements (JSON and PDF) and recharge receipts (PDF), for the customer under
``/api/v3`` and for the operator under ``/internal/v1/accounts/{id}``. Months are UTC, ``YYYY-MM``.

The PDF routes are declared before the JSON ones: ``{month}`` would otherwise match ``2026-10.pdf``.
PDFs are drawn in a worker thread, after the figures are read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from billbook.api import render
from billbook.api.deps import Customer, CustomerRoute, OperatorRoute, customer, database, operator
from billbook.api.envelope import JSONBody, success
from billbook.api.responses import ERRORS, Envelope
from billbook.api.statement_schemas import StatementData
from billbook.documents.page import Issuer
from billbook.documents.receipt import receipt_pdf
from billbook.documents.statement import statement_pdf
from billbook.ledger import statements

T = TypeVar("T")
AccountId = Annotated[int, Path(ge=1, le=2_147_483_647)]
Month = Annotated[str, Path(max_length=20, description="a UTC month, YYYY-MM")]
RecordUuid = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]

PDF_DOCS = {200: {"content": {"application/pdf": {}}, "description": "a PDF document"}, **ERRORS}
JSON_DOCS = {200: {"model": Envelope[StatementData]}, **ERRORS}

public = APIRouter(route_class=CustomerRoute, prefix="/api/v3", tags=["statements"])
internal = APIRouter(
    route_class=OperatorRoute,
    prefix="/internal/v1/accounts/{account_id}",
    tags=["internal"],
    dependencies=[Depends(operator)],
)


def _issuer(request: Request) -> Issuer:
    settings = request.app.state.settings
    return Issuer(settings.operator_name, settings.operator_address)


def _pdf(content: bytes, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
    return Response(content, media_type="application/pdf", headers=headers)


async def _statement_pdf(request: Request, statement: statements.Statement) -> Response:
    content = await run_in_threadpool(statement_pdf, statement, _issuer(request))
    return _pdf(content, f"statement-{statement.account_id}-{statement.month_text}.pdf")


async def _receipt_pdf(request: Request, receipt: statements.Receipt) -> Response:
    content = await run_in_threadpool(receipt_pdf, receipt, _issuer(request))
    return _pdf(content, f"receipt-{receipt.record.uuid}.pdf")


@public.get("/statements/{month}.pdf", responses=PDF_DOCS, summary="Monthly statement (PDF)")
async def statement_pdf_route(request: Request, month: Month, caller: Customer = Depends(customer)) -> Response:
    found = await statements.statement(caller.conn, caller.account_id, statements.parse_month(month))
    return await _statement_pdf(request, found)


@public.get("/statements/{month}", responses=JSON_DOCS, summary="Monthly statement")
async def statement_route(month: Month, caller: Customer = Depends(customer)) -> JSONBody:
    """Opening balance, the month's movements by type and charges by model, and the closing balance."""
    found = await statements.statement(caller.conn, caller.account_id, statements.parse_month(month))
    return success(render.statement(found))


@public.get("/receipts/{record_uuid}.pdf", responses=PDF_DOCS, summary="Receipt of a recharge (PDF)")
async def receipt_route(request: Request, record_uuid: RecordUuid, caller: Customer = Depends(customer)) -> Response:
    return await _receipt_pdf(request, await statements.receipt(caller.conn, caller.account_id, record_uuid))


async def _read(request: Request, read: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """``read`` in a read transaction of its own (operator routes open theirs in the route)."""
    async with database(request).transaction(write=False) as conn:
        return await read(conn)


@internal.get("/statements/{month}.pdf", responses=PDF_DOCS, summary="An account's monthly statement (PDF)")
async def operator_statement_pdf(request: Request, account_id: AccountId, month: Month) -> Response:
    key = statements.parse_month(month)
    found = await _read(request, lambda conn: statements.statement(conn, account_id, key))
    return await _statement_pdf(request, found)


@internal.get("/statements/{month}", responses=JSON_DOCS, summary="An account's monthly statement")
async def operator_statement(request: Request, account_id: AccountId, month: Month) -> JSONBody:
    key = statements.parse_month(month)
    return success(render.statement(await _read(request, lambda conn: statements.statement(conn, account_id, key))))


@internal.get("/receipts/{record_uuid}.pdf", responses=PDF_DOCS, summary="Receipt of an account's recharge (PDF)")
async def operator_receipt(request: Request, account_id: AccountId, record_uuid: RecordUuid) -> Response:
    found = await _read(request, lambda conn: statements.receipt(conn, account_id, record_uuid))
    return await _receipt_pdf(request, found)


def register(app) -> None:  # noqa: ANN001 - a FastAPI application
    app.include_router(public)
    app.include_router(internal)
