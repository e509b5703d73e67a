"""The JSON API, fuzzed from its own OpenAPI schema: no input makes the server fail (5xx).

schemathesis draws requests for every operation of `/openapi.json`, valid ones and invalid
ones, and sends them in-process to the app on a seeded database, as the researcher. (Its
pytest plugin does not run under pytest 9, so each operation is driven by hypothesis
directly, one subtest each.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation

from tests.web.conftest import Seeded

EXAMPLES_PER_OPERATION = 25


def _no_server_error(operation: APIOperation[Any, Any, Any, Any], token: str) -> None:
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(cases)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def call(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error]
        )

    call()


def test_no_request_makes_a_server_error(
    app: FastAPI, seeded: Seeded, subtests: pytest.Subtests
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the OpenAPI schema is invalid: {result.err()}"
        operations.append(result.ok())
    assert {operation.label for operation in operations} >= {
        "GET /api/trials",
        "GET /api/trials/{trial_id}",
        "GET /api/trials/{trial_id}/observations",
        "POST /api/trials/{trial_id}/observations",
        "GET /api/trials/{trial_id}/analysis",
    }
    for operation in operations:
        with subtests.test(msg=operation.label):
            _no_server_error(operation, seeded.api_token)
