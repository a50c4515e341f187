"""Property-based API fuzzing (schemathesis): no request the OpenAPI schema allows, and
none it does not, may make the API answer 5xx.

Runs in-process against the WSGI app with a real API key, on whichever database the suite
runs on (SQLite by default, PostgreSQL in CI). The seed is fixed and the example budget
small, so a run is repeatable and takes a few minutes; a failure prints the
reproducing request (curl) and Hypothesis' minimal example.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, seed, settings
from schemathesis.checks import not_a_server_error

from rapport.customers.tests.api_support import make_person
from rapport.identity.tests.factories import UserFactory, api_key_for

SEED = 20261203
MAX_EXAMPLES = 20
STATEFUL_SCENARIOS = 30
STATEFUL_STEPS = 8
CHECKS = [not_a_server_error]
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,  # no example database: the same seed gives the same run everywhere
    phases=[Phase.explicit, Phase.generate],  # no shrinking budget surprises in CI
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def api_headers(db: Any, settings: Any) -> dict[str, str]:
    """An administrator's key with every scope, and a few records for ids to hit."""
    settings.RATELIMIT_API_PER_KEY = "1000000/m"
    admin = UserFactory(is_superuser=True)
    for n in range(3):
        make_person(admin, n)
    _, raw = api_key_for(admin, ["*:write"])
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture(autouse=True)
def _keep_the_test_transaction() -> Iterator[None]:
    # Django's test client keeps the test's transaction open across requests by not
    # closing connections at request boundaries; a raw WSGI call must do the same.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# The schema is public and needs no database: load it once, at collection.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@schema.parametrize()
@seed(SEED)
@FUZZ_SETTINGS
def test_no_request_makes_the_api_answer_5xx(case: Any, api_headers: dict[str, str]) -> None:
    response = case.call(headers=api_headers)
    case.validate_response(response, checks=CHECKS)


@pytest.mark.django_db
def test_no_sequence_of_requests_makes_the_api_answer_5xx(api_headers: dict[str, str]) -> None:
    """Stateful: schemathesis chains operations through the links it infers (an id a
    create returned goes to the read, change and delete of that record)."""
    # A schema of its own: schemathesis feeds values it saw in responses back into
    # generation, and Hypothesis refuses generation that depends on earlier tests.
    fresh = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())

    class Workflow(fresh.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            # Every scenario starts from the same records, so the same choices draw
            # the same requests (Hypothesis checks that they do).
            self.savepoint = transaction.savepoint()

        def teardown(self) -> None:
            transaction.savepoint_rollback(self.savepoint)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": api_headers}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    Workflow.run(
        settings=settings(
            FUZZ_SETTINGS,
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,  # a fixed seed for the scenarios
        )
    )
