"""``billbook demo``: a database with a few months of believable history, served, with a curl to paste."""

from __future__ import annotations

import asyncio
import random
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from uuid import uuid4

import typer
from rich.console import Console
from rich.panel import Panel

from billbook.cli.operating import LISTEN, operator_command
from billbook.times import MS_PER_DAY, now_ms

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from billbook.ledger.charges import Charge
    from billbook.settings import Settings

commands = typer.Typer()

DEMO_DB = "sqlite:///billbook-demo.db"


@dataclass(frozen=True)
class Model:
    """A model of the demo's catalog: its first price version, and how often the demo uses it."""

    uuid: str
    kind: str
    name: str
    base_price: int  # micro-dollars
    weight: int
    formula: str | None = None
    #: The inputs a request sends, as choices: each request picks one value per input.
    inputs: tuple[tuple[str, tuple[int, ...]], ...] = ()


#: Videos are priced by length: the base price buys five seconds.
PER_FIVE_SECONDS = '{"total_price": base_price * duration / 5}'

MODELS = (
    Model("bytedance/seedream-v4.5", "text-to-image", "Seedream 4.5", 40_000, 30),
    Model("wavespeed-ai/flux-dev", "text-to-image", "FLUX.1 dev", 25_000, 25),
    Model("wavespeed-ai/qwen-image/edit", "image-to-image", "Qwen Image Edit", 30_000, 12),
    Model("kwaivgi/kling-v2.1-i2v-pro", "image-to-video", "Kling 2.1 Pro", 450_000, 6,
          PER_FIVE_SECONDS, (("duration", (5, 10)),)),
    Model("alibaba/wan-2.2/t2v-720p", "text-to-video", "Wan 2.2 720p", 300_000, 5),
    Model("google/veo3-fast", "text-to-video", "Veo 3 Fast", 1_200_000, 2,
          "base_price * duration / 8", (("duration", (4, 8)),)),
    Model("openai/whisper-large-v3", "audio-to-text", "Whisper large v3", 6_000, 8),
)
#: What each kind of model does, as the catalog describes it.
DOES = {
    "text-to-image": "Images from a text prompt",
    "image-to-image": "Edits an image from a text instruction",
    "image-to-video": "Video from an image, priced per 5 seconds",
    "text-to-video": "Video from a text prompt",
    "audio-to-text": "Transcribes speech to text",
}
#: A price cut part-way through the history: charges before it keep the old price.
PRICE_CUT = (MODELS[1].uuid, 20_000, 2 / 3)
#: The demo account's negotiated discount (percent, hundredths), from now on.
DISCOUNT = (MODELS[0].uuid, 1_000)


@dataclass
class DemoAccount:
    account_id: int
    keys: list[tuple[str, str, str]]  # (name, access_key_id, api_key)
    records: int


@dataclass(frozen=True)
class Planned:
    """One prediction of the demo's history and how it ends (``None``: still running)."""

    uuid: str
    at: int
    model: Model
    key: int
    status: str | None
    done_at: int
    inputs: dict[str, int] | None = None


def plan_day(rng: random.Random, day: int, day_start: int, last: bool) -> list[Planned]:
    """A day's predictions: growing volume, quieter weekends, about 5% failures."""
    weekday_factor = 0.6 if (day % 7) in (5, 6) else 1.0
    volume = int((20 + day * 0.5) * weekday_factor * rng.uniform(0.7, 1.3))
    weights = [m.weight for m in MODELS]
    planned = []
    for at in sorted(day_start + rng.randrange(MS_PER_DAY) for _ in range(volume)):
        if at > now_ms():
            break
        outcome = rng.random()
        # Only the last minutes' predictions may still be running: an older hold would have expired.
        still_running = last and at > now_ms() - RUNNING_WINDOW_MS
        status = "completed" if outcome >= 0.05 else (None if still_running else rng.choice(FAILURES))
        model = rng.choices(MODELS, weights)[0]
        inputs = {name: rng.choice(values) for name, values in model.inputs} or None
        planned.append(
            Planned(uuid4().hex, at, model, 0 if rng.random() < 0.85 else 1,
                    status, at + rng.randrange(2_000, 90_000), inputs)
        )
    return planned


FAILURES = ("failed", "failed", "timeout", "cancelled")
#: How recent a prediction must be to be shown still running (well inside the default hold of 1 h).
RUNNING_WINDOW_MS = 10 * 60_000


async def build_catalog(conn: AsyncConnection, start: int, days: int) -> None:
    """The demo's price list: every model from before the history starts, one price cut part-way."""
    from billbook.ledger import pricing

    def version(m: Model, price: int, effective_from: int) -> pricing.NewVersion:
        return pricing.NewVersion(m.name, price, m.kind, DOES[m.kind], m.formula, MODELS.index(m) + 1, effective_from)

    for m in MODELS:
        await pricing.add_version(conn, m.uuid, version(m, m.base_price, start - MS_PER_DAY))
    model_id, price, when = PRICE_CUT
    cut = next(m for m in MODELS if m.uuid == model_id)
    await pricing.add_version(conn, model_id, version(cut, price, start + int(days * when) * MS_PER_DAY))


