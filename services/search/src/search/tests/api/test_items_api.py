"""The items API through httpx.ASGITransport: status codes, bodies and problem documents."""

from typing import Any
from uuid import uuid4

import httpx

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance", "request_id"}


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with `status` and the request's id."""
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_MEMBERS
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_a_created_item_is_returned_and_can_be_fetched(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/items", json={"name": "first item"})
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "first item"
    fetched = await client.get(f"/v1/items/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_items_are_listed_by_name(client: httpx.AsyncClient) -> None:
    for name in ("cherry", "apple", "banana"):
        assert (await client.post("/v1/items", json={"name": name})).status_code == 201
    listed = await client.get("/v1/items", params={"limit": 2})
    assert listed.status_code == 200
    assert [item["name"] for item in listed.json()["items"]] == ["apple", "banana"]


async def test_an_unknown_item_is_a_404_problem(client: httpx.AsyncClient) -> None:
    missing = uuid4()
    body = assert_problem(await client.get(f"/v1/items/{missing}"), 404)
    assert body["type"] == "urn:search:problem:item-not-found"
    assert str(missing) in body["detail"]


async def test_a_malformed_item_id_is_a_422_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/v1/items/not-a-uuid"), 422)
    assert [error["loc"] for error in body["errors"]] == [["path", "item_id"]]


async def test_a_repeated_idempotency_key_replays_the_first_response(
    client: httpx.AsyncClient,
) -> None:
    key = {"Idempotency-Key": f"create-{uuid4()}"}
    first = await client.post("/v1/items", json={"name": "once"}, headers=key)
    again = await client.post("/v1/items", json={"name": "once"}, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    listed = await client.get("/v1/items")
    assert [item["name"] for item in listed.json()["items"]] == ["once"]


async def test_another_body_under_a_used_idempotency_key_is_a_422_problem(
    client: httpx.AsyncClient,
) -> None:
    key = {"Idempotency-Key": f"create-{uuid4()}"}
    assert (await client.post("/v1/items", json={"name": "first"}, headers=key)).status_code == 201
    reused = await client.post("/v1/items", json={"name": "second"}, headers=key)
    body = assert_problem(reused, 422)
    assert body["type"] == "urn:slipway:problem:idempotency-key-reused"
    listed = await client.get("/v1/items")
    assert [item["name"] for item in listed.json()["items"]] == ["first"]


async def test_an_empty_name_is_a_422_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.post("/v1/items", json={"name": ""}), 422)
    assert [error["pointer"] for error in body["errors"]] == ["#/body/name"]
