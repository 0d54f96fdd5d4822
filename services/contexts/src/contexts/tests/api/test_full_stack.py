"""The whole service as `build_app` composes it, on SQLite: the real SQL adapters under /v1."""

import asyncio

import httpx

from contexts.tests.api.conftest import ALICE, BOB, EVE, document

URL = "/v1/contexts/team-a/runbook"


async def test_put_get_list_and_history_on_sqlite(client: httpx.AsyncClient) -> None:
    created = await client.put(URL, json=document(labels={"team": "a"}), headers=ALICE)
    assert created.status_code == 201, created.text
    fetched = await client.get(URL, headers=BOB)
    assert fetched.json() == created.json()
    not_modified = await client.get(URL, headers={**BOB, "If-None-Match": created.headers["etag"]})
    assert not_modified.status_code == 304
    assert (await client.get(URL, headers=EVE)).status_code == 404
    listed = await client.get("/v1/contexts/team-a", params={"label": "team=a"}, headers=BOB)
    assert [item["name"] for item in listed.json()["items"]] == ["runbook"]
    deleted = await client.delete(URL, headers={**ALICE, "If-Match": created.headers["etag"]})
    assert deleted.status_code == 200
    audit = await client.get(f"{URL}/audit", headers=ALICE)
    assert [entry["action"] for entry in audit.json()["items"]] == ["created", "deleted"]


async def test_idempotency_keys_are_stored_in_the_database(client: httpx.AsyncClient) -> None:
    keyed = {**ALICE, "Idempotency-Key": "full-stack-1"}
    first = await client.put(URL, json=document(), headers=keyed)
    replay = await client.put(URL, json=document(), headers=keyed)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content
    reused = await client.put(URL, json=document("other"), headers=keyed)
    assert reused.status_code == 422


async def test_parallel_puts_with_one_if_match_on_sqlite(client: httpx.AsyncClient) -> None:
    etag = (await client.put(URL, json=document(), headers=ALICE)).headers["etag"]
    responses = await asyncio.gather(
        *(
            client.put(URL, json=document(f"writer {n}"), headers={**ALICE, "If-Match": etag})
            for n in range(8)
        )
    )
    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 409, 412}, statuses
    versions = (await client.get(f"{URL}/versions", headers=ALICE)).json()["items"]
    assert [item["version"] for item in versions] == [1, 2]


async def test_parallel_replays_of_one_key_on_sqlite(client: httpx.AsyncClient) -> None:
    keyed = {**ALICE, "Idempotency-Key": "full-stack-2"}
    responses = await asyncio.gather(
        *(client.put(URL, json=document(), headers=keyed) for _ in range(8))
    )
    assert {response.status_code for response in responses} == {201}
    assert len({response.content for response in responses}) == 1
    versions = (await client.get(f"{URL}/versions", headers=ALICE)).json()["items"]
    assert len(versions) == 1
