"""The stateful contract run of contexts, shared by the SQLite and the PostgreSQL test.

schemathesis' state machine follows contexts' OpenAPI links (api/contract.py): a `PUT` that
created a context leads to reading, replacing, patching, listing and deleting it, its versions
and its audit trail, with every schemathesis check on each answer. `ALLOWED_FAILURES` is every
failure the run tolerates, each with its reason, as narrow as it can be (operation, status,
problem type or error); the summary, printed on failure, lists the failures each allowance
covered and the allowances a run did not need (`StatefulReport.unused_allowances`).
"""

import itertools
import re
from collections.abc import Iterator
from typing import Any

import schemathesis
from fastapi import FastAPI
from pydantic import SecretStr

from contexts.domain.model import ETAG_PATTERN, MAX_SAFE_INTEGER
from contexts.main import service
from contexts.settings import Settings
from contexts.tests.api.conftest import bearer
from slipway.config import Environment
from slipway.db import DatabaseSettings
from slipway.web import WebSettings
from slipway.web.settings import RateLimitSettings
from slipway.web.testing.fuzz import fuzz_schema
from slipway.web.testing.stateful import (
    AllowedFailure,
    FoundFailure,
    StatefulReport,
    assert_no_unexpected_failures,
    run_stateful,
    steer,
)

CONTEXT = "/v1/contexts/{namespace}/{name}"
PUT = f"PUT {CONTEXT}"
PATCH = f"PATCH {CONTEXT}"
DELETE = f"DELETE {CONTEXT}"
GET = f"GET {CONTEXT}"
LIST = "GET /v1/contexts/{namespace}"
# The cross-namespace listing serves only `contexts:index` holders, and an indexer may not
# write: with one token the run could either write or list it, never both. It has its own
# tests (test_index_api.py); the stateless contract test still fuzzes it.
CATALOG = "/v1/contexts"
WRITES = "[PD]*"  # PUT, PATCH and DELETE of a context

# How much the run does on each backend: scenarios of up to STEPS calls, a wall-clock cap
# (the BUILD file's timeout covers both backends with room to spare).
SCENARIOS = 150
STEPS = 12
BUDGET_SECONDS = 75.0
# The share (%) of positive writes `stateful_schema` steers; the rest stay as generated. Every
# positive PATCH and DELETE: a generated precondition or Idempotency-Key is only ever a 412 or
# a 422 there, and few of them reach a context that exists.
STEERED = {PUT: 90, PATCH: 100, DELETE: 100}
# The least each operation must have succeeded for the run to count: it must really create,
# replace, patch, list, read and delete many contexts.
AT_LEAST = {PUT: 40, PATCH: 8, DELETE: 8, LIST: 20, GET: 3}


def stateful_config(token: str) -> str:
    """Every schemathesis check on, positive and negative data, fixed seeds, the token.

    The token goes in as the document's `bearer` scheme, so schemathesis knows which header
    is the credential (for `ignored_auth`, and so that a case without it is negative).
    """
    return f"""
[checks]
enabled = true

[generation]
mode = "all"
deterministic = true
database = "none"

[auth.openapi.bearer]
bearer = "{token}"
"""


def fuzz_settings(database_url: str) -> Settings:
    """The service's test settings on `database_url`, without its rate limit.

    The run sends thousands of requests as one principal within a minute, far past the
    limit (600 a minute); the limiter has tests of its own.
    """
    return Settings(
        environment=Environment.TEST,
        database=DatabaseSettings(url=SecretStr(database_url)),
        redis=None,
        web=WebSettings(rate_limit=RateLimitSettings(enabled=False)),
    )


def _walk(value: object) -> Iterator[object]:
    yield value
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


def _integral_float(found: FoundFailure) -> bool:
    """Whether the request's body holds a number written with a fraction that JSON Schema
    calls an integer (`413.0`)."""
    return any(isinstance(item, float) and item.is_integer() for item in _walk(found.body))


def _free_form(found: FoundFailure) -> object:
    """The free-form JSON of a write: a `config` body (PUT) or a merge patch's `body`."""
    body = found.body if isinstance(found.body, dict) else {}
    if found.operation == PATCH or body.get("kind") == "config":
        return body.get("body")
    return None


def _nul_in_free_form(found: FoundFailure) -> bool:
    return any(isinstance(item, str) and "\x00" in item for item in _walk(_free_form(found)))


def _huge_integer_in_free_form(found: FoundFailure) -> bool:
    return any(
        isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_SAFE_INTEGER
        for item in _walk(_free_form(found))
    )


def _only_unknown_query_parameters(found: FoundFailure) -> bool:
    violations = [line for line in found.message.splitlines() if line.strip().startswith("- ")]
    return bool(violations) and all(
        "query: violates `additionalProperties`" in line for line in violations
    )


