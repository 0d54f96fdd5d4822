"""slipway.web.testing: the contract assertion, and suites that fail on an app off the platform."""

import json
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from schemathesis.core.failures import FailureGroup, ServerError

from slipway.config import ServiceSettings
from slipway.web import ServiceParts, create_app, render_openapi
from slipway.web.testing import (
    ProbeSuite,
    app_client,
    assert_contract,
    concrete_path,
    service_operations,
)
from slipway.web.testing.fuzz import fuzz_operations, fuzz_schema


def widgets_router() -> APIRouter:
    """Two operations on one path, one on another, an unversioned one."""
    router = APIRouter()

    @router.get("/v1/widgets/{widget_id}")
    async def get_widget(widget_id: int) -> dict[str, int]:
        return {"id": widget_id}

    @router.put("/v1/widgets/{widget_id}")
    async def put_widget(widget_id: int) -> dict[str, int]:
        return {"id": widget_id}

    @router.get("/internal/stats")
    async def stats() -> dict[str, int]:
        return {}

    return router


@pytest.fixture
def platform_app(service_settings: ServiceSettings) -> FastAPI:
    return create_app(service_settings, ServiceParts(routers=[widgets_router()]))


def test_contract_passes_when_the_file_matches(platform_app: FastAPI, tmp_path: Path) -> None:
    path = tmp_path / "openapi.json"
    path.write_text(render_openapi(platform_app.openapi()), encoding="utf-8")
    assert_contract(platform_app, path, regenerate="./pants run services/w:openapi")


def test_stale_contract_fails_with_a_diff_and_the_command(
    platform_app: FastAPI, tmp_path: Path
) -> None:
    document = platform_app.openapi()
    stale = json.loads(json.dumps(document))
    del stale["paths"]["/v1/widgets/{widget_id}"]["put"]
    path = tmp_path / "openapi.json"
    path.write_text(render_openapi(stale), encoding="utf-8")
    with pytest.raises(AssertionError) as failure:
        assert_contract(platform_app, path, regenerate="./pants run services/w:openapi")
    message = str(failure.value)
    assert message.startswith(f"{path} is stale: run ./pants run services/w:openapi and commit it")
    assert '+      "put": {' in message
    assert len(message.splitlines()) <= 43  # the header, the diff's first 40 lines, a tail


def test_missing_contract_names_the_command(platform_app: FastAPI, tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=r"no committed contract at .*: run \./pants run x"):
        assert_contract(platform_app, tmp_path / "openapi.json", regenerate="./pants run x")


def test_operations_leave_the_probes_out_and_paths_get_concrete(platform_app: FastAPI) -> None:
    operations = service_operations(platform_app)
    assert list(operations) == ["/v1/widgets/{widget_id}", "/internal/stats"]
    get = operations["/v1/widgets/{widget_id}"]["get"]
    assert concrete_path("/v1/widgets/{widget_id}", get) == "/v1/widgets/1"


def test_unversioned_routes_fail_the_suite_unless_allowed(platform_app: FastAPI) -> None:
    with pytest.raises(AssertionError, match="/internal/stats"):
        ProbeSuite().test_service_routes_are_versioned(platform_app)

    class AllowsStats(ProbeSuite):
        unversioned_paths = ("/internal/stats",)

    AllowsStats().test_service_routes_are_versioned(platform_app)


async def test_unsupported_method_uses_a_method_the_path_lacks(platform_app: FastAPI) -> None:
    async with app_client(platform_app) as client:
        await ProbeSuite().test_unsupported_method_is_a_problem(platform_app, client)
    assert ProbeSuite()._unsupported_method(platform_app) == ("/v1/widgets/1", "POST")


async def test_probe_suite_fails_on_an_app_off_the_platform() -> None:
    bare = FastAPI()
    bare.include_router(widgets_router())
    suite = ProbeSuite()
    async with app_client(bare) as client:
        with pytest.raises(AssertionError):
            await suite.test_unknown_route_is_a_problem(client)
        with pytest.raises(AssertionError):
            await suite.test_security_headers_on_success_and_errors(client)
        with pytest.raises(AssertionError):
            await suite.test_request_id_is_echoed_or_made(client)
        with pytest.raises(AssertionError):
            await suite.test_unsupported_method_is_a_problem(bare, client)


def test_fuzzing_finds_a_server_error(service_settings: ServiceSettings) -> None:
    router = APIRouter()

    @router.get("/v1/ratios/{divisor}")
    async def ratio(divisor: int) -> dict[str, float]:
        if divisor % 2 == 0:
            raise RuntimeError("even divisors are not handled")
        return {"ratio": 1 / divisor}

    app = create_app(service_settings, ServiceParts(routers=[router]))
    with pytest.raises(FailureGroup) as failure:
        fuzz_operations(fuzz_schema(app))
    assert [type(error) for error in failure.value.exceptions] == [ServerError]
    assert "even divisors are not handled" not in str(failure.value)  # a problem, no trace


def test_a_stateful_run_goes_on_until_the_report_is_enough(
    service_settings: ServiceSettings,
) -> None:
    """`until` adds suites past `scenarios` while the report is short (here: of calls)."""
    from slipway.web.testing.stateful import run_stateful

    app = create_app(service_settings, ServiceParts(routers=[widgets_router()]))
    plain = run_stateful(fuzz_schema(app), scenarios=4, steps=2, budget_seconds=30)
    more = run_stateful(
        fuzz_schema(app),
        scenarios=4,
        steps=2,
        budget_seconds=30,
        until=lambda report: report.scenarios >= 12,
    )
    assert plain.scenarios < 12
    assert more.scenarios >= 12
    assert more.suites > plain.suites
