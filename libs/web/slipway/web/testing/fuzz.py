"""`ContractSuite`, and fuzzing an app from its own OpenAPI document with schemathesis.

`ContractSuite` checks the committed contract and fuzzes the `app` fixture through the
`fuzz_openapi` fixture, sending the `fuzz_headers` fixture (override it, e.g. with a bearer
token) with every request. Quick and
repeatable: 8 examples per operation, a fixed seed. Operations that stream
(`text/event-stream`) never end and are left out. Outside the suite::

    schema = fuzz_schema(app)


    @schema.parametrize()
    def test_no_request_makes_the_service_fail(case: schemathesis.Case[Any]) -> None:
        no_server_error(case)
"""

from collections.abc import Iterable, Mapping
from typing import Any

import hypothesis  # pants: no-infer-dep - installed by schemathesis
import schemathesis
from fastapi import FastAPI
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.schemas import BaseSchema

from slipway.web.service import Service
from slipway.web.testing.contract import assert_contract

# Few examples, a fixed seed, no example database and no exhaustive coverage phase: a quick run
# that is the same every time.
FUZZ_CONFIG = """
[generation]
max-examples = 8
deterministic = true
database = "none"

[phases.coverage]
enabled = false
"""


def streaming_paths(app: FastAPI) -> list[str]:
    """Paths with an operation answering `text/event-stream`."""
    paths: dict[str, dict[str, Any]] = app.openapi().get("paths", {})
    return [
        path
        for path, item in paths.items()
        if any(
            "text/event-stream" in response.get("content", {})
            for operation in item.values()
            if isinstance(operation, dict)
            for response in operation.get("responses", {}).values()
        )
    ]


def fuzz_schema(
    app: FastAPI, *, exclude_paths: Iterable[str] = (), config: str = FUZZ_CONFIG
) -> BaseSchema:
    """The app's schema for `@schema.parametrize()`, streaming paths and `exclude_paths` out."""
    schema: BaseSchema = schemathesis.openapi.from_asgi(
        "/openapi.json", app, config=SchemathesisConfig.from_str(config)
    )
    for path in (*streaming_paths(app), *exclude_paths):
        schema = schema.exclude(path=path)
    return schema


def no_server_error(case: schemathesis.Case[Any], headers: Mapping[str, str] | None = None) -> None:
    """Send `case` (with `headers`, e.g. a bearer token) and fail on any 5xx."""
    case.call_and_validate(headers=dict(headers or {}), checks=[not_a_server_error])


def fuzz_operations(
    schema: BaseSchema, headers: Mapping[str, str] | None = None, *, max_examples: int = 8
) -> None:
    """Send `max_examples` generated requests to every operation of `schema`; fail on a 5xx.

    Hypothesis drives each operation's strategy with a fixed seed and no example database,
    so a run repeats exactly (schemathesis' lazy pytest loader does not run on pytest 9).
    """
    __tracebackhide__ = True
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            raise AssertionError(f"the app's OpenAPI document is invalid: {result.err()}")
        operation = result.ok()

        @hypothesis.settings(
            max_examples=max_examples,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def send(case: schemathesis.Case[Any]) -> None:
            no_server_error(case, headers)

        send()


class ContractSuite:
    """The app serves the committed `openapi.json`, and no fuzzed request gets a 5xx."""

    def test_committed_contract_matches_the_app(self, app: FastAPI, service: Service[Any]) -> None:
        __tracebackhide__ = True
        assert_contract(app, service.contract_path, regenerate=service.regenerate_command)

    def test_no_request_makes_the_service_fail(
        self, fuzz_openapi: BaseSchema, fuzz_headers: Mapping[str, str]
    ) -> None:
        fuzz_operations(fuzz_openapi, fuzz_headers)
