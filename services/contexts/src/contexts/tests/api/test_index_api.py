"""The index scope on the whole service (SQLite): every context readable, the catalog across
namespaces (`GET /v1/contexts`), and nothing writable."""

from collections.abc import Mapping

import httpx

from contexts.tests.api.conftest import ALICE, READ, READER_ONLY, WRITE, bearer, document

INDEX = "contexts:index"
INDEXER = bearer("search", scopes=[READ, INDEX])
INDEXER_WITH_WRITE = bearer("search", scopes=[READ, WRITE, INDEX])
ONLY_INDEX = bearer("search", scopes=[INDEX])
PRIVATE: dict[str, object] = {
    "kind": "document",
    "body": {"content": "secret"},
    "acl": {"readers": [], "writers": []},
}


async def _put(client: httpx.AsyncClient, path: str, body: Mapping[str, object]) -> None:
    response = await client.put(f"/v1/contexts/{path}", json=body, headers=ALICE)
    assert response.status_code in (200, 201), response.text


async def test_an_indexer_reads_a_context_no_acl_names_it_in(client: httpx.AsyncClient) -> None:
    await _put(client, "team-a/private", PRIVATE)
    assert (
        await client.get("/v1/contexts/team-a/private", headers=bearer("eve"))
    ).status_code == 404
    read = await client.get("/v1/contexts/team-a/private", headers=INDEXER)
    assert read.status_code == 200
    assert read.json()["body"]["content"] == "secret"


async def test_an_indexer_may_not_write_even_with_the_write_scope(
    client: httpx.AsyncClient,
) -> None:
    await _put(client, "team-a/private", PRIVATE)
    url = "/v1/contexts/team-a/private"
    replaced = await client.put(url, json=document("mine now"), headers=INDEXER_WITH_WRITE)
    deleted = await client.delete(url, headers=INDEXER_WITH_WRITE)
    assert (replaced.status_code, deleted.status_code) == (403, 403)
    assert (await client.put(url, json=document(), headers=INDEXER)).status_code == 403  # scope
    assert (await client.get(url, headers=ALICE)).json()["version"] == 1


async def test_the_catalog_pages_every_live_context_by_namespace_then_name(
    client: httpx.AsyncClient,
) -> None:
    for path in ("team-b/one", "team-a/two", "team-a/one", "team-c/gone", "team-b/private"):
        await _put(client, path, PRIVATE if "private" in path else document(path))
    gone = await client.delete("/v1/contexts/team-c/gone", headers=ALICE)
    assert gone.status_code == 200
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = await client.get("/v1/contexts", params=params, headers=ONLY_INDEX)
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [f"{item['namespace']}/{item['name']}" for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            assert "link" not in page.headers
            break
        assert 'rel="next"' in page.headers["link"]
    assert seen == ["team-a/one", "team-a/two", "team-b/one", "team-b/private"]
    assert pages == 2


async def test_the_catalog_items_carry_what_an_index_needs(client: httpx.AsyncClient) -> None:
    await _put(client, "team-a/runbook", document("# Runbook", labels={"team": "a"}))
    item = (await client.get("/v1/contexts", headers=ONLY_INDEX)).json()["items"][0]
    assert item["body"]["content"] == "# Runbook"
    assert item["labels"] == {"team": "a"}
    assert item["owner"] == "alice"
    assert item["acl"] == {"readers": ["subject:bob"], "writers": ["group:editors"]}
    assert item["version"] == 1


async def test_the_catalog_needs_the_index_scope(client: httpx.AsyncClient) -> None:
    await _put(client, "team-a/one", document())
    refused = await client.get("/v1/contexts", headers=READER_ONLY)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.get("/v1/contexts")).status_code == 401


async def test_the_catalog_refuses_a_cursor_it_did_not_issue(client: httpx.AsyncClient) -> None:
    for cursor, limit in (("bm90LWEtY3Vyc29y", 10), ("x", 10), (None, 101), (None, 0)):
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        refused = await client.get("/v1/contexts", params=params, headers=ONLY_INDEX)
        assert refused.status_code == 422, (cursor, limit, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
