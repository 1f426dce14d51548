"""THE PLAIN BASELINE -- not billbook. What a team writes in an afternoon without an ORM, for the
benchmark only (``bench/run.py`` measures it side by side with billbook and the naive baseline).

Why a second baseline: ``app.py`` (the naive one) runs on the same async stack as billbook
(SQLAlchemy over aiosqlite/asyncpg), so it shares that stack's costs and cannot show them. This
one is the other obvious design: FastAPI with plain ``def`` endpoints, which FastAPI runs in its
thread pool, and the database driver called directly -- the standard library's ``sqlite3`` (one
connection per thread, WAL) or psycopg 3 for PostgreSQL (one autocommit connection per thread).
``COUNT(*)`` for every total, ``ORDER BY created_at DESC, id DESC LIMIT ... OFFSET ...`` for every
page, the key, order and prediction joined in the same statement. No pool library, no caching.

Routes: ``POST /api/v3/billings/search``, ``GET /api/v3/balance`` and ``/api/v3/account/balance``,
``GET /healthz`` (one ``SELECT 1``) and ``GET /ping`` (no database); same envelope, same bearer-key
check (salted SHA-256 through ``billbook.ledger.credentials``), over billbook's own tables.

    BASELINE_DATABASE_URL=sqlite:///bench/out/bench.db \\
        uvicorn baseline.plain:app --app-dir bench --host 127.0.0.1 --port 8002
"""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from billbook.ledger import credentials

URL = os.environ.get("BASELINE_DATABASE_URL", "sqlite:///billbook.db")
POSTGRES = URL.startswith(("postgresql:", "postgres:"))
MARK = "%s" if POSTGRES else "?"  # the drivers' parameter markers

_local = threading.local()


def connection():  # noqa: ANN201 - sqlite3.Connection or psycopg.Connection
    """This thread's connection, opened on first use and kept for the thread's life."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        if POSTGRES:
            import psycopg

            conn = psycopg.connect(URL, autocommit=True)
        else:
            conn = sqlite3.connect(URL.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=True)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=5000")
        _local.conn = conn
    return conn


def query(sql: str, params: list | tuple = ()) -> list[tuple]:
    return connection().execute(sql.replace("?", MARK), params).fetchall()


app = FastAPI(title="billbook plain baseline (sync endpoints, no ORM, for benchmarks only)")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


@app.exception_handler(ApiError)
async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse({"code": exc.status, "message": exc.message, "data": None}, status_code=exc.status)


@app.exception_handler(RequestValidationError)
async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    field = ".".join(str(p) for p in first.get("loc", ())[1:]) or "body"
    return JSONResponse({"code": 400, "message": f"{field}: {first.get('msg', 'invalid')}", "data": None}, status_code=400)


def envelope(data: object) -> dict:
    return {"code": 200, "message": "success", "data": data}


def account_of(authorization: str | None) -> int:
    """The account id behind a bearer key, or a 401."""
    if not authorization or not authorization.startswith("Bearer "):
        raise ApiError(401, "missing API key")
    parts = credentials.split_api_key(authorization[7:].strip())
    if parts is None:
        raise ApiError(401, "invalid API key")
    rows = query("SELECT account_id, salt, secret_hash, revoked_at FROM access_keys WHERE lookup = ?", (parts[0],))
    if not rows or not credentials.matches(rows[0][1], rows[0][2], parts[1]):
        raise ApiError(401, "invalid API key")
    if rows[0][3] is not None:
        raise ApiError(401, "API key has been revoked")
    return rows[0][0]


def usd(micros: int) -> float | int:
    return micros // 1_000_000 if micros % 1_000_000 == 0 else micros / 1_000_000


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def to_ms(value: int | str) -> int:
    if isinstance(value, int):
        return value
    if value.isdigit():
        return int(value)
    dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


class SearchBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    billing_type: Literal["deduct", "refund", "recharge", "adjust"] | None = None
    prediction_uuids: list[StrictStr] | None = Field(default=None, max_length=100)
    sort: Literal["created_at DESC", "created_at ASC", "created_at desc", "created_at asc"] | None = None
    start_time: StrictInt | StrictStr | None = None
    end_time: StrictInt | StrictStr | None = None
    page: StrictInt = Field(default=1, ge=1)
    page_size: StrictInt = Field(default=10, ge=1, le=100)
    model_uuid: StrictStr | list[StrictStr] | None = None
    access_key_uuid: StrictStr | list[StrictStr] | None = None


def _many(value: str | list[str] | None) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else value


def _where(account_id: int, body: SearchBody) -> tuple[str, list]:
    where, params = ["r.account_id = ?"], [account_id]
    if body.billing_type:
        where.append("r.billing_type = ?")
        params.append(body.billing_type)
    if body.start_time is not None:
        where.append("r.created_at >= ?")
        params.append(to_ms(body.start_time))
    if body.end_time is not None:
        where.append("r.created_at <= ?")
        params.append(to_ms(body.end_time))
    for column, values in (("r.model_uuid", _many(body.model_uuid)), ("r.access_key_id", _many(body.access_key_uuid))):
        if values:
            where.append(f"{column} IN ({', '.join('?' * len(values))})")
            params += values
    if body.prediction_uuids:
        marks = ", ".join("?" * len(body.prediction_uuids))
        where.append(f"r.prediction_id IN (SELECT id FROM predictions WHERE uuid IN ({marks}))")
        params += body.prediction_uuids
    return " AND ".join(where), params


PAGE = """
SELECT r.uuid, r.access_key_id, k.name, r.billing_type, r.price, r.created_at, r.updated_at,
       o.uuid, o.state, o.price, o.origin_price, o.ak_id, o.updated_at,
       p.uuid, p.model_uuid, p.status
