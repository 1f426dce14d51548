"""Settings: every format checked when read, one line naming the variable (or the option), secrets
stripped and never repeated, and one way to hand them to worker processes."""

from __future__ import annotations

import pytest

from billbook.api.ratelimit import Rate
from billbook.cli.operating import DATABASE, LISTEN, WORKERS
from billbook.settings import Settings, SettingsError, hide_password, load_settings, parse_rate

TOKEN = "0123456789abcdef"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("BILLBOOK_"):
            monkeypatch.delenv(name)


def refused(**values: object) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(**values)
    message = str(caught.value)
    assert "\n" not in message
    return message


# --- the admin token -------------------------------------------------------------------------------


@pytest.mark.parametrize("mounted", [f"{TOKEN}\n", f"  {TOKEN}\r\n", f"\t{TOKEN} "])
def test_the_admin_token_is_stripped(mounted: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLBOOK_ADMIN_TOKEN", mounted)
    assert Settings().admin_token == TOKEN
    assert Settings(admin_token=mounted).admin_token == TOKEN


@pytest.mark.parametrize("blank", ["", "  ", "\n"])
def test_a_blank_admin_token_is_no_token(blank: str) -> None:
    assert Settings(admin_token=blank).admin_token is None


def test_a_short_admin_token_is_refused_without_repeating_it() -> None:
    message = refused(admin_token="fifteen-chars-x\n")
    assert message == "BILLBOOK_ADMIN_TOKEN must be at least 16 characters, got 15"
    assert Settings(admin_token="sixteen-chars-xx").admin_token == "sixteen-chars-xx"


def test_the_metrics_settings() -> None:
    settings = Settings(metrics_token=f" {TOKEN}\n", metrics_port=9100)
    assert (settings.metrics_token, settings.metrics_port) == (TOKEN, 9100)
    assert Settings().metrics_token is None and Settings().metrics_port is None
    assert refused(metrics_port=0).startswith("BILLBOOK_METRICS_PORT: input should be greater than or equal to 1")
    assert TOKEN not in refused(metrics_token=TOKEN, port="x")


# --- formats ---------------------------------------------------------------------------------------

RATES = ["600/minute", "10/second", "5/s", "1000/5m", "2/Hours", "100 / day", "off", "", None, "0", "OFF"]
BAD_RATES = ["600/min", "600", "600/fortnight", "-1/minute", "x/minute", "0/minute", "1/2/minute"]


@pytest.mark.parametrize("text", RATES)
def test_the_rate_grammar_is_the_limiters(text: str | None) -> None:
    rate = Rate.parse(text)
    assert parse_rate(text) == (None if rate is None else (rate.count, int(rate.period)))
    assert Settings(rate_limit=text).rate_limit == text


@pytest.mark.parametrize("text", BAD_RATES)
def test_a_bad_rate_is_refused_as_the_limiter_would(text: str) -> None:
    with pytest.raises(ValueError, match="BILLBOOK_RATE_LIMIT"):
        Rate.parse(text)
    assert refused(rate_limit=text) == (
        f"BILLBOOK_RATE_LIMIT must look like '600/minute' (N/second|minute|hour|day), got {text!r}"
    )


def test_the_log_format() -> None:
    assert Settings(log_format="text").log_format == "text"
    assert refused(log_format="yaml") == "BILLBOOK_LOG_FORMAT must be json or text, got 'yaml'"


@pytest.mark.parametrize(
    "url",
    ["sqlite:///billbook.db", "sqlite:////abs/x.db", "postgresql://u@h/db", "postgres://u:p@h:5433/db",
     "postgresql+asyncpg://u@h/db"],
)
def test_database_urls_billbook_runs_on(url: str) -> None:
    assert Settings(database_url=url).database_url == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "BILLBOOK_DATABASE_URL is not a database URL like sqlite:///billbook.db or "
                      "postgresql://user@host/db, got 'not a url'"),
        ("mysql://root:hunter2@db/x", "BILLBOOK_DATABASE_URL must start with sqlite:// or postgresql://, "
                                      "got 'mysql://root:***@db/x'"),
        ("postgresql://u:hunter2@h:port/db", "BILLBOOK_DATABASE_URL is not a database URL like sqlite:///billbook.db"
                                             " or postgresql://user@host/db, got 'postgresql://u:***@h:port/db'"),
    ],
)
def test_a_bad_database_url_names_the_variable_and_hides_the_password(url: str, message: str) -> None:
    assert refused(database_url=url) == message


def test_an_option_is_named_instead_of_the_variable() -> None:
    with pytest.raises(SettingsError, match="^--db must start with sqlite://"):
        load_settings({"database_url": "--db"}, database_url="mysql://x")


def test_a_bad_number_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLBOOK_PORT", "eighty")
    assert refused().startswith("BILLBOOK_PORT: input should be a valid integer")
    monkeypatch.setenv("BILLBOOK_PORT", "70000")
    assert refused() == "BILLBOOK_PORT: input should be less than or equal to 65535, got '70000'"


@pytest.mark.parametrize(
    ("url", "shown"),
    [("postgresql://u:secret@h/db", "postgresql://u:***@h/db"), ("postgresql://u@h/db", "postgresql://u@h/db"),
     ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"), ("not a url", "not a url")],
)
def test_hide_password(url: str, shown: str) -> None:
    assert hide_password(url) == shown


# --- one path --------------------------------------------------------------------------------------


def test_options_override_the_environment_and_none_means_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BILLBOOK_PORT", "9001")
    monkeypatch.setenv("BILLBOOK_HOST", "0.0.0.0")
    settings = load_settings(port=9002, host=None)
    assert (settings.port, settings.host) == (9002, "0.0.0.0")


def test_workers_get_the_same_settings_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    given = Settings(
        database_url="postgresql://u:p@h/db", admin_token=TOKEN, port=9003, workers=3, rate_limit="5/s",
        rate_limit_burst=2, access_log=False, log_format="text", metrics_token=TOKEN, metrics_port=9100,
    )
    for name, value in given.as_environment().items():
        monkeypatch.setenv(name, value)
    assert Settings() == given


def test_the_defaults_shown_in_help_are_the_settings_defaults() -> None:
    for option in (*DATABASE, *LISTEN, *WORKERS):
        assert Settings.model_fields[option.field].default == option.shown_default, option.flag
