"""What the platform gives every service: probes, metrics and the API docs."""

import httpx


async def test_health_answers_without_dependencies(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_every_check(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert all(check["status"] == "ok" for check in body.get("checks", {}).values())


async def test_metrics_are_labelled_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/v1/kinds")
    text = (await client.get("/metrics")).text
    assert 'route="/v1/kinds"' in text


async def test_docs_are_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "swagger-ui" in response.text
