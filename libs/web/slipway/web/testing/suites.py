# ruff: noqa: S101 - pytest tests and assertions, shipped for every service's suite
"""`ProbeSuite`: what every service's app proves, as a test class it subclasses.

    class TestProbes(ProbeSuite):
        pass

They use the `app`, `client`, `settings` and `service` fixtures of the `slipway.web.testing`
plugin, and find the service's own routes in the app's OpenAPI document.
"""

import asyncio
import re
from typing import Any, ClassVar

import httpx
from fastapi import FastAPI

from slipway.config import ServiceSettings
from slipway.web.security import API_CSP, DOCS_CSP

PROBLEM_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "request_id"})
PLATFORM_PATHS = frozenset({"/health", "/ready"})
METHODS = ("get", "put", "post", "delete", "patch")
VERSIONED = re.compile(r"^/v[0-9]+(/|$)")
UNKNOWN_PATH = "/slipway-probe/no-such-route"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with `status` and the request's own id."""
    __tracebackhide__ = True
    assert response.status_code == status, response.text
    assert response.headers.get("content-type") == "application/problem+json", response.headers
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_MEMBERS, body
    assert body["status"] == status
    assert body["request_id"] == response.headers.get("x-request-id")
    assert "Traceback" not in response.text
    return body


def service_operations(app: FastAPI) -> dict[str, dict[str, Any]]:
    """The service's own paths in the app's OpenAPI document (probes left out), in order."""
    paths: dict[str, dict[str, Any]] = app.openapi().get("paths", {})
    return {path: item for path, item in paths.items() if path not in PLATFORM_PATHS}


def concrete_path(template: str, operation: dict[str, Any]) -> str:
    """`template` with each path parameter filled: `1` for integers, `probe` otherwise."""
    path = template
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "path":
            continue
        kind = parameter.get("schema", {}).get("type")
        value = "1" if kind in ("integer", "number") else "probe"
        path = path.replace("{" + parameter["name"] + "}", value)
    return path


def _streams(operation: dict[str, Any]) -> bool:
    responses = operation.get("responses", {}).values()
    return any("text/event-stream" in response.get("content", {}) for response in responses)


def _metrics_path(settings: ServiceSettings) -> str:
    observability = getattr(settings, "observability", None)
    return str(getattr(observability, "metrics_path", "/metrics"))


class ProbeSuite:
    """Probes, metrics, docs, problem+json errors, request ids and headers of a service's app.

    `probe_path` is the GET request the metrics test makes (default: the service's first GET
    operation that does not stream); `unversioned_paths` may sit outside `/v<N>/`.
    """

    probe_path: ClassVar[str | None] = None
    unversioned_paths: ClassVar[tuple[str, ...]] = ()
    request_timeout_seconds: ClassVar[float] = 10.0

    async def test_health_answers_without_dependencies(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_ready_reports_every_check(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/ready")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "ok"
        assert all(check["status"] == "ok" for check in body.get("checks", {}).values()), body

    async def test_metrics_are_labelled_by_route_template(
        self, app: FastAPI, client: httpx.AsyncClient, settings: ServiceSettings
    ) -> None:
        template, path = self._probe_request(app)
        async with asyncio.timeout(self.request_timeout_seconds):
            await client.get(path)
        text = (await client.get(_metrics_path(settings))).text
        assert f'route="{template}"' in text, f"no metrics labelled {template} after GET {path}"

    async def test_docs_follow_the_settings(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        response = await client.get("/docs")
        if app.docs_url is None:
            assert_problem(response, 404)
            return
        assert response.status_code == 200
        assert "swagger-ui" in response.text
        assert response.headers.get("content-security-policy") == DOCS_CSP

    async def test_unknown_route_is_a_problem(self, client: httpx.AsyncClient) -> None:
        body = assert_problem(await client.get(UNKNOWN_PATH), 404)
        assert body["instance"] == UNKNOWN_PATH

    async def test_unsupported_method_is_a_problem(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        path, method = self._unsupported_method(app)
        response = await client.request(method, path)
        assert_problem(response, 405)
        assert method not in response.headers.get("allow", method)

    async def test_request_id_is_echoed_or_made(self, client: httpx.AsyncClient) -> None:
        echoed = await client.get("/health", headers={"X-Request-ID": "probe-suite.42"})
        assert echoed.headers.get("x-request-id") == "probe-suite.42"
        made = await client.get("/health", headers={"X-Request-ID": "not valid!"})
        assert made.headers.get("x-request-id", "") not in ("", "not valid!")

    async def test_security_headers_on_success_and_errors(self, client: httpx.AsyncClient) -> None:
        for path in ("/health", UNKNOWN_PATH):
            response = await client.get(path)
            headers = response.headers
            assert headers.get("x-content-type-options") == "nosniff", path
            assert headers.get("x-frame-options") == "DENY", path
            assert headers.get("referrer-policy") == "no-referrer", path
            assert headers.get("content-security-policy") == API_CSP, path

    def test_service_routes_are_versioned(self, app: FastAPI) -> None:
        unversioned = [
            path
            for path in service_operations(app)
            if not VERSIONED.match(path) and path not in self.unversioned_paths
        ]
        assert not unversioned, f"paths outside /v<N>/: {unversioned}"

    def _probe_request(self, app: FastAPI) -> tuple[str, str]:
        if self.probe_path is not None:
            return self.probe_path, self.probe_path
        for template, item in service_operations(app).items():
            operation = item.get("get")
            if operation is not None and not _streams(operation):
                return template, concrete_path(template, operation)
        return "/health", "/health"  # a service without GET operations of its own

    def _unsupported_method(self, app: FastAPI) -> tuple[str, str]:
        for template, item in service_operations(app).items():
            missing = [method for method in METHODS if method not in item]
            operation = next(item[method] for method in METHODS if method in item)
            if missing:
                return concrete_path(template, operation), missing[0].upper()
        return "/health", "DELETE"
