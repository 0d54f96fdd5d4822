"""Idempotency-Key on /v1 (slipway.web's middleware as the service composes it): byte-for-byte
replays, reuse with another request, requests in progress, expiry, concurrency."""

import asyncio
import json

import httpx
import pytest

from contexts.settings import Settings
from contexts.tests.api.conftest import ALICE, BOB, CAROL, READER_ONLY, api_application, document
from contexts.tests.unit.domain.fakes import FixedClock, InMemoryStore
from slipway.web import IdempotencySettings
from slipway.web.idempotency import IN_PROGRESS_TYPE, KEY_INVALID_TYPE, KEY_REUSED_TYPE
from slipway.web.testing import app_client

URL = "/v1/contexts/team-a/runbook"
MERGE = {"content-type": "application/merge-patch+json"}


def keyed(headers: dict[str, str], key: str = "key-1") -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


def assert_problem(response: httpx.Response, status: int, type_: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == type_


class Gate:
    """Holds the next use-case right after its read, until `open()`."""

    def __init__(self, store: InMemoryStore) -> None:
        self.entered = asyncio.Event()
        self._open = asyncio.Event()
        store.after_next_get = self._hold

    async def _hold(self) -> None:
        self.entered.set()
        await self._open.wait()

    def open(self) -> None:
        self._open.set()


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
    patches = [
        await api.patch(URL, content=b'{"body": {"title": "t"}}', headers=keyed({**ALICE, **MERGE}))
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
    assert replay.headers["idempotent-replayed"] == "true"


async def test_a_key_reused_for_another_request_is_422(api: httpx.AsyncClient) -> None:
    await api.put(URL, json=document(), headers=keyed(ALICE))
    for response in (
        await api.put(URL, json=document("different"), headers=keyed(ALICE)),
        await api.put("/v1/contexts/team-a/other", json=document(), headers=keyed(ALICE)),
        await api.put(URL, json=document(), headers={**keyed(ALICE), "If-None-Match": "*"}),
        await api.delete(URL, headers=keyed(ALICE)),
    ):
        assert_problem(response, 422, KEY_REUSED_TYPE)
    assert (await api.get(URL, headers=ALICE)).json()["version"] == 1


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
    # ...and once that expires too, a different request may take the key.
    api_clock.advance(24 * 3600)
    other = await api.put(URL, json=document("new"), headers=keyed(ALICE))
    assert other.status_code == 200
    assert other.json()["version"] == 4


async def test_malformed_keys_are_refused_before_anything_runs(api: httpx.AsyncClient) -> None:
    for headers in (keyed(ALICE, "not a key!"), keyed(ALICE, "k" * 256)):
        response = await api.put(URL, json=document(), headers=headers)
        assert_problem(response, 400, KEY_INVALID_TYPE)
    assert (await api.get(URL, headers=BOB)).status_code == 404


async def test_refusals_and_server_errors_are_not_stored(
    api: httpx.AsyncClient, api_store: InMemoryStore
) -> None:
    # 403 (a missing scope): the same key with a token that may write runs the request.
    refused = await api.put(URL, json=document(), headers=keyed(READER_ONLY))
    assert refused.status_code == 403
    # A 5xx: the retry under the same key runs again, and its response is the one kept.
    api_store.fail_outbox = True
    failed = await api.put(URL, json=document(), headers=keyed(ALICE))
    assert failed.status_code == 500
    api_store.fail_outbox = False
    retried = await api.put(URL, json=document(), headers=keyed(ALICE))
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
    replay = await api.put(URL, json=document(), headers=keyed(ALICE))
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.content == retried.content


async def test_parallel_replays_of_one_key_have_one_effect(
    api: httpx.AsyncClient, api_store: InMemoryStore
) -> None:
    await api.put(URL, json=document(), headers=ALICE)
    responses = await asyncio.gather(
        *(
            api.patch(
                URL, content=b'{"body": {"title": "once"}}', headers=keyed({**ALICE, **MERGE})
            )
            for _ in range(10)
        )
    )
    assert {response.status_code for response in responses} == {200}
    assert len({response.content for response in responses}) == 1
    assert sum("idempotent-replayed" in response.headers for response in responses) == 9
    versions = (await api.get(f"{URL}/versions", headers=ALICE)).json()["items"]
    assert [item["version"] for item in versions] == [1, 2]


async def test_a_duplicate_waits_for_the_first_and_gets_its_response(
    api: httpx.AsyncClient, api_store: InMemoryStore
) -> None:
    gate = Gate(api_store)
    first = asyncio.create_task(api.put(URL, json=document(), headers=keyed(ALICE)))
    await gate.entered.wait()  # the first holds the key and is inside the use-case
    duplicate = asyncio.create_task(api.put(URL, json=document(), headers=keyed(ALICE)))
    await asyncio.sleep(0.1)
    assert not duplicate.done()  # waiting, not running: the first still holds the key
    gate.open()
    original, replay = await first, await duplicate
    assert original.status_code == replay.status_code == 201
    assert replay.content == original.content
    assert replay.headers["idempotent-replayed"] == "true"
    assert api_store.commits == 1


async def test_a_duplicate_still_in_progress_after_the_wait_is_409_with_retry_after(
    settings: Settings, api_store: InMemoryStore, api_clock: FixedClock
) -> None:
    hurried = settings.model_copy(
        update={"idempotency": IdempotencySettings(wait_seconds=0.05, retry_after_seconds=3)}
    )
    gate = Gate(api_store)
    async with app_client(api_application(hurried, api_store, api_clock)) as http:
        first = asyncio.create_task(http.put(URL, json=document(), headers=keyed(ALICE)))
        await gate.entered.wait()
        duplicate = await http.put(URL, json=document(), headers=keyed(ALICE))
        # Another request under the key is refused at once, even while the first runs.
        reused = await http.put(URL, json=document("other"), headers=keyed(ALICE))
        gate.open()
        original = await first
        later = await http.put(URL, json=document(), headers=keyed(ALICE))
    assert_problem(duplicate, 409, IN_PROGRESS_TYPE)
    assert duplicate.headers["retry-after"] == "3"
    assert_problem(reused, 422, KEY_REUSED_TYPE)
    assert original.status_code == 201
    assert later.content == original.content  # the retry Retry-After asks for: the replay
    assert api_store.commits == 1


@pytest.mark.parametrize("with_key", [True, False], ids=["with-key", "without-key"])
async def test_a_lone_surrogate_in_a_body_is_a_422_problem(
    api: httpx.AsyncClient, with_key: bool
) -> None:
    # `\ud800` escaped is valid JSON but no Unicode text: refused as invalid, never a 500.
    body = json.dumps(document("\ud800")).encode()
    assert b"\\ud800" in body
    headers = {**(keyed(ALICE) if with_key else ALICE), "content-type": "application/json"}
    response = await api.put(URL, content=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert (await api.get(URL, headers=ALICE)).status_code == 404