FROM billing_records r
LEFT JOIN access_keys k ON k.id = r.ak_id
LEFT JOIN orders o ON o.id = r.order_id
LEFT JOIN predictions p ON p.id = r.prediction_id
WHERE {where}
ORDER BY r.created_at {direction}, r.id {direction}
LIMIT ? OFFSET ?
"""


def render(row: tuple) -> dict:
    (uuid, key_id, key_name, billing_type, price, created_at, updated_at,
     o_uuid, o_state, o_price, o_origin, o_ak, o_updated, p_uuid, p_model, p_status) = row
    return {
        "uuid": uuid,
        "access_key_id": key_id or "",
        "access_key_name": key_name or "",
        "billing_type": billing_type,
        "price": usd(price),
        "created_at": iso(created_at),
        # A deduct's record shows when its order last changed (settled or refunded), as billbook does.
        "updated_at": iso(max(updated_at, o_updated or 0)),
        "order": None if o_uuid is None else {
            "uuid": o_uuid, "state": o_state, "price": usd(o_price), "origin_price": usd(o_origin), "status": "", "ak_id": o_ak,
        },
        "prediction": None if p_uuid is None else {"uuid": p_uuid, "model_uuid": p_model, "status": p_status},
    }


@app.post("/api/v3/billings/search")
def search(body: SearchBody | None = None, authorization: Annotated[str | None, Header()] = None) -> dict:
    body = body or SearchBody()
    account_id = account_of(authorization)
    where, params = _where(account_id, body)
    total = query(f"SELECT COUNT(*) FROM billing_records r WHERE {where}", params)[0][0]
    direction = "ASC" if body.sort and body.sort.lower() == "created_at asc" else "DESC"
    rows = query(PAGE.format(where=where, direction=direction), [*params, body.page_size, (body.page - 1) * body.page_size])
    return envelope({"page": body.page, "total": total, "has_more": body.page * body.page_size < total, "items": [render(r) for r in rows]})


@app.get("/api/v3/balance")
def balance(authorization: Annotated[str | None, Header()] = None) -> dict:
    account_id = account_of(authorization)
    return envelope({"balance": usd(query("SELECT balance FROM accounts WHERE id = ?", (account_id,))[0][0]), "currency": "USD"})


@app.get("/api/v3/account/balance")
def account_balance(authorization: Annotated[str | None, Header()] = None) -> dict:
    return balance(authorization)


@app.get("/healthz")
def healthz() -> dict:
    query("SELECT 1")
    return envelope({"status": "ok"})


@app.get("/ping")
async def ping() -> dict:
    """The framework's ceiling: no database, no auth."""
    return envelope({"status": "ok"})
