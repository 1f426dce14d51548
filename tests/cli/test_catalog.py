"""``billbook models`` and ``billbook discounts`` against real databases of both kinds."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from billbook.cli.main import app

runner = CliRunner()


def invoke(*args: str) -> object:
    return runner.invoke(app, list(args), catch_exceptions=False)


def as_json(*args: str) -> dict:
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_models_set_list_history(database_url: str) -> None:
    db = ("--db", database_url)
    first = as_json("models", "set", "google/veo3-fast", "--base-price", "0.5", "--effective-from",
                    "2026-01-01T00:00:00Z", "--type", "text-to-video", *db)
    assert first["created"] is True and first["base_price"] == 0.5 and first["effective_from"] == "2026-01-01T00:00:00.000Z"
    second = as_json("models", "set", "google/veo3-fast", "--base-price", "0.4",
                     "--formula", "base_price * duration / 5", "--effective-from", "2026-02-01T00:00:00Z", *db)
    assert second["formula"] == "base_price * duration / 5"
    again = as_json("models", "set", "google/veo3-fast", "--base-price", "0.4",
                    "--formula", "base_price * duration / 5", "--effective-from", "2026-02-01T00:00:00Z", *db)
    assert again["created"] is False and again["version"] == second["version"]
    as_json("models", "set", "wavespeed-ai/flux-dev", "--base-price", "0.025", "--sort-order", "-1", "--name", "FLUX", *db)
    listed = as_json("models", "list", *db)
    assert [(m["model_id"], m["base_price"]) for m in listed["models"]] == [
        ("wavespeed-ai/flux-dev", 0.025), ("google/veo3-fast", 0.4),
    ]
    earlier = as_json("models", "list", "--at", "2026-01-15T00:00:00Z", *db)
    assert [(m["model_id"], m["base_price"]) for m in earlier["models"]] == [("google/veo3-fast", 0.5)]
    history = as_json("models", "history", "google/veo3-fast", *db)
    assert [v["base_price"] for v in history["versions"]] == [0.4, 0.5]
    human = invoke("models", "list", *db)
    assert human.exit_code == 0 and "google/veo3-fast" in human.output


def test_discounts_set(database_url: str) -> None:
    db = ("--db", database_url)
    account = as_json("accounts", "create", "--name", "Acme", *db)
    as_json("models", "set", "m/a", "--base-price", "1", *db)
    every = as_json("discounts", "set", "--account", str(account["id"]), "--rate", "10", *db)
    assert every == {"account_id": account["id"], "model_id": None, "rate_percent": 10, "set_at": every["set_at"], "changed": True}
    one = as_json("discounts", "set", "--account", str(account["id"]), "--rate", "12.5", "--model", "m/a", *db)
    assert one["model_id"] == "m/a" and one["rate_percent"] == 12.5
    assert as_json("discounts", "set", "--account", str(account["id"]), "--rate", "12.5", "--model", "m/a", *db)["changed"] is False


def test_refusals_are_clear(database_url: str) -> None:
    db = ("--db", database_url)
    bad = invoke("models", "set", "m/a", "--base-price", "1", "--formula", "base_price *", *db)
    assert bad.exit_code == 2 and "formula is not a valid JSONata expression" in bad.output
    unknown = invoke("models", "history", "nobody/nothing", *db)
    assert unknown.exit_code == 1 and "nobody/nothing" in unknown.output
    rate = invoke("discounts", "set", "--account", "1", "--rate", "150", *db)
    assert rate.exit_code == 2 and "--rate" in rate.output
    when = invoke("models", "set", "m/a", "--base-price", "1", "--effective-from", "soon", *db)
    assert when.exit_code == 2 and "--effective-from" in when.output
