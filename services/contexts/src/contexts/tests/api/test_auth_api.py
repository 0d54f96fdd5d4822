"""Tokens, scopes (401/403) and ACLs (403 for who may read, 404 for who may not)."""

import httpx
import pytest

from contexts.tests.api.conftest import (
    ALICE,
    BOB,
    CAROL,
    EVE,
    READ,
    READER_ONLY,
    ROOT,
    WRITE,
    bearer,
    document,
)

URL = "/v1/contexts/team-a/runbook"
MERGE = {"content-type": "application/merge-patch+json"}

ENDPOINTS = [
    ("GET", URL),
    ("GET", f"{URL}/versions"),
    ("GET", f"{URL}/versions/1"),
    ("GET", f"{URL}/audit"),
    ("GET", "/v1/contexts/team-a"),
    ("GET", "/v1/kinds"),
    ("PUT", URL),
    ("PATCH", URL),
    ("DELETE", URL),
]


def _request(api: httpx.AsyncClient, method: str, url: str, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    if method == "PUT":
        return api.put(url, json=document(), headers=headers)
    if method == "PATCH":
        return api.patch(url, content=b'{"body": {}}', headers={**headers, **MERGE})
    return api.request(method, url, headers=headers)


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
async def test_no_token_is_401(api: httpx.AsyncClient, method: str, url: str) -> None:
    response = await _request(api, method, url, {})
    assert response.status_code == 401
    # RFC 6750 3.1: no error code without credentials, only the scope to ask for.
    assert response.headers["www-authenticate"].startswith('Bearer scope="contexts:')
    assert "error=" not in response.headers["www-authenticate"]
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
async def test_a_bad_token_is_401(api: httpx.AsyncClient, method: str, url: str) -> None:
    forged = {"Authorization": "Bearer " + ALICE["Authorization"].split()[1][:-4] + "AAAA"}
    response = await _request(api, method, url, forged)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_token_from_another_issuer_is_401(api: httpx.AsyncClient) -> None:
    from slipway.auth.testing import hs256_signing_key, mint_token

    token = mint_token(
        hs256_signing_key("another-secret-of-at-least-thirty-two-bytes"),
        issuer="contexts-dev",
        audience="contexts",
        scopes=[READ],
    )
    response = await api.get("/v1/kinds", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


async def test_writes_need_the_write_scope(api: httpx.AsyncClient) -> None:
    response = await api.put(URL, json=document(), headers=READER_ONLY)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert response.json()["required_scopes"] == [WRITE]


async def test_reads_need_the_read_scope(api: httpx.AsyncClient) -> None:
    writer_only = bearer("alice", scopes=[WRITE])
    response = await api.get("/v1/kinds", headers=writer_only)
    assert response.status_code == 403
    assert response.json()["missing_scopes"] == [READ]


async def test_admin_stands_in_for_every_scope_and_acl(api: httpx.AsyncClient) -> None:
    await api.put(URL, json=document(), headers=ALICE)
    assert (await api.get(URL, headers=ROOT)).status_code == 200
    replaced = await api.put(URL, json=document("root's", acl={"readers": []}), headers=ROOT)
    assert replaced.status_code == 200
    assert (await api.delete(URL, headers=ROOT)).status_code == 200


async def test_who_may_not_read_gets_404_everywhere(api: httpx.AsyncClient) -> None:
    await api.put(URL, json=document(), headers=ALICE)
    missing = await api.get("/v1/contexts/team-a/never", headers=EVE)
    for method, url in ENDPOINTS[:4] + ENDPOINTS[6:]:
        response = await _request(api, method, url, EVE)
        assert response.status_code == 404, (method, url)
        assert response.json()["detail"].replace("runbook", "never") == missing.json()["detail"]


async def test_a_reader_gets_403_on_writes(api: httpx.AsyncClient) -> None:
    await api.put(URL, json=document(), headers=ALICE)
    assert (await api.get(URL, headers=BOB)).status_code == 200
    for method in ("PUT", "PATCH", "DELETE"):
        response = await _request(api, method, URL, BOB)
        assert response.status_code == 403, method
        assert response.json()["type"] == "urn:contexts:problem:forbidden"


async def test_a_writer_may_not_change_the_acl(api: httpx.AsyncClient) -> None:
    await api.put(URL, json=document(), headers=ALICE)
    same_acl = await api.put(URL, json=document("edited"), headers=CAROL)
    assert same_acl.status_code == 200
    no_acl = {k: v for k, v in document("kept acl").items() if k != "acl"}
    assert (await api.put(URL, json=no_acl, headers=CAROL)).status_code == 200
    grab = await api.put(URL, json=document(acl={"writers": ["subject:carol"]}), headers=CAROL)
    assert grab.status_code == 403


async def test_groups_come_from_the_groups_claim(api: httpx.AsyncClient) -> None:
    await api.put(URL, json=document(), headers=ALICE)
    as_string = bearer("dave", groups=[])  # no groups: not a writer
    assert (await api.delete(URL, headers=as_string)).status_code == 404
    editor = bearer("dave", groups=["editors", "other"])
    assert (await api.get(URL, headers=editor)).status_code == 200


async def test_listing_never_reveals_unreadable_contexts(api: httpx.AsyncClient) -> None:
    private = {**document(), "acl": {"readers": [], "writers": []}}
    for name in ("a", "b", "c", "d"):
        await api.put(f"/v1/contexts/team-a/{name}", json=private, headers=ALICE)
    await api.put("/v1/contexts/team-a/shared", json=document(), headers=ALICE)
    bob = await api.get("/v1/contexts/team-a", params={"limit": 1}, headers=BOB)
    assert [item["name"] for item in bob.json()["items"]] == ["shared"]
    assert bob.json()["next_cursor"] is None
    assert "link" not in bob.headers
    eve = await api.get("/v1/contexts/team-a", headers=EVE)
    assert eve.json() == {"items": [], "next_cursor": None}
