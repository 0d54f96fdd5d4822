"""The example's API through httpx.ASGITransport: routes, errors, probes and metrics."""

from typing import Any

import httpx

from slipway.web.example.app import VERSION, Settings

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "request_id"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with `status` and the request's id."""
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_MEMBERS
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_greets_by_name(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/greetings/ada")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"name": "ada", "message": "Hello, ada!"}


async def test_registered_template_is_used(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/v1/greetings", json={"name": "grace", "template": "Good morning, {name}."}
    )
    assert created.status_code == 201
    assert created.json() == {"name": "grace", "template": "Good morning, {name}."}
    assert (await client.get("/v1/greetings/grace")).json()["message"] == "Good morning, grace."
    again = await client.post("/v1/greetings", json={"name": "grace", "template": "Hi {name}"})
    body = assert_problem(again, 409)
    assert body["type"] == "urn:slipway:example:greeting-exists"


async def test_request_id_is_echoed_when_valid(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/greetings/ada", headers={"X-Request-ID": "req-42.a_b"})
    assert response.headers["x-request-id"] == "req-42.a_b"


async def test_request_id_is_generated_when_missing_or_invalid(client: httpx.AsyncClient) -> None:
    generated = (await client.get("/v1/greetings/ada")).headers["x-request-id"]
    replaced = (
        await client.get("/v1/greetings/ada", headers={"X-Request-ID": "bad id\twith spaces"})
    ).headers["x-request-id"]
    for request_id in (generated, replaced):
        assert len(request_id) == 32
        int(request_id, 16)
    assert generated != replaced


async def test_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v2/greetings/ada"), 404)
    assert body["instance"] == "/v2/greetings/ada"


async def test_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/greetings/ada")
    assert_problem(response, 405)
    assert "GET" in response.headers["allow"]


async def test_422_lists_every_invalid_body_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/greetings", json={"name": "9lives", "template": "hi"})
    body = assert_problem(response, 422)
    fields = {error["pointer"]: error for error in body["errors"]}
    assert set(fields) == {"#/body/name", "#/body/template"}
    assert "{name}" in fields["#/body/template"]["message"]
    assert fields["#/body/name"]["type"] == "string_pattern_mismatch"


async def test_422_for_an_invalid_path_parameter(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/greetings/" + "a" * 65), 422)
    [error] = body["errors"]
    assert error["loc"] == ["path", "name"]


async def test_413_when_the_body_is_too_large(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    limit = settings.web.max_body_bytes
    template = "{name}" + "x" * limit
    response = await client.post("/v1/greetings", json={"name": "ada", "template": template})
    body = assert_problem(response, 413)
    assert str(limit) in body["detail"]


async def test_security_headers(client: httpx.AsyncClient) -> None:
    for response in (
        await client.get("/v1/greetings/ada"),
        await client.get("/nowhere"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers  # plain http


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_checks_the_store(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["greeting-store"]["status"] == "ok"


async def test_metrics_are_labelled_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/v1/greetings/metrics-probe")
    text = (await client.get("/metrics")).text
    lines = [line for line in text.splitlines() if line.startswith("http_requests_total{")]
    assert any('route="/v1/greetings/{name}"' in line and 'method="GET"' in line for line in lines)
    assert "metrics-probe" not in text


async def test_openapi_names_the_service_version(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert schema["info"]["version"] == VERSION
    assert "/v1/greetings/{name}" in schema["paths"]
