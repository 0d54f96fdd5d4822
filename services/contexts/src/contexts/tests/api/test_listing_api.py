"""Listing a namespace: filters and opaque cursor pagination (body and Link header)."""

import re

import httpx

from contexts.tests.api.conftest import ALICE, document

NAMESPACE = "/v1/contexts/team-a"
LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


async def _fill(api: httpx.AsyncClient, count: int) -> None:
    for n in range(count):
        labels = {"parity": "even" if n % 2 == 0 else "odd"}
        kind = "document" if n < count - 1 else "config"
        body = document(f"n{n}", labels=labels)
        if kind == "config":
            body = {"kind": "config", "schema_version": 1, "body": {"n": n}, "labels": labels}
        response = await api.put(f"{NAMESPACE}/ctx-{n:02d}", json=body, headers=ALICE)
        assert response.status_code == 201


async def test_pages_follow_the_cursor(api: httpx.AsyncClient) -> None:
    await _fill(api, 7)
    names: list[str] = []
    url: str | None = f"{NAMESPACE}?limit=3"
    pages = 0
    while url is not None:
        response = await api.get(url, headers=ALICE)
        assert response.status_code == 200
        body = response.json()
        names += [item["name"] for item in body["items"]]
        pages += 1
        if body["next_cursor"] is None:
            assert "link" not in response.headers
            url = None
        else:
            link = LINK.match(response.headers["link"])
            assert link is not None
            assert f"cursor={body['next_cursor']}" in link["url"]
            assert "limit=3" in link["url"]
            url = link["url"]
    assert names == [f"ctx-{n:02d}" for n in range(7)]
    assert pages == 3


async def test_filters_by_kind_and_label(api: httpx.AsyncClient) -> None:
    await _fill(api, 5)
    configs = await api.get(NAMESPACE, params={"kind": "config"}, headers=ALICE)
    assert [item["name"] for item in configs.json()["items"]] == ["ctx-04"]
    odd = await api.get(NAMESPACE, params={"label": "parity=odd"}, headers=ALICE)
    assert [item["name"] for item in odd.json()["items"]] == ["ctx-01", "ctx-03"]


async def test_deleted_contexts_are_not_listed(api: httpx.AsyncClient) -> None:
    await _fill(api, 3)
    await api.delete(f"{NAMESPACE}/ctx-01", headers=ALICE)
    listed = await api.get(NAMESPACE, headers=ALICE)
    assert [item["name"] for item in listed.json()["items"]] == ["ctx-00", "ctx-02"]


async def test_bad_cursors_labels_and_limits_are_422(api: httpx.AsyncClient) -> None:
    await _fill(api, 3)
    cursor = (await api.get(NAMESPACE, params={"limit": 1}, headers=ALICE)).json()["next_cursor"]
    other_query = await api.get(
        NAMESPACE, params={"limit": 1, "cursor": cursor, "kind": "config"}, headers=ALICE
    )
    assert other_query.status_code == 422
    assert other_query.json()["type"] == "urn:contexts:problem:invalid_cursor"
    garbage = await api.get(NAMESPACE, params={"cursor": "!!"}, headers=ALICE)
    assert garbage.status_code == 422
    label = await api.get(NAMESPACE, params={"label": "no-equals"}, headers=ALICE)
    assert label.status_code == 422
    assert label.json()["code"] == "invalid_input"
    for limit in ("0", "101"):
        assert (await api.get(NAMESPACE, params={"limit": limit}, headers=ALICE)).status_code == 422


async def test_an_empty_namespace_lists_nothing(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/contexts/nobody-here", headers=ALICE)
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}
