"""The ETag says nothing about the content: no caller can test guesses of a body with it.

Issue 11 found the ETag to be an unsalted hash of the content, so anyone shown an ETag (the
SSE stream shows every change's) could confirm a guessed body offline. Each version now gets
a random token when it is written; the content hash stays inside the service.
"""

import hashlib
import re
from typing import Any

import httpx

from contexts.domain.hashing import canonical_json, content_hash, sha256_hex
from contexts.tests.api.conftest import ALICE, document
from contexts.tests.unit.domain.fakes import InMemoryStore

URL = "/v1/contexts/team-a/secret"
HIDDEN_CONTENT = "the launch code is 4471"
GUESSES = [f"the launch code is {n:04d}" for n in range(4465, 4480)]


def _content(shown: dict[str, Any], candidate: str) -> dict[str, Any]:
    # What a version's content hash covers, rebuilt by a guesser who knows the shape of the
    # representation (here from one it may read) and guesses the one field it may not.
    return {
        "kind": shown["kind"],
        "schema_version": shown["schema_version"],
        "body": {**shown["body"], "content": candidate},
        "labels": shown["labels"],
        "owner": shown["owner"],
        "acl": shown["acl"],
        "deleted": shown["deleted"],
    }


def _digests_of_a_guess(shown: dict[str, Any], candidate: str) -> set[str]:
    """Every digest of `candidate` a guesser could compute: content and body hashes, and
    the formula the ETag used before issue 11 (SHA-256 of key, version and content hash)."""
    content = _content(shown, candidate)
    digest = content_hash(content)
    body = canonical_json(content["body"])
    key_and_version = [shown["namespace"], shown["name"], shown["version"], digest]
    return {
        digest,
        sha256_hex(body),
        hashlib.sha1(body.encode()).hexdigest(),  # noqa: S324 (a guesser's tool, not ours)
        hashlib.md5(body.encode()).hexdigest(),  # noqa: S324
        sha256_hex(canonical_json(key_and_version)),
    }


def _opaque(etag: str) -> str:
    match = re.fullmatch(r'"([^"]*)"', etag)
    assert match is not None, etag
    return match.group(1)


def _derivable(tag: str, digests: set[str]) -> bool:
    return any(tag in digest or digest in tag for digest in digests)


async def test_the_etag_of_a_version_confirms_no_guess_of_its_content(
    api: httpx.AsyncClient, api_store: InMemoryStore
) -> None:
    created = await api.put(URL, json=document(HIDDEN_CONTENT), headers=ALICE)
    assert created.status_code == 201
    shown = created.json()
    tag = _opaque(created.headers["etag"])

    confirmed = [guess for guess in GUESSES if _derivable(tag, _digests_of_a_guess(shown, guess))]

    assert HIDDEN_CONTENT in GUESSES
    assert confirmed == []


async def test_the_etag_is_none_of_the_hashes_the_service_keeps(
    api: httpx.AsyncClient, api_store: InMemoryStore
) -> None:
    created = await api.put(URL, json=document(HIDDEN_CONTENT), headers=ALICE)
    tag = _opaque(created.headers["etag"])
    stored = [context for context in api_store.all_versions() if context.key.name == "secret"]

    assert [context.etag for context in stored] == [created.headers["etag"]]
    assert not _derivable(tag, {stored[0].content_hash})


async def test_identical_histories_in_two_registries_get_unrelated_etags(
    api: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    # The in-memory registry and the full service on SQLite: same caller, key and content.
    first = await api.put(URL, json=document(HIDDEN_CONTENT), headers=ALICE)
    second = await client.put(URL, json=document(HIDDEN_CONTENT), headers=ALICE)

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["version"] == second.json()["version"] == 1
    assert first.headers["etag"] != second.headers["etag"]


async def test_stored_etags_are_served_and_honoured_by_the_full_service(
    client: httpx.AsyncClient,
) -> None:
    created = await client.put(URL, json=document(HIDDEN_CONTENT), headers=ALICE)
    etag = created.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)

    read = await client.get(URL, headers=ALICE)
    assert (read.headers["etag"], read.json()["etag"]) == (etag, etag)
    unchanged = await client.put(URL, json=document(HIDDEN_CONTENT), headers=ALICE)
    assert (unchanged.status_code, unchanged.headers["etag"]) == (200, etag)
    assert (await client.get(URL, headers={**ALICE, "If-None-Match": etag})).status_code == 304

    updated = await client.put(URL, json=document("rotated"), headers={**ALICE, "If-Match": etag})
    assert updated.status_code == 200
    assert updated.headers["etag"] != etag
    stale = await client.put(URL, json=document("again"), headers={**ALICE, "If-Match": etag})
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    versions = (await client.get(f"{URL}/versions", headers=ALICE)).json()["items"]
    assert [item["etag"] for item in versions] == [etag, updated.headers["etag"]]
