"""Idempotency-Key: byte-for-byte replays, reuse with another request, expiry, concurrency."""

import asyncio

import httpx

from contexts.tests.api.conftest import ALICE, BOB, CAROL, document
from contexts.tests.unit.domain.fakes import FixedClock, InMemoryStore

URL = "/v1/contexts/team-a/runbook"


def keyed(headers: dict[str, str], key: str = "key-1") -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def test_a_replay_is_the_first_response_byte_for_byte(
    api: httpx.AsyncClient, api_store: InMemoryStore
) -> None:
    first = await api.put(URL, json=document(), headers=keyed(ALICE))
    await api.put(URL, json=document("changed since"), headers=ALICE)
    replay = await api.put(URL, json=document(), headers=keyed(ALICE))

    assert first.status_code == replay.status_code == 201
    assert replay.content == first.content
    assert replay.headers["etag"] == first.headers["etag"]
    assert replay.headers["location"] == first.headers["location"]
    assert replay.headers["content-type"] == first.headers["content-type"]
    assert replay.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert api_store.commits == 2  # the replay ran nothing


async def test_patch_and_delete_replay_too(
    api: httpx.AsyncClient, api_store: InMemoryStore
) -> None:
    await api.put(URL, json=document(), headers=ALICE)
    merge = {"content-type": "application/merge-patch+json"}
    patches = [
        await api.patch(URL, content=b'{"body": {"title": "t"}}', headers=keyed({**ALICE, **merge}))
        for _ in range(2)
    ]
    assert patches[0].content == patches[1].content
    deletes = [await api.delete(URL, headers=keyed(ALICE, "key-2")) for _ in range(2)]
    assert [response.status_code for response in deletes] == [200, 200]
    assert deletes[0].content == deletes[1].content
    assert api_store.commits == 3


async def test_domain_errors_are_replayed_too(api: httpx.AsyncClient) -> None:
    first = await api.delete(URL, headers=keyed(ALICE))
    await api.put(URL, json=document(), headers=ALICE)
    replay = await api.delete(URL, headers=keyed(ALICE))
    assert first.status_code == replay.status_code == 404
    assert replay.content == first.content


async def test_a_key_reused_for_another_request_is_422(api: httpx.AsyncClient) -> None:
    await api.put(URL, json=document(), headers=keyed(ALICE))
    for response in (
        await api.put(URL, json=document("different"), headers=keyed(ALICE)),
        await api.put("/v1/contexts/team-a/other", json=document(), headers=keyed(ALICE)),
        await api.put(URL, json=document(), headers={**keyed(ALICE), "If-None-Match": "*"}),
    ):
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:contexts:problem:idempotency_key_reused"


async def test_keys_belong_to_their_subject(api: httpx.AsyncClient) -> None:
    await api.put(URL, json=document(), headers=keyed(ALICE))
    # Carol may write the context; her key-1 is her own, so her request runs.
    theirs = await api.put(URL, json=document("carol's"), headers=keyed(CAROL))
    assert theirs.status_code == 200
    assert theirs.json()["version"] == 2
    assert "idempotent-replayed" not in theirs.headers


async def test_keys_expire_after_the_ttl(api: httpx.AsyncClient, api_clock: FixedClock) -> None:
    first = await api.put(URL, json=document(), headers=keyed(ALICE))
    api_clock.advance(24 * 3600 - 1)
    assert (await api.put(URL, json=document(), headers=keyed(ALICE))).headers.get(
        "idempotent-replayed"
    ) == "true"
    api_clock.advance(1)
    await api.put(URL, json=document("meanwhile"), headers=ALICE)
    fresh = await api.put(URL, json=document(), headers=keyed(ALICE))
    assert "idempotent-replayed" not in fresh.headers
    assert fresh.status_code == 200  # ran again: a new version with the old content
    assert fresh.json()["version"] == 3
    assert fresh.content != first.content
    # ...and a different request may now use the expired key.
    other = await api.put(URL, json=document("new"), headers=keyed(ALICE, "key-x"))
    assert other.status_code == 200


async def test_malformed_keys_are_refused(api: httpx.AsyncClient) -> None:
    response = await api.put(URL, json=document(), headers=keyed(ALICE, "not a key!"))
    assert response.status_code == 422
    assert (await api.get(URL, headers=BOB)).status_code == 404


async def test_parallel_replays_of_one_key_have_one_effect(
    api: httpx.AsyncClient, api_store: InMemoryStore
) -> None:
    await api.put(URL, json=document(), headers=ALICE)
    merge = {"content-type": "application/merge-patch+json"}
    responses = await asyncio.gather(
        *(
            api.patch(
                URL, content=b'{"body": {"title": "once"}}', headers=keyed({**ALICE, **merge})
            )
            for _ in range(10)
        )
    )
    assert {response.status_code for response in responses} == {200}
    assert len({response.content for response in responses}) == 1
    assert sum("idempotent-replayed" in response.headers for response in responses) == 9
    versions = (await api.get(f"{URL}/versions", headers=ALICE)).json()["items"]
    assert [item["version"] for item in versions] == [1, 2]