ALLOWED_FAILURES: tuple[AllowedFailure, ...] = (
    # -- answers that are right, which schemathesis cannot know ---------------------------
    AllowedFailure(
        "positive_data_acceptance",
        "an Idempotency-Key the fuzzer already used for another request is a 422 (by design)",
        operation=WRITES,
        status=422,
        contains="urn:slipway:problem:idempotency-key-reused",
    ),
    AllowedFailure(
        "positive_data_acceptance",
        "If-Match from an earlier answer goes stale once a later step changes or deletes the"
        " context: 412 is the point of the precondition (by design)",
        operation=WRITES,
        status=412,
        contains="urn:contexts:problem:precondition_failed",
    ),
    AllowedFailure(
        "positive_data_acceptance",
        "a cursor is an opaque token the service issued; any other string is a 422 (by design)",
        operation=LIST,
        status=422,
        contains="urn:contexts:problem:invalid_cursor",
    ),
    AllowedFailure(
        "use_after_free",
        "a deleted context keeps its history readable: versions, audit (tombstone, by design)",
        operation="GET /v1/contexts/{namespace}/{name}/*",
        status=200,
    ),
    AllowedFailure(
        "use_after_free",
        "another step of the scenario re-created the deleted context (a live version answers)",
        operation=GET,
        status=200,
        contains='"deleted":false',
    ),
    AllowedFailure(
        "negative_data_rejection",
        "unknown query parameters are ignored, as HTTP APIs commonly do (by design)",
        when=_only_unknown_query_parameters,
    ),
    AllowedFailure(
        "negative_data_rejection",
        "a body over the body limit is a 413 before it is parsed, whatever it holds (by design)",
        status=413,
        contains="request body exceeds",
    ),
    AllowedFailure(
        "positive_data_acceptance",
        "a merge patch's result must be valid for the stored context's kind: whether a patch"
        " is depends on the context, not on the request (by design)",
        operation=PATCH,
        status=422,
        contains="urn:contexts:problem:invalid_body",
    ),
    # -- what JSON Schema cannot say (schema-valid requests the API rightly rejects) --------
    AllowedFailure(
        "positive_data_acceptance",
        "an integer is a JSON number without fraction (`schema_version`, `max_turns`: strict"
        " pydantic); JSON Schema's data model calls 413.0 an integer too",
        operation=WRITES,
        status=422,
        contains='"type":"int_type"',
        when=_integral_float,
    ),
    AllowedFailure(
        "positive_data_acceptance",
        "text with NUL (U+0000) is a 422 on both backends (issue 12): the kinds' strings and"
        " labels say so (a pattern), but free-form JSON (a `config` body, a merge patch) is"
        " `{}` in the document (pydantic's JsonValue): only a recursive JSON-value schema"
        " could reach its nested strings and keys, which schemathesis cannot always generate"
        " from (schemathesis#947)",
        operation=WRITES,
        status=422,
        contains="NUL character",
        when=_nul_in_free_form,
    ),
    AllowedFailure(
        "positive_data_acceptance",
        "integers beyond +-(2**53 - 1) are a 422 (I-JSON, RFC 7493) in free-form JSON; JSON"
        " Schema cannot say it, since 1e20 (a float, taken) and 100000000000000000000 (an"
        " integer, refused) are the same number to it",
        operation=WRITES,
        status=422,
        contains="I-JSON",
        when=_huge_integer_in_free_form,
    ),
)


def _etag(value: object) -> bool:
    """Whether `value` has the shape of an ETag this service issues (a link passes one on);
    a generated list, weak tag or `*` would only be a 412 on a context the run just made."""
    return isinstance(value, str) and re.fullmatch(ETAG_PATTERN, value) is not None


_KEYS = itertools.count()


def _without_bad_preconditions(case: schemathesis.Case[Any]) -> None:
    """Drop generated If-Match / If-None-Match that are no entity-tag (a link's ETag stays),
    and make a generated Idempotency-Key one no other request used."""
    headers = case.headers.copy()
    for name in ("If-Match", "If-None-Match"):
        if name in headers and not _etag(headers[name]):
            del headers[name]
    if "Idempotency-Key" in headers:
        headers["Idempotency-Key"] = f"stateful-{next(_KEYS)}"
    case.headers = headers


def _storable_put(case: schemathesis.Case[Any]) -> None:
    """A `config` (any JSON object) at its only schema version, without a bad precondition."""
    if isinstance(case.body, dict) and isinstance(case.body.get("body"), dict):
        case.body = {**case.body, "kind": "config", "schema_version": 1}
    _without_bad_preconditions(case)


def _object_patch(case: schemathesis.Case[Any]) -> None:
    """A merge patch whose `body` is an object, as every built-in kind's body is."""
    if isinstance(case.body, dict):
        patch = case.body
        if not isinstance(patch.get("body", {}), dict):
            patch = {**patch, "body": {"patched": patch["body"]}}
        case.body = patch
    _without_bad_preconditions(case)


def stateful_schema(app: FastAPI, token: str) -> Any:
    """contexts' schema for the state machine, steered so that writes often succeed.

    Most positive `PUT`s become `config` contexts, whose body is any JSON object, so that a
    later merge patch (any JSON, whose result must still be valid for the context's kind) of
    it succeeds too; most positive `PATCH`es get an object `body`, and `PATCH`es and
    `DELETE`s lose a generated entity-tag precondition that would only be a 412. The rest
    stay as generated.
    """
    schema = fuzz_schema(app, exclude_paths=[CATALOG], config=stateful_config(token))
    steer(schema, PUT, _storable_put, percent=STEERED[PUT])
    steer(schema, PATCH, _object_patch, percent=STEERED[PATCH])
    steer(schema, DELETE, _without_bad_preconditions, percent=STEERED[DELETE])
    return schema


def run_contexts_statefully(database_url: str) -> StatefulReport:
    """Run the state machine on the whole service on `database_url`; fail on what it finds."""
    __tracebackhide__ = True
    app = service.build_app(fuzz_settings(database_url))
    token = bearer("fuzzer")["Authorization"].removeprefix("Bearer ")
    report = run_stateful(
        stateful_schema(app, token),
        allowed=ALLOWED_FAILURES,
        scenarios=SCENARIOS,
        steps=STEPS,
        budget_seconds=BUDGET_SECONDS,
        until=lambda done: all(done.successes(op) >= n for op, n in AT_LEAST.items()),
    )
    print(report.summary())  # pytest shows it with the test's output
    assert_no_unexpected_failures(report)
    short = {op: report.successes(op) for op in AT_LEAST if report.successes(op) < AT_LEAST[op]}
    assert not short, f"too few successful calls: {short}, want {AT_LEAST}\n{report.summary()}"
    return report
