"""ETags and conditional requests: If-Match, If-None-Match, 304 and 412, also in parallel."""

import asyncio

import httpx

from contexts.tests.api.conftest import ALICE, document

URL = "/v1/contexts/team-a/runbook"
MERGE = {"content-type": "application/merge-patch+json"}


async def test_get_with_a_matching_if_none_match_is_304(api: httpx.AsyncClient) -> None:
    etag = (await api.put(URL, json=document(), headers=ALICE)).headers["etag"]
    for header in (etag, f'"other", {etag}', f"W/{etag}", "*"):
        response = await api.get(URL, headers={**ALICE, "If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag
    changed = await api.get(URL, headers={**ALICE, "If-None-Match": '"other"'})
    assert changed.status_code == 200
    malformed = await api.get(URL, headers={**ALICE, "If-None-Match": "no-quotes"})
    assert malformed.status_code == 422


async def test_put_if_match(api: httpx.AsyncClient) -> None:
    etag = (await api.put(URL, json=document(), headers=ALICE)).headers["etag"]
    updated = await api.put(URL, json=document("2"), headers={**ALICE, "If-Match": etag})
    assert updated.status_code == 200
    stale = await api.put(URL, json=document("3"), headers={**ALICE, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.json()["type"] == "urn:contexts:problem:precondition_failed"
    weak = await api.put(
        URL, json=document("3"), headers={**ALICE, "If-Match": f"W/{updated.headers['etag']}"}
    )
    assert weak.status_code == 412  # If-Match compares strongly
    missing = await api.put(
        "/v1/contexts/team-a/new", json=document(), headers={**ALICE, "If-Match": "*"}
    )
    assert missing.status_code == 412


async def test_put_if_none_match_star_only_creates(api: httpx.AsyncClient) -> None:
    create_only = {**ALICE, "If-None-Match": "*"}
    assert (await api.put(URL, json=document(), headers=create_only)).status_code == 201
    again = await api.put(URL, json=document("other"), headers=create_only)
    assert again.status_code == 412
    assert (await api.get(URL, headers=ALICE)).json()["body"]["content"] == "hello"


async def test_patch_and_delete_if_match(api: httpx.AsyncClient) -> None:
    etag = (await api.put(URL, json=document(), headers=ALICE)).headers["etag"]
    patched = await api.patch(
        URL, content=b'{"body": {"title": "t"}}', headers={**ALICE, **MERGE, "If-Match": etag}
    )
    assert patched.status_code == 200
    stale_patch = await api.patch(
        URL, content=b'{"body": {"title": "u"}}', headers={**ALICE, **MERGE, "If-Match": etag}
    )
    assert stale_patch.status_code == 412
    stale_delete = await api.delete(URL, headers={**ALICE, "If-Match": etag})
    assert stale_delete.status_code == 412
    deleted = await api.delete(URL, headers={**ALICE, "If-Match": patched.headers["etag"]})
    assert deleted.status_code == 200


async def test_parallel_puts_with_one_if_match_make_one_version(api: httpx.AsyncClient) -> None:
    etag = (await api.put(URL, json=document(), headers=ALICE)).headers["etag"]
    responses = await asyncio.gather(
        *(
            api.put(URL, json=document(f"writer {n}"), headers={**ALICE, "If-Match": etag})
            for n in range(8)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(200) == 1
    assert set(statuses) <= {200, 409, 412}
    versions = (await api.get(f"{URL}/versions", headers=ALICE)).json()["items"]
    assert [item["version"] for item in versions] == [1, 2]
