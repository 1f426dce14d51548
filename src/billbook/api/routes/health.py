"""Liveness for load balancers and orchestrators."""

from __future__ import annotations

from fastapi import APIRouter, Request

from billbook.api.deps import database
from billbook.api.envelope import JSONBody, failure, success
from billbook.ledger import health

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and database reachability")
async def healthz(request: Request) -> JSONBody:
    try:
        ok = await health.database_ok(database(request))
    except Exception:  # noqa: BLE001 - any failure to reach the database is "unavailable"
        ok = False
    return success({"status": "ok"}) if ok else failure(503, "database unavailable")
