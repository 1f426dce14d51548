"""The two reads the operator console needs besides the operator routes: who the token is (so the
page offers writes only to a ``write`` token) and the platform's money totals (the overview)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from billbook.api.deps import OperatorRoute, database, operator
from billbook.api.envelope import JSONBody, success, usd
from billbook.api.responses import ERRORS
from billbook.ledger import platform

router = APIRouter(
    route_class=OperatorRoute, prefix="/internal/v1", tags=["internal"], dependencies=[Depends(operator)]
)


@router.get("/whoami", responses=ERRORS, summary="The calling admin token's name and role")
async def whoami(request: Request) -> JSONBody:
    """``{name, role}``: ``role`` is ``read`` or ``write``. Only a hint for a page: the server checks
    the role on every write."""
    who = getattr(request.state, "operator", None)
    if who is None:
        return success({"name": "default", "role": "write"})
    return success({"name": who.name, "role": str(who.role)})


@router.get("/totals", responses=ERRORS, summary="Money held by customers and by open orders")
async def totals(request: Request) -> JSONBody:
    """``{accounts, balance, held}``: the number of accounts, their balances summed, and the money
    in orders still ``pre``; one snapshot."""
    async with database(request).transaction(write=False) as conn:
        t = await platform.totals(conn)
    return success({"accounts": t.accounts, "balance": usd(t.balance), "held": usd(t.held)})
