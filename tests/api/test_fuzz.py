"""Schemathesis against the server's own OpenAPI document, every public and internal route.

Valid and invalid requests are generated from the document; every answer must be a non-5xx that
the document describes (status code, content type, body schema), and invalid data must be
refused. The schema is read from the app without starting it; the requests go to a real
``billbook serve`` with an account, so public routes run with a working API key.

``BILLBOOK_FUZZ_EXAMPLES`` sets the examples per route (CI: 60).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from billbook.api.app import create_app
from billbook.settings import Settings
from tests.checks import assert_verify_cli
from tests.conftest import ADMIN_TOKEN, start_server, stop_server
from tests.factories import create_account, create_charge, create_key

EXAMPLES = int(os.environ.get("BILLBOOK_FUZZ_EXAMPLES", "60"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite:///unused.db", admin_token=ADMIN_TOKEN)).openapi()
)


class Target:
    def __init__(self, base_url: str, database_url: str, api_key: str) -> None:
        self.base_url, self.database_url = base_url, database_url
        self.public = {"Authorization": f"Bearer {api_key}"}
        self.admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        self.session = requests.Session()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'billbook.db'}"
    proc, base = start_server(url)
    try:
        with httpx.Client(base_url=base) as http:
            account = create_account(http, ADMIN_TOKEN, balance="1000")
            key = create_key(http, ADMIN_TOKEN, account["id"])
            for _ in range(3):
                create_charge(http, ADMIN_TOKEN, key["access_key_id"])
        made = Target(base, url, key["api_key"])
        yield made
        made.session.close()
    finally:
        stop_server(proc)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_route_answers_as_documented(case: schemathesis.Case, target: Target) -> None:
    # The credentials go into the case itself, so that a case generated without them is known to
    # have them when its answer is judged (the test, not the case, decides who is calling).
    case.headers = {**(case.headers or {}), **(target.admin if case.path.startswith("/internal/") else target.public)}
    response = case.call(base_url=target.base_url, session=target.session, timeout=30)
    case.validate_response(response, checks=CHECKS)


def test_the_fuzzed_database_still_verifies(target: Target) -> None:
    """Runs after the fuzzing above (same module): whatever was accepted kept the ledger whole."""
    assert_verify_cli(target.database_url)


def test_every_route_is_fuzzed() -> None:
    assert len(list(schema.get_all_operations())) >= 13
