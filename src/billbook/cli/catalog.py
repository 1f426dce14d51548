"""Operator commands for the price catalog, on the database directly: price versions and discounts.

``billbook models set|list|history`` and ``billbook discounts set``. Like the other operator
commands, each is one transaction around one ledger call; ``--json`` prints one JSON object.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated

import typer

from billbook.cli.operating import DATABASE, in_transaction, operator_command
from billbook.cli.operator import emit
from billbook.cli.options import AccountId, Json, usd_option

if TYPE_CHECKING:
    from billbook.settings import Settings

models_app = typer.Typer(help="The price catalog: price versions per model.", no_args_is_help=True)
discounts_app = typer.Typer(help="Per-account discounts on the price catalog.", no_args_is_help=True)

ModelId = Annotated[str, typer.Argument(help="Model id, e.g. wavespeed-ai/flux-dev.")]


def _time(option: str, text: str | None) -> int | None:
    """Milliseconds since the epoch from digits or an RFC 3339 time (``2026-05-01T00:00:00Z``)."""
    from billbook.times import datetime_to_ms, parse_iso

    if text is None:
        return None
    value = text.strip()
    try:
        return int(value) if value.isascii() and value.isdigit() else datetime_to_ms(parse_iso(value))
    except (ValueError, OverflowError):
        raise typer.BadParameter(f"{text!r} is not milliseconds since the epoch or an RFC 3339 time", param_hint=option) from None


def _version(version) -> dict:  # noqa: ANN001 - a pricing.Version, imported lazily
    from billbook.money import micros_to_decimal
    from billbook.times import ms_to_iso

    return {
        "model_id": version.model_id,
        "version": version.id,
        "name": version.name,
        "type": version.type,
        "description": version.description,
        "base_price": micros_to_decimal(version.base_price),
        "formula": version.formula,
        "sort_order": version.sort_order,
        "effective_from": ms_to_iso(version.effective_from),
        "created_at": ms_to_iso(version.created_at),
    }


def _line(item: dict) -> str:
    formula = f"  formula: {item['formula']}" if item["formula"] else ""
    return f"{item['model_id']}  {format(item['base_price'], 'f')} USD  from {item['effective_from']}  (version {item['version']}){formula}"


@operator_command(models_app, "set", DATABASE)
def models_set(
    settings: Settings,
    model_id: ModelId,
    base_price: Annotated[int, usd_option("--base-price", "Base price in USD.")],
    formula: Annotated[
        str | None, typer.Option("--formula", help="JSONata over base_price and the inputs, e.g. 'base_price * duration / 5'.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name (default: the model id).")] = None,
    model_type: Annotated[str, typer.Option("--type", help="Model type, e.g. text-to-image.")] = "",
    description: Annotated[str, typer.Option("--description", help="Description.")] = "",
    sort_order: Annotated[int, typer.Option("--sort-order", help="Position in the catalog.")] = 0,
    effective_from: Annotated[
        str | None, typer.Option("--effective-from", help="When it takes effect: ms or RFC 3339 (default: now).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Add a price version of a model. Versions are never edited: the latest in force applies.

    Example: billbook models set google/veo3-fast --base-price 0.5 --formula 'base_price * duration / 5' --json
    """
    from billbook.ledger import pricing

    new = pricing.NewVersion(
        name=name or model_id,
        base_price=base_price,
        type=model_type,
        description=description,
        formula=formula,
        sort_order=sort_order,
        effective_from=_time("--effective-from", effective_from),
    )
    version, created = in_transaction(settings, lambda conn: pricing.add_version(conn, model_id, new))
    data = {**_version(version), "created": created}
    verb = "added" if created else "already in force (nothing added)"
    emit(as_json, data, f"{verb}: {_line(data)}")


@operator_command(models_app, "list", DATABASE)
def models_list(
    settings: Settings,
    at: Annotated[str | None, typer.Option("--at", help="The catalog as it was or will be at: ms or RFC 3339.")] = None,
    as_json: Json = False,
) -> None:
    """The catalog: every model's version in force now (or at --at).

    Example: billbook models list --json
    """
    from billbook.ledger import pricing
    from billbook.times import ms_to_iso, now_ms

    when = _time("--at", at) or now_ms()
    found = in_transaction(settings, lambda conn: pricing.catalog(conn, when))
    items = [_version(v) for v in found]
    emit(as_json, {"at": ms_to_iso(when), "models": items}, "\n".join(map(_line, items)) or "the catalog is empty")


@operator_command(models_app, "history", DATABASE)
def models_history(settings: Settings, model_id: ModelId, as_json: Json = False) -> None:
    """Every price version of a model, newest first.

    Example: billbook models history wavespeed-ai/flux-dev
    """
    from billbook.ledger import pricing

    async def every_version(conn) -> list:  # noqa: ANN001
        found, page = [], 1
        while True:
            total, versions = await pricing.versions(conn, model_id, page, 100)
            found += versions
            if len(found) >= total or not versions:
                return found
            page += 1

    items = [_version(v) for v in in_transaction(settings, every_version)]
    emit(as_json, {"model_id": model_id, "versions": items}, "\n".join(map(_line, items)))


@operator_command(discounts_app, "set", DATABASE)
def discounts_set(
    settings: Settings,
    account: AccountId,
    rate: Annotated[str, typer.Option("--rate", help="Discount in percent, 0 to 100 (at most 2 decimals).")],
    model: Annotated[str | None, typer.Option("--model", help="One model (default: every model).")] = None,
    as_json: Json = False,
) -> None:
    """Set an account's discount, from now on, for every model or one (a model's own wins).

    Example: billbook discounts set --account 1 --rate 12.5 --model wavespeed-ai/flux-dev
    """
    from billbook.ledger import pricing
    from billbook.ledger.errors import InvalidRequest
    from billbook.times import ms_to_iso

    try:
        rate_bp = pricing.rate_bp_of(Decimal(rate.strip().rstrip("%")))
    except (InvalidOperation, InvalidRequest):
        raise typer.BadParameter(f"{rate!r} is not a percentage from 0 to 100 with at most 2 decimals", param_hint="--rate") from None
    discount, changed = in_transaction(settings, lambda conn: pricing.set_discount(conn, account, model, rate_bp))
    percent = pricing.rate_percent(discount.rate_bp)
    data = {
        "account_id": discount.account_id,
        "model_id": discount.model_id,
        "rate_percent": percent,
        "set_at": ms_to_iso(discount.set_at),
        "changed": changed,
    }
    scope = discount.model_id or "every model"
    emit(as_json, data, f"account {account}: {format(percent, 'f')} % off {scope}" + ("" if changed else " (unchanged)"))


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
    app.add_typer(discounts_app, name="discounts")
