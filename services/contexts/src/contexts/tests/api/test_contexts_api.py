"""Every /v1 endpoint: happy paths and the problem each error is answered with."""

import httpx

from contexts.tests.api.conftest import ALICE, BOB, CAROL, EVE, document

URL = "/v1/contexts/team-a/runbook"
PROBLEM = "application/problem+json"


async def test_put_creates_then_replaces(api: httpx.AsyncClient) -> None:
    created = await api.put(URL, json=document(labels={"team": "a"}), headers=ALICE)
    assert created.status_code == 201
    assert created.headers["location"] == URL
    body = created.json()
    assert body["version"] == 1
    assert body["owner"] == "alice"
    assert body["labels"] == {"team": "a"}
    assert body["acl"] == {"readers": ["subject:bob"], "writers": ["group:editors"]}
    assert created.headers["etag"] == body["etag"]

    replaced = await api.put(URL, json=document("second"), headers=ALICE)
    assert replaced.status_code == 200
    assert replaced.json()["version"] == 2
    assert replaced.json()["body"]["content"] == "second"
    assert replaced.headers["etag"] != created.headers["etag"]


async def test_put_of_the_same_content_is_idempotent(api: httpx.AsyncClient) -> None:
    first = await api.put(URL, json=document(), headers=ALICE)
    again = await api.put(URL, json=document(), headers=ALICE)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    versions = await api.get(f"{URL}/versions", headers=ALICE)
    assert [item["version"] for item in versions.json()["items"]] == [1]


async def test_put_defaults_to_the_latest_schema_version(api: httpx.AsyncClient) -> None:
    body = {"kind": "agent-profile", "body": {"display_name": "Bot", "model": "m1"}}
    response = await api.put("/v1/contexts/team-a/bot", json=body, headers=ALICE)
    assert response.status_code == 201
    assert response.json()["schema_version"] == 2
    assert response.json()["body"]["max_turns"] == 20


