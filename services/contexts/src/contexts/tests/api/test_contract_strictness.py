"""The runtime is exactly as strict as openapi.json says, no laxer and no stricter.

Laxness found by outside testing: PATCH taking `application/json`, `schema_version` as a
string, boolean or null, integer path and query values such as `1.0` or `+1`, kind bodies
read in pydantic's lax mode. Strictness the contract did not state: entity-tag headers,
cursors, kind-specific bodies, each operation's status codes.
"""

from typing import Any

import httpx
import jsonschema_rs  # pants: no-infer-dep - installed by schemathesis
import pytest
from fastapi import FastAPI

from contexts.tests.api.conftest import ALICE, document

URL = "/v1/contexts/team-a/runbook"
CONTEXT = "/v1/contexts/{namespace}/{name}"
PROBLEM = "application/problem+json"
MERGE_PATCH = "application/merge-patch+json"


async def _created(api: httpx.AsyncClient) -> httpx.Response:
    response = await api.put(URL, json=document(), headers=ALICE)
    assert response.status_code == 201, response.text
    return response


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "Traceback" not in response.text
    body: dict[str, Any] = response.json()
    return body


async def test_patch_as_plain_json_is_415_naming_merge_patch(api: httpx.AsyncClient) -> None:
    await _created(api)
    response = await api.patch(URL, json={"labels": {"a": "b"}}, headers=ALICE)
    _problem(response, 415)
    assert response.headers["accept-patch"] == MERGE_PATCH
    merge = await api.patch(
        URL,
        content=b'{"labels": {"a": "b"}}',
        headers={**ALICE, "Content-Type": f"{MERGE_PATCH}; charset=utf-8"},
    )
    assert merge.status_code == 200, merge.text


@pytest.mark.parametrize("schema_version", ["1", True, None, 0, 1.5])
async def test_schema_version_is_a_strict_integer_from_1(
    api: httpx.AsyncClient, schema_version: object
) -> None:
    response = await api.put(URL, json=document(schema_version=schema_version), headers=ALICE)
    _problem(response, 422)
    assert (await api.get(URL, headers=ALICE)).status_code == 404


async def test_schema_version_may_be_omitted_for_the_latest(api: httpx.AsyncClient) -> None:
    body = document()
    del body["schema_version"]
    response = await api.put(URL, json=body, headers=ALICE)
    assert response.status_code == 201, response.text
    assert response.json()["schema_version"] == 1


@pytest.mark.parametrize("version", ["1.0", "+1", "01", "%201", "1%20", "1e0", "0x1", "1_0"])
async def test_version_path_is_plain_decimal(api: httpx.AsyncClient, version: str) -> None:
    await _created(api)
    _problem(await api.get(f"{URL}/versions/{version}", headers=ALICE), 422)
    assert (await api.get(f"{URL}/versions/1", headers=ALICE)).status_code == 200


@pytest.mark.parametrize("limit", ["1.0", "+1", "01", "1e0"])
async def test_limit_is_plain_decimal(api: httpx.AsyncClient, limit: str) -> None:
    _problem(await api.get("/v1/contexts/team-a", params={"limit": limit}, headers=ALICE), 422)


@pytest.mark.parametrize("header", ["If-Match", "If-None-Match"])
@pytest.mark.parametrize("value", ["", "garbage", '"a", ', 'W/"a",,"b"'])
async def test_malformed_entity_tags_are_422_whether_or_not_the_context_exists(
    api: httpx.AsyncClient, header: str, value: str
) -> None:
    missing = await api.put(URL, json=document(), headers={**ALICE, header: value})
    _problem(missing, 422)
    await _created(api)
    _problem(await api.put(URL, json=document(), headers={**ALICE, header: value}), 422)


async def test_well_formed_entity_tag_lists_are_taken(api: httpx.AsyncClient) -> None:
    etag = (await _created(api)).headers["etag"]
    replaced = await api.put(
        URL, json=document("v2"), headers={**ALICE, "If-Match": f'W/"x", "y" ,{etag}'}
    )
    assert replaced.status_code == 200, replaced.text
    stale = await api.put(URL, json=document("v3"), headers={**ALICE, "If-Match": etag})
    _problem(stale, 412)


async def test_kind_bodies_are_strict(api: httpx.AsyncClient) -> None:
    profile = {"display_name": "Bot", "model": "m1", "max_turns": "5"}
    response = await api.put(
        URL, json={"kind": "agent-profile", "schema_version": 2, "body": profile}, headers=ALICE
    )
    assert _problem(response, 422)["code"] == "invalid_body"


# --- the contract -------------------------------------------------------------------------