async def priced_charges(
    conn: AsyncConnection, account_id: int, keys: list[str], planned: list[Planned]
) -> tuple[list[Charge], list[int]]:
    """The day's charges, sent without a price (the ledger prices them from the catalog with their
    inputs), and what each will cost, quoted set-wise so the demo can top up before it runs low."""
    from billbook.ledger import pricing
    from billbook.ledger.charges import Charge

    requests = [pricing.PriceRequest(account_id, p.model.uuid, p.at, p.inputs) for p in planned]
    quotes = await pricing.price_many(conn, requests)
    made, prices = [], []
    for p, quote in zip(planned, quotes, strict=True):
        if not isinstance(quote, pricing.Quote):
            raise quote
        made.append(Charge(p.uuid, keys[p.key], p.model.uuid, model_type=p.model.kind, created_at=p.at, inputs=p.inputs))
        prices.append(quote.price)
    return made, prices


async def build_history(db_url: str, *, days: int = 90, seed: int = 7, pooler: str = "none") -> DemoAccount:
    """Create the demo account, its price list and its history through the ledger, as the platform
    would have: top-ups when the balance runs low, a day's charges at a time, then each
    prediction's outcome; last, the account's discount from now on."""
    from billbook.ledger import accounts, audit, charges, funds, keys, pricing
    from billbook.store.db import Database
    from billbook.store.migrate import upgrade

    rng = random.Random(seed)
    db = Database(db_url, pooler=pooler)
    try:
        await upgrade(db)
        async with db.transaction(write=True) as conn:
            account = await accounts.create_account(conn, "Demo Studio")
            issued = [await keys.create_key(conn, account.id, n) for n in ("production", "staging")]
            key_ids = [k.access_key_id for k in issued]
            start = now_ms() - days * MS_PER_DAY
            await build_catalog(conn, start, days)
            made_funds = [await funds.recharge(conn, account.id, 500_000_000, "demo-opening", at=start - 3_600_000)]
            balance = made_funds[0].balance
            records = 1
            for day in range(days):
                planned = plan_day(rng, day, start + day * MS_PER_DAY, last=day == days - 1)
                day_start = start + day * MS_PER_DAY
                made, prices = await priced_charges(conn, account.id, key_ids, planned)
                if balance - sum(prices) < 100_000_000:
                    at = planned[0].at - 60_000 if planned else day_start
                    made_funds.append(await funds.recharge(conn, account.id, 200_000_000, f"demo-topup-{day}", at=at))
                    balance = made_funds[-1].balance
                    records += 1
                await charges.charge_many(conn, made)
                balance -= sum(prices)
                records += len(planned)
                for p, price in zip(planned, prices, strict=True):
                    if p.status is not None:
                        await charges.set_status(conn, p.uuid, p.status, p.done_at)
                    if p.status in FAILURES:
                        balance += price
                        records += 1
            made_funds.append(await funds.adjust(conn, account.id, 25_000_000, "Goodwill credit for an outage", "demo-goodwill",
                                                 at=start + (days // 2) * MS_PER_DAY + 43_200_000))
            records += 1
            await audit.record_all(conn, "demo", "billbook demo", account.id, [k.access_key_id for k in issued],
                                   [m.record for m in made_funds])
            await pricing.set_discount(conn, account.id, *DISCOUNT)
        return DemoAccount(account.id, [(k.name, k.access_key_id, k.api_key) for k in issued], records)
    finally:
        await db.dispose()


def _curl(base: str, api_key: str) -> str:
    body = '{"page": 1, "page_size": 10}'
    return (
        f"curl --request POST {shlex.quote(base + '/api/v3/billings/search')} \\\n"
        f"  --header {shlex.quote('Authorization: Bearer ' + api_key)} \\\n"
        f"  --header 'Content-Type: application/json' \\\n"
        f"  --data-raw {shlex.quote(body)}"
    )


@operator_command(commands, "demo", LISTEN)
def demo(
    settings: Settings,
    db: Annotated[
        str, typer.Option("--db", help="Database to fill; the default demo file is recreated on every run.")
    ] = DEMO_DB,
    days: Annotated[int, typer.Option("--days", min=1, max=730, help="Days of history.")] = 90,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve after filling.")] = True,
) -> None:
    """Fill a database with months of history for a demo account, serve it, and print a curl to try.

    Example: billbook demo --port 8000
    """
    from billbook.cli.operating import explained

    # A person is watching this terminal: plain log lines unless asked otherwise.
    log_format = settings.log_format if "log_format" in settings.model_fields_set else "text"
    settings = settings.replace(database_url=db, log_format=log_format)
    with explained(settings.database_url):
        _fill_and_serve(settings, days, serve)


def _fill_and_serve(settings: Settings, days: int, serve: bool) -> None:
    from billbook.cli.server import prepare_database, run_server

    console = Console()
    if settings.database_url == DEMO_DB:
        for suffix in ("", "-wal", "-shm"):
            Path(f"billbook-demo.db{suffix}").unlink(missing_ok=True)
    with console.status("Writing a few months of billing history..."):
        made = asyncio.run(build_history(settings.database_url, days=days, pooler=settings.db_pooler))
    prepare_database(settings)
    host = settings.host
    base = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{settings.port}"
    name, access_key_id, api_key = made.keys[0]
    console.print(
        Panel.fit(
            f"[bold]Demo account {made.account_id}[/] with {made.records:,} billing records.\n\n"
            f"API key ({name}, {access_key_id}):\n[green]{api_key}[/]\n\n"
            f"Dashboard: [link={base}/]{base}/[/link]   API docs: {base}/docs\n\n"
            "Try it:\n",
            title="billbook demo",
        )
    )
    print(_curl(base, api_key))
    print(f"\nexport BILLBOOK_API_KEY={api_key} BILLBOOK_BASE_URL={base}\n", flush=True)
    if serve:
        run_server(settings)

def register(app: typer.Typer) -> None:
    app.registered_commands.extend(commands.registered_commands)
