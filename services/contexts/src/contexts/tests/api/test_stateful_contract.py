"""Stateful schemathesis on the whole service on SQLite: links followed, every check on.

The state machine creates, replaces, patches, lists, reads and deletes many contexts through
contexts' OpenAPI links (contexts.api.contract) and checks every answer; the failures it may meet
are `stateful_support.ALLOWED_FAILURES`, each with its reason. The same run on PostgreSQL is
tests/integration/test_stateful_contract_on_postgres.py.
"""

from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs  # pants: no-infer-dep - installed by schemathesis
import pytest
from fastapi import FastAPI

from contexts.tests.api.conftest import ALICE
from contexts.tests.api.stateful_support import run_contexts_statefully


@pytest.mark.slow
def test_stateful_run_on_sqlite_finds_nothing_unexpected(tmp_path: Path) -> None:
    run_contexts_statefully(f"sqlite+aiosqlite:///{tmp_path / 'stateful.db'}")


def test_a_created_context_links_to_its_reads_and_writes(app: FastAPI) -> None:
    """The links the state machine follows are in the served document (contexts.api.contract)."""
    paths = app.openapi()["paths"]
    context = paths["/v1/contexts/{namespace}/{name}"]
    created = context["put"]["responses"]["201"]["links"]
    targets = {name: link["operationId"] for name, link in created.items()}
    for name, method in [
        ("GetContext", "get"),
        ("PatchContext", "patch"),
        ("DeleteContext", "delete"),
    ]:
        assert targets[name] == context[method]["operationId"]
    assert created["PatchContext"]["parameters"]["name"] == "$response.body#/name"
    versions = paths["/v1/contexts/{namespace}/{name}/versions"]["get"]["operationId"]
    assert targets["ListVersions"] == versions
    listed = paths["/v1/contexts/{namespace}"]["get"]["responses"]["200"]["links"]
    assert listed["GetListedContext"]["parameters"]["name"] == "$response.body#/items/0/name"


# -- Gaps the stateful run found between the document and the runtime, closed ----------------

LISTING = "/v1/contexts/team-a"
SELECTORS = [
    "team=a",
    "a.b/c-d=x=y",
    "team=",
    "no-equals",
    "Team=a",
    "=a",
    "a=\x00",
    "a=" + "v" * 257,
]


def _label_parameter(app: FastAPI) -> dict[str, Any]:
    parameters = app.openapi()["paths"]["/v1/contexts/{namespace}"]["get"]["parameters"]
    label: dict[str, Any] = next(p for p in parameters if p["name"] == "label")["schema"]
    return label


@pytest.mark.parametrize("selector", SELECTORS)
async def test_the_label_filter_is_documented_as_the_runtime_parses_it(
    app: FastAPI, api: httpx.AsyncClient, selector: str
) -> None:
    documented = jsonschema_rs.validator_for(_label_parameter(app)).is_valid(selector)
    response = await api.get(LISTING, params={"label": selector}, headers=ALICE)
    assert response.status_code == (200 if documented else 422), (selector, response.text)


NUL_BODIES: list[dict[str, Any]] = [
    {"kind": "document", "body": {"content": "a\x00b"}},
    {"kind": "document", "body": {"content": "x", "title": "\x00"}},
    {"kind": "document", "body": {"content": "x"}, "labels": {"team": "a\x00"}},
    {"kind": "agent-profile", "body": {"display_name": "B\x00t", "model": "m"}},
    {
        "kind": "agent-profile",
        "body": {"display_name": "Bot", "model": "m", "tools": [{"name": "t", "scopes": ["\x00"]}]},
    },
    {"kind": "document", "body": {"content": "no NUL"}, "labels": {"team": "a"}},
]


@pytest.mark.parametrize("index", range(len(NUL_BODIES)))
async def test_text_without_nul_is_documented_on_kind_bodies_and_labels(
    app: FastAPI, api: httpx.AsyncClient, index: int
) -> None:
    submitted = NUL_BODIES[index]
    document_ = app.openapi()
    validator = jsonschema_rs.validator_for(
        {"components": document_["components"], "$ref": "#/components/schemas/ContextIn"}
    )
    documented = validator.is_valid(submitted)
    response = await api.put(f"/v1/contexts/team-a/n{index}", json=submitted, headers=ALICE)
    assert response.status_code == (201 if documented else 422), (submitted, response.text)