def _operations(app: FastAPI) -> dict[tuple[str, str], dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = app.openapi()["paths"]
    return {
        (path, method): operation
        for path, item in paths.items()
        if path.startswith("/v1/")
        for method, operation in item.items()
    }


EXPECTED_STATUSES = {
    (CONTEXT, "put"): {"200", "201", "400", "404", "409", "412", "415", "422"},
    (CONTEXT, "patch"): {"200", "400", "404", "409", "412", "415", "422"},
    (CONTEXT, "delete"): {"200", "400", "404", "409", "412", "422"},
    (CONTEXT, "get"): {"200", "304", "404", "422"},
    (f"{CONTEXT}/versions/{{version}}", "get"): {"200", "404", "422"},
    ("/v1/contexts/{namespace}", "get"): {"200", "422"},
    ("/v1/events", "get"): {"200", "422", "429", "503"},
}


def test_each_operation_documents_its_statuses_errors_as_problems(app: FastAPI) -> None:
    operations = _operations(app)
    for key, expected in EXPECTED_STATUSES.items():
        assert expected <= set(operations[key]["responses"]), key
    for key, operation in operations.items():
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert list(response.get("content", {})) == [PROBLEM], (key, status)
    events = operations[("/v1/events", "get")]["responses"]["200"]["content"]
    assert "text/event-stream" in events


def test_headers_and_cursor_are_documented_with_their_syntax(app: FastAPI) -> None:
    operations = _operations(app)
    for key, operation in operations.items():
        for parameter in operation.get("parameters", []):
            if parameter["name"] in {"If-Match", "If-None-Match", "Idempotency-Key", "cursor"}:
                assert "pattern" in str(parameter["schema"]), (key, parameter)
    assert operations[(CONTEXT, "patch")]["requestBody"]["content"].keys() == {MERGE_PATCH}
    put = operations[(CONTEXT, "put")]
    assert put["responses"]["201"]["headers"].keys() >= {"ETag", "Location"}


def _put_body_validator(app: FastAPI) -> jsonschema_rs.Draft202012Validator:
    document_ = app.openapi()
    schema = {
        "components": document_["components"],
        "$ref": "#/components/schemas/ContextIn",
    }
    return jsonschema_rs.Draft202012Validator(schema)


def test_put_body_is_discriminated_by_kind(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    context_in = schemas["ContextIn"]
    assert context_in["discriminator"]["propertyName"] == "kind"
    assert set(context_in["discriminator"]["mapping"]) == {"agent-profile", "config", "document"}
    put = _operations(app)[(CONTEXT, "put")]["requestBody"]["content"]["application/json"]
    assert put["schema"] == {"$ref": "#/components/schemas/ContextIn"}


PROFILE_V1 = {"display_name": "Bot", "model": "m1", "tools": ["search"]}
PROFILE_V2 = {"display_name": "Bot", "model": "m1", "tools": [{"name": "search"}]}
BODIES: list[dict[str, Any]] = [
    {"kind": "document", "body": {"content": "x"}},
    {"kind": "document", "schema_version": 1, "body": {"content": "x", "format": "markdown"}},
    {"kind": "document", "body": {"content": "x", "format": "html"}},
    {"kind": "document", "body": {"content": 1}},
    {"kind": "document", "body": {"content": "x", "extra": 1}},
    {"kind": "document", "schema_version": 2, "body": {"content": "x"}},
    {"kind": "document", "schema_version": "1", "body": {"content": "x"}},
    {"kind": "document", "schema_version": None, "body": {"content": "x"}},
    {"kind": "document", "body": {"content": "x"}, "labels": {"Bad Key": "v"}},
    {"kind": "document", "body": {"content": "x"}, "labels": {"team": "a"}},
    {"kind": "agent-profile", "schema_version": 1, "body": PROFILE_V1},
    {"kind": "agent-profile", "body": PROFILE_V1},
    {"kind": "agent-profile", "schema_version": 1, "body": PROFILE_V2},
    {"kind": "agent-profile", "schema_version": 2, "body": PROFILE_V2},
    {"kind": "agent-profile", "body": {**PROFILE_V2, "max_turns": 0}},
    {"kind": "agent-profile", "body": {**PROFILE_V2, "max_turns": "5"}},
    {"kind": "config", "body": {"anything": [1, {"x": None}]}},
    {"kind": "config", "body": []},
    {"kind": "nope", "body": {}},
    {"body": {"content": "x"}},
]


@pytest.mark.parametrize("index", range(len(BODIES)))
async def test_runtime_accepts_exactly_the_documented_put_bodies(
    app: FastAPI, api: httpx.AsyncClient, index: int
) -> None:
    submitted = BODIES[index]
    documented = _put_body_validator(app).is_valid(submitted)
    response = await api.put(f"/v1/contexts/team-a/c{index}", json=submitted, headers=ALICE)
    assert (response.status_code == 201) == documented, (submitted, response.text)
    if not documented:
        _problem(response, 422)