async def test_put_with_an_invalid_body_lists_the_fields(api: httpx.AsyncClient) -> None:
    response = await api.put(
        URL, json={"kind": "document", "schema_version": 1, "body": {"nope": 1}}, headers=ALICE
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "urn:contexts:problem:invalid_body"
    assert problem["code"] == "invalid_body"
    pointers = {error["pointer"] for error in problem["errors"]}
    assert {"#/body/content", "#/body/nope"} <= pointers


async def test_put_of_an_unknown_kind_is_422(api: httpx.AsyncClient) -> None:
    for kind, version in (("nope", 1), ("document", 9)):
        body = {"kind": kind, "schema_version": version, "body": {}}
        response = await api.put(URL, json=body, headers=ALICE)
        assert response.status_code == 422
        assert response.json()["type"] == "urn:contexts:problem:unknown_kind"


async def test_put_with_malformed_json_or_names_is_422(api: httpx.AsyncClient) -> None:
    bad_name = await api.put("/v1/contexts/team-a/Bad Name", json=document(), headers=ALICE)
    assert bad_name.status_code == 422
    bad_field = await api.put(URL, json={**document(), "extra": 1}, headers=ALICE)
    assert bad_field.status_code == 422
    bad_acl = await api.put(URL, json=document(acl={"readers": ["bob"]}), headers=ALICE)
    assert bad_acl.status_code == 422


async def test_get_reads_the_current_version(api: httpx.AsyncClient) -> None:
    created = await api.put(URL, json=document(), headers=ALICE)
    response = await api.get(URL, headers=BOB)
    assert response.status_code == 200
    assert response.json() == created.json()
    assert response.headers["etag"] == created.headers["etag"]


async def test_get_of_a_missing_context_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get(URL, headers=ALICE)
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:contexts:problem:not_found"
    assert response.json()["instance"] == URL


async def test_patch_merges_body_and_labels(api: httpx.AsyncClient) -> None:
    await api.put(URL, json=document(labels={"team": "a", "tier": "1"}), headers=ALICE)
    response = await api.patch(
        URL,
        content=b'{"body": {"title": "Runbook"}, "labels": {"tier": null, "env": "prod"}}',
        headers={**CAROL, "content-type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    context = response.json()
    assert context["version"] == 2
    assert context["body"] == {"content": "hello", "format": "markdown", "title": "Runbook"}
    assert context["labels"] == {"team": "a", "env": "prod"}
    assert context["updated_by"] == "carol"


async def test_patch_errors(api: httpx.AsyncClient) -> None:
    merge = {"content-type": "application/merge-patch+json"}
    missing = await api.patch(URL, content=b'{"body": {}}', headers={**ALICE, **merge})
    assert missing.status_code == 404
    await api.put(URL, json=document(), headers=ALICE)
    invalid = await api.patch(
        URL, content=b'{"body": {"format": "pdf"}}', headers={**ALICE, **merge}
    )
    assert invalid.status_code == 422
    assert invalid.json()["code"] == "invalid_body"
    not_json = await api.patch(URL, content=b"{}", headers={**ALICE, "content-type": "text/plain"})
    assert not_json.status_code == 415


async def test_delete_answers_the_tombstone_and_keeps_history(api: httpx.AsyncClient) -> None:
    await api.put(URL, json=document(), headers=ALICE)
    deleted = await api.delete(URL, headers=CAROL)
    assert deleted.status_code == 200
    tombstone = deleted.json()
    assert tombstone["deleted"] is True
    assert tombstone["version"] == 2
    assert deleted.headers["etag"] == tombstone["etag"]

    assert (await api.get(URL, headers=ALICE)).status_code == 404
    assert (await api.delete(URL, headers=ALICE)).status_code == 404
    versions = await api.get(f"{URL}/versions", headers=ALICE)
    assert [item["deleted"] for item in versions.json()["items"]] == [False, True]
    recreated = await api.put(URL, json=document("again"), headers=ALICE)
    assert recreated.status_code == 201
    assert recreated.json()["version"] == 3


async def test_versions_and_one_version(api: httpx.AsyncClient) -> None:
    await api.put(URL, json=document("one"), headers=ALICE)
    await api.put(URL, json=document("two"), headers=ALICE)
    versions = await api.get(f"{URL}/versions", headers=BOB)
    assert versions.status_code == 200
    assert [item["body"]["content"] for item in versions.json()["items"]] == ["one", "two"]

    first = await api.get(f"{URL}/versions/1", headers=BOB)
    assert first.status_code == 200
    assert first.json()["body"]["content"] == "one"
    assert first.headers["etag"] == versions.json()["items"][0]["etag"]
    assert (await api.get(f"{URL}/versions/3", headers=BOB)).status_code == 404
    assert (await api.get(f"{URL}/versions/0", headers=BOB)).status_code == 422
    assert (await api.get("/v1/contexts/team-a/other/versions", headers=BOB)).status_code == 404


async def test_audit_lists_every_change(api: httpx.AsyncClient) -> None:
    created = await api.put(URL, json=document(), headers={**ALICE, "X-Request-ID": "req-1"})
    await api.delete(URL, headers=CAROL)
    audit = await api.get(f"{URL}/audit", headers=BOB)
    assert audit.status_code == 200
    entries = audit.json()["items"]
    assert [(entry["action"], entry["actor"], entry["version"]) for entry in entries] == [
        ("created", "alice", 1),
        ("deleted", "carol", 2),
    ]
    assert entries[0]["request_id"] == created.headers["x-request-id"]
    assert entries[0]["before_hash"] is None
    assert entries[1]["before_hash"] == entries[0]["after_hash"]
    assert (await api.get(f"{URL}/audit", headers=EVE)).status_code == 404


async def test_kinds_lists_versions_and_schemas(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/kinds", headers=EVE)
    assert response.status_code == 200
    kinds = {item["kind"]: item for item in response.json()["items"]}
    assert set(kinds) == {"agent-profile", "config", "document"}
    profile = kinds["agent-profile"]
    assert profile["latest_version"] == 2
    assert [version["version"] for version in profile["versions"]] == [1, 2]
    schema = kinds["document"]["versions"][0]["json_schema"]
    assert schema["type"] == "object"
    assert "content" in schema["properties"]
