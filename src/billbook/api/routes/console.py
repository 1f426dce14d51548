"""The two reads the operator console needs besides the operator routes: who the token is (so the
page offers writes only to a ``write`` token) and the platform's money totals (the overview).
Any admin token may call them."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from billbook.api.deps import OperatorReadRoute, as_reader, operator
from billbook.api.envelope import JSONBody, success, usd
from billbook.api.responses import ERRORS
from billbook.ledger import platform
from billbook.ledger.admin_tokens import Operator

router = APIRouter(
    route_class=OperatorReadRoute, prefix="/internal/v1", tags=["operator"], dependencies=[Depends(operator)]
)


@router.get("/whoami", responses=ERRORS, summary="The calling admin token's name and role")
async def whoami(request: Request) -> JSONBody:
    """``{name, role}``, ``role`` being ``read`` or ``write``: what a page may offer. The server
    checks the role on every write whatever a page offers."""
    who: Operator = request.state.operator
    return success({"name": who.name, "role": str(who.role)})


@router.get("/totals", responses=ERRORS, summary="Money held by customers and by open orders")
async def totals(request: Request) -> JSONBody:
    """``{accounts, balance, held}``: the number of accounts, their balances summed, and the money
    in orders still ``pre``; one snapshot."""
    async with as_reader(request) as conn:
        t = await platform.totals(conn)
    return success({"accounts": t.accounts, "balance": usd(t.balance), "held": usd(t.held)})
