"""THE BASELINE -- not billbook. A naive implementation of billbook's public read API, for the
benchmark only (``bench/run.py`` measures it side by side with billbook).

Why it exists: the issue's targets are relative ("at least 30x faster than the baseline"), so the
baseline has to be what a competent team writes in a day with the usual tools, and it has to be
correct, or the comparison means nothing. So: FastAPI + the SQLAlchemy ORM (declarative models
mapped onto billbook's own tables), ``COUNT(*)`` for every total and ``OFFSET``/``LIMIT`` for every
page, the related order, prediction and key loaded with ``joinedload``, usage statistics grouped
straight from the billing records, default connection pool, no caching, no rollups. Same routes,
same request and response shapes, same bearer-key check (salted SHA-256 via
``billbook.ledger.credentials``), same database, served by uvicorn with the same worker count.

Serve it with (``--app-dir`` because ``bench/`` is not an installed package):

    BASELINE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/billbook_bench \\
        uvicorn baseline.app:app --app-dir bench --host 127.0.0.1 --port 8001
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator
from sqlalchemy import BigInteger, ForeignKey, Integer, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, joinedload, mapped_column, relationship

from billbook.ledger import credentials

MS_PER_DAY = 86_400_000


# ---------------------------------------------------------------------------- models


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    balance: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)


class AccessKey(Base):
    __tablename__ = "access_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    access_key_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    name: Mapped[str] = mapped_column(String(200))
    lookup: Mapped[str] = mapped_column(String(32))
    salt: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str] = mapped_column(String(64))
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)


class Prediction(Base):
    __tablename__ = "predictions"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    model_uuid: Mapped[str] = mapped_column(String(200))
    model_type: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))


class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(32))
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id"))
    ak_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    price: Mapped[int] = mapped_column(BigInteger)
    origin_price: Mapped[int] = mapped_column(BigInteger)
    price_version_id: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)


class BillingRecord(Base):
    __tablename__ = "billing_records"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    billing_type: Mapped[str] = mapped_column(String(16))
    price: Mapped[int] = mapped_column(BigInteger)
    delta: Mapped[int] = mapped_column(BigInteger)
    ak_id: Mapped[int | None] = mapped_column(ForeignKey("access_keys.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    prediction_id: Mapped[int | None] = mapped_column(ForeignKey("predictions.id"))
    model_uuid: Mapped[str | None] = mapped_column(String(200))
    access_key_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)

    access_key: Mapped[AccessKey | None] = relationship()
    order: Mapped[Order | None] = relationship()
    prediction: Mapped[Prediction | None] = relationship()


# ---------------------------------------------------------------------------- app


def _async_url(url: str) -> str:
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url[len("sqlite:") :]
    if url.startswith(("postgresql:", "postgres:")):
        return "postgresql+asyncpg:" + url.split(":", 1)[1]
    raise ValueError(f"unsupported database URL {url!r}")


engine = create_async_engine(_async_url(os.environ.get("BASELINE_DATABASE_URL", "sqlite:///billbook.db")))
Session = async_sessionmaker(engine, expire_on_commit=False)
app = FastAPI(title="billbook baseline (naive ORM, for benchmarks only)")


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


def envelope(data: object) -> dict:
    return {"code": 200, "message": "success", "data": data}


@app.exception_handler(ApiError)
async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse({"code": exc.status, "message": exc.message, "data": None}, status_code=exc.status)


@app.exception_handler(RequestValidationError)
async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {}
    field = ".".join(str(p) for p in first.get("loc", ())[1:]) or "body"
    return JSONResponse({"code": 400, "message": f"{field}: {first.get('msg', 'invalid')}", "data": None}, status_code=400)


async def session() -> Session:  # type: ignore[valid-type]
    async with Session() as s:
        yield s


async def current_key(authorization: Annotated[str | None, Header()] = None, db: AsyncSession = Depends(session)) -> AccessKey:
    if not authorization or not authorization.startswith("Bearer "):
        raise ApiError(401, "missing API key")
    parts = credentials.split_api_key(authorization[7:].strip())
    if parts is None:
        raise ApiError(401, "invalid API key")
    key = (await db.scalars(select(AccessKey).where(AccessKey.lookup == parts[0]))).first()
    if key is None or not credentials.matches(key.salt, key.secret_hash, parts[1]):
        raise ApiError(401, "invalid API key")
    if key.revoked_at is not None:
        raise ApiError(401, "API key has been revoked")
    return key


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
    sort: StrictStr | None = None
    start_time: StrictInt | StrictStr | None = None
    end_time: StrictInt | StrictStr | None = None
    page: StrictInt = Field(default=1, ge=1)
    page_size: StrictInt = Field(default=10, ge=1, le=100)
    model_uuid: StrictStr | list[StrictStr] | None = None
    access_key_uuid: StrictStr | list[StrictStr] | None = None

    @field_validator("sort")
    @classmethod
    def _sort(cls, value: str | None) -> str | None:
        if value is not None and value.lower() not in ("created_at desc", "created_at asc"):
            raise ValueError("must be 'created_at DESC' or 'created_at ASC'")
        return value


def render(r: BillingRecord) -> dict:
    return {
        "uuid": r.uuid,
        "access_key_id": r.access_key_id or "",
        "access_key_name": r.access_key.name if r.access_key else "",
        "billing_type": r.billing_type,
        "price": usd(r.price),
        "created_at": iso(r.created_at),
        # A deduct's record shows when its order last changed (settled or refunded), as billbook does.
        "updated_at": iso(max(r.updated_at, r.order.updated_at if r.order else 0)),
        "order": None
        if r.order is None
        else {
            "uuid": r.order.uuid,
            "state": r.order.state,
            "price": usd(r.order.price),
            "origin_price": usd(r.order.origin_price),
            "status": "",
            "ak_id": r.order.ak_id,
            "price_version": r.order.price_version_id,
        },
        "prediction": None
        if r.prediction is None
        else {"uuid": r.prediction.uuid, "model_uuid": r.prediction.model_uuid, "status": r.prediction.status},
    }


def _many(value: str | list[str] | None) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else value


@app.post("/api/v3/billings/search")
async def search(body: SearchBody | None = None, key: AccessKey = Depends(current_key), db: AsyncSession = Depends(session)) -> dict:
    body = body or SearchBody()
    conditions = [BillingRecord.account_id == key.account_id]
    if body.billing_type:
        conditions.append(BillingRecord.billing_type == body.billing_type)
    if body.start_time is not None:
        conditions.append(BillingRecord.created_at >= to_ms(body.start_time))
    if body.end_time is not None:
        conditions.append(BillingRecord.created_at <= to_ms(body.end_time))
    if _many(body.model_uuid):
        conditions.append(BillingRecord.model_uuid.in_(_many(body.model_uuid)))
    if _many(body.access_key_uuid):
        conditions.append(BillingRecord.access_key_id.in_(_many(body.access_key_uuid)))
    if body.prediction_uuids:
        conditions.append(BillingRecord.prediction.has(Prediction.uuid.in_(body.prediction_uuids)))
    total = await db.scalar(select(func.count(BillingRecord.id)).where(*conditions))
    ascending = body.sort is not None and body.sort.lower() == "created_at asc"
    order = (BillingRecord.created_at.asc(), BillingRecord.id.asc()) if ascending else (BillingRecord.created_at.desc(), BillingRecord.id.desc())
    query = (
        select(BillingRecord)
        .where(*conditions)
        .options(joinedload(BillingRecord.access_key), joinedload(BillingRecord.order), joinedload(BillingRecord.prediction))
        .order_by(*order)
        .offset((body.page - 1) * body.page_size)
        .limit(body.page_size)
    )
    records = (await db.scalars(query)).all()
    return envelope(
        {
            "page": body.page,
            "total": total,
            "has_more": body.page * body.page_size < total,
            "items": [render(r) for r in records],
        }
    )


async def _balance(key: AccessKey, db: AsyncSession) -> dict:
    account = await db.get(Account, key.account_id)
    return envelope({"balance": usd(account.balance), "currency": "USD"})


@app.get("/api/v3/balance")
async def balance(key: AccessKey = Depends(current_key), db: AsyncSession = Depends(session)) -> dict:
    return await _balance(key, db)


@app.get("/api/v3/account/balance")
async def account_balance(key: AccessKey = Depends(current_key), db: AsyncSession = Depends(session)) -> dict:
    return await _balance(key, db)


class UsageBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    start_time: StrictStr | StrictInt
    end_time: StrictStr | StrictInt
    model_uuid: StrictStr | None = None
    access_key_uuid: StrictStr | None = None


@app.post("/api/v3/user/usage_stats")
async def usage_stats(body: UsageBody, key: AccessKey = Depends(current_key), db: AsyncSession = Depends(session)) -> dict:
    start, end = to_ms(body.start_time), to_ms(body.end_time)
    if start > end:
        raise ApiError(400, "start_time must not be after end_time")
    if end - start > 31 * MS_PER_DAY:
        raise ApiError(400, "the range from start_time to end_time must be at most 31 days")
    refund = select(BillingRecord).where(BillingRecord.billing_type == "refund").subquery()
    day = (BillingRecord.created_at // MS_PER_DAY).label("day")
    query = (
        select(
            day,
            BillingRecord.model_uuid,
            func.max(Prediction.model_type),
            func.count(BillingRecord.id),
            func.sum(BillingRecord.price),
            func.count(refund.c.id),
            func.coalesce(func.sum(refund.c.price), 0),
            func.count(Prediction.id).filter(Prediction.status == "completed"),
            func.max(BillingRecord.created_at),
        )
        .join(Prediction, Prediction.id == BillingRecord.prediction_id)
        .outerjoin(refund, refund.c.order_id == BillingRecord.order_id)
        .where(
            BillingRecord.account_id == key.account_id,
            BillingRecord.billing_type == "deduct",
            BillingRecord.created_at.between(start, end),
        )
        .group_by(day, BillingRecord.model_uuid)
    )
    if body.model_uuid:
        query = query.where(BillingRecord.model_uuid == body.model_uuid)
    if body.access_key_uuid:
        query = query.where(BillingRecord.access_key_id == body.access_key_uuid)
    models: dict[str, dict] = {}
    days: dict[int, dict] = {}
    summary = {"total_cost": 0, "total_requests": 0, "success_requests": 0}
    for d, model, model_type, n, amount, refunds, refunded, completed, last in await db.execute(query):
        d = int(d)
        net, count = int(amount) - int(refunded), n - refunds
        m = models.setdefault(model, {"model_uuid": model, "model_type": model_type or "", "total_cost": 0, "total_count": 0, "last": 0})
        m["total_cost"] += net
        m["total_count"] += count
        m["last"] = max(m["last"], last)
        entry = days.setdefault(d, {"amount": 0, "count": 0, "models": []})
        entry["amount"] += net
        entry["count"] += count
        entry["models"].append({"model_uuid": model, "amount": net, "count": count})
        summary["total_cost"] += net
        summary["total_requests"] += n
        summary["success_requests"] += completed
    per_model = []
    for m in sorted(models.values(), key=lambda m: (-m["total_cost"], m["model_uuid"])):
        latest = (
            select(BillingRecord.price)
            .where(
                BillingRecord.account_id == key.account_id,
                BillingRecord.billing_type == "deduct",
                BillingRecord.model_uuid == m["model_uuid"],
                BillingRecord.created_at.between(start, end),
            )
            .order_by(BillingRecord.created_at.desc(), BillingRecord.price.desc())
            .limit(1)
        )
        if body.access_key_uuid:
            latest = latest.where(BillingRecord.access_key_id == body.access_key_uuid)
        per_model.append(
            {
                "model_uuid": m["model_uuid"],
                "model_type": m["model_type"],
                "unit_price": usd(await db.scalar(latest) or 0),
                "total_cost": usd(m["total_cost"]),
                "total_count": m["total_count"],
                "last_used_date": iso(m["last"]),
            }
        )
    daily = []
    for d in sorted(days):
        date = datetime.fromtimestamp(d * 86_400, tz=UTC).strftime("%Y-%m-%d")
        entry = days[d]
        daily.append(
            {
                "date": date,
                "amount": usd(entry["amount"]),
                "count": entry["count"],
                "models": [
                    {"model_uuid": x["model_uuid"], "amount": usd(x["amount"]), "count": x["count"]}
                    for x in sorted(entry["models"], key=lambda x: x["model_uuid"])
                ],
            }
        )
    return envelope(
        {
            "per_model_usage": per_model,
            "daily_usage": daily,
            "summary": {
                "total_cost": usd(summary["total_cost"]),
                "total_requests": summary["total_requests"],
                "success_requests": summary["success_requests"],
            },
        }
    )


@app.get("/healthz")
async def healthz(db: AsyncSession = Depends(session)) -> dict:
    await db.execute(select(1))
    return envelope({"status": "ok"})


@app.get("/ping")
async def ping() -> dict:
    """The framework's ceiling: no database, no auth."""
    return envelope({"status": "ok"})
