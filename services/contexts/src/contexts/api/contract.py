"""What contexts adds to its OpenAPI document beyond what FastAPI generates.

`add_links` writes the OpenAPI links between the contexts' operations into the document the app
serves (`serve_links` installs it, see composition.py): a stateful client (schemathesis' state
machine) follows them from a created context to reading, patching, deleting it and its history.

`add_kind_bodies` describes the PUT body per kind and schema version, from the kinds' own
models (`serve_kind_bodies` installs it, see composition.py), their free-text strings without
U+0000 (`TEXT_PATTERN`), as the registry enforces.
"""

import copy
from collections.abc import Callable, Mapping
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.applications import Starlette

from contexts.api.schemas import TEXT_PATTERN
from contexts.domain.kinds import KindRegistry

CONTEXT = "/v1/contexts/{namespace}/{name}"
VERSIONS = f"{CONTEXT}/versions"
AUDIT = f"{CONTEXT}/audit"
LISTING = "/v1/contexts/{namespace}"

# The context a response carries (ContextOut), and the version it is at.
FROM_BODY = {"namespace": "$response.body#/namespace", "name": "$response.body#/name"}
IF_MATCH = {"header.If-Match": "$response.header.ETag"}
# The first context of a page (ContextPage), in the namespace that was listed.
FROM_PAGE = {"namespace": "$request.path.namespace", "name": "$response.body#/items/0/name"}

# (path, method) of an operation whose successful answer is a context -> its links, by name:
# (target path, target method, parameters).
Link = tuple[str, str, Mapping[str, str]]
CONTEXT_LINKS: dict[str, Link] = {
    "GetContext": (CONTEXT, "get", FROM_BODY),
    "ReplaceContext": (CONTEXT, "put", {**FROM_BODY, **IF_MATCH}),
    "PatchContext": (CONTEXT, "patch", {**FROM_BODY, **IF_MATCH}),
    "DeleteContext": (CONTEXT, "delete", {**FROM_BODY, **IF_MATCH}),
    "ListVersions": (VERSIONS, "get", FROM_BODY),
    "GetVersion": (
        f"{VERSIONS}/{{version}}",
        "get",
        {**FROM_BODY, "version": "$response.body#/version"},
    ),
    "GetAudit": (AUDIT, "get", FROM_BODY),
    "ListNamespace": (LISTING, "get", {"namespace": "$response.body#/namespace"}),
}
AFTER_DELETE: dict[str, Link] = {
    "GetDeletedContext": (CONTEXT, "get", FROM_BODY),
    "RecreateContext": (CONTEXT, "put", FROM_BODY),
}
LINKS: dict[tuple[str, str, str], dict[str, Link]] = {
    (CONTEXT, "put", "200"): CONTEXT_LINKS,
    (CONTEXT, "put", "201"): CONTEXT_LINKS,
    (CONTEXT, "patch", "200"): CONTEXT_LINKS,
    (CONTEXT, "get", "200"): CONTEXT_LINKS,
    (CONTEXT, "delete", "200"): AFTER_DELETE,
    (LISTING, "get", "200"): {
        "GetListedContext": (CONTEXT, "get", FROM_PAGE),
        "PatchListedContext": (CONTEXT, "patch", FROM_PAGE),
    },
}


def add_links(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with `LINKS` on its responses, by operationId; absent operations are skipped."""
    paths: dict[str, dict[str, Any]] = document.get("paths", {})

    def operation_id(path: str, method: str) -> str | None:
        operation = paths.get(path, {}).get(method)
        return operation.get("operationId") if isinstance(operation, dict) else None

    for (path, method, status), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        for name, (target_path, target_method, parameters) in links.items():
            target = operation_id(target_path, target_method)
            if target is not None:
                response.setdefault("links", {})[name] = {
                    "operationId": target,
                    "parameters": dict(parameters),
                }
    return document


def serve_links(app: Starlette) -> None:
    """Make `app` (a FastAPI app) serve its OpenAPI document with `add_links`."""
    if not isinstance(app, FastAPI):
        return
    build = app.openapi

    def openapi() -> dict[str, Any]:
        return add_links(build())  # FastAPI caches the document: adding again changes nothing

    app.openapi = openapi  # type: ignore[method-assign]


# --- Kind-specific PUT bodies -------------------------------------------------------------------
# `ContextIn` in the document becomes a `oneOf` of one schema per kind and schema version,
# discriminated by `kind` (and, within a kind of several versions, by `schema_version`): each is
# the generated `ContextIn` envelope with `kind` and `schema_version` fixed and `body` the
# JSON Schema of that version's model, the very model `KindRegistry.validate` checks bodies with.

CONTEXT_IN = "ContextIn"
_SCHEMAS = "#/components/schemas/"


def _pascal(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("-"))


def _without_nul(schema: object) -> None:
    """Give every free-text string schema within `schema` the `TEXT_PATTERN` (no U+0000), which
    the registry enforces on every string of a body (`storable`); patterned, enumerated and
    constant strings already leave it out."""
    if isinstance(schema, dict):
        if schema.get("type") == "string" and not schema.keys() & {"pattern", "enum", "const"}:
            schema["pattern"] = TEXT_PATTERN
        for value in schema.values():
            _without_nul(value)
    elif isinstance(schema, list):
        for item in schema:
            _without_nul(item)


def kind_body_schemas(
    envelope: Mapping[str, Any], kinds: KindRegistry
) -> dict[str, dict[str, Any]]:
    """The component schemas describing `ContextIn` per kind and version: the new `ContextIn`
    (discriminated by `kind`), a `oneOf` per kind of several versions, one envelope per
    (kind, version), and the body models' schemas."""
    models: list[tuple[type[BaseModel], Literal["validation"]]] = [
        (kinds.get(info.kind, version).model, "validation")
        for info in kinds.kinds()
        for version in info.versions
    ]
    _, definitions = models_json_schema(models, ref_template=_SCHEMAS + "{model}")
    schemas: dict[str, dict[str, Any]] = dict(definitions.get("$defs", {}))
    _without_nul(schemas)
    mapping: dict[str, str] = {}
    for info in kinds.kinds():
        branches: list[dict[str, str]] = []
        for version in info.versions:
            model = kinds.get(info.kind, version).model
            name = f"{_pascal(info.kind)}V{version}{CONTEXT_IN}"
            branch = copy.deepcopy(dict(envelope))
            properties = branch["properties"]
            properties["kind"] = {"type": "string", "const": info.kind}
            latest = version == info.latest_version
            properties["schema_version"] = {
                "type": "integer",
                "const": version,
                "description": "may be omitted: the latest version" if latest else "required",
            }
            properties["body"] = {"$ref": _SCHEMAS + model.__name__}
            required = ["kind", "body"] if latest else ["kind", "schema_version", "body"]
            branch.update(title=name, required=required)
            branch["description"] = (
                f"A context of kind `{info.kind}` v{version} to create or replace."
            )
            schemas[name] = branch
            branches.append({"$ref": _SCHEMAS + name})
        if len(branches) == 1:
            mapping[info.kind] = branches[0]["$ref"]
        else:
            name = f"{_pascal(info.kind)}{CONTEXT_IN}"
            schemas[name] = {
                "title": name,
                "description": f"A context of kind `{info.kind}`, by `schema_version`.",
                "oneOf": branches,
            }
            mapping[info.kind] = _SCHEMAS + name
    schemas[CONTEXT_IN] = {
        "title": CONTEXT_IN,
        "description": str(envelope.get("description", "")).split("\n\n", 1)[0]
        + " Its `body` is the JSON Schema of its kind and schema version (`GET /v1/kinds`). "
        "Every string (keys too) is Unicode text without U+0000 and every number finite, "
        "else 422.",
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "kind", "mapping": mapping},
    }
    return schemas


def add_kind_bodies(document: dict[str, Any], kinds: KindRegistry) -> dict[str, Any]:
    """`document` with its `ContextIn` described per kind and version (`kind_body_schemas`)."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    envelope = schemas.get(CONTEXT_IN)
    if envelope is None or "discriminator" in envelope:  # none, or already described
        return document
    for name, schema in kind_body_schemas(envelope, kinds).items():
        if name != CONTEXT_IN and schemas.get(name, schema) != schema:
            raise ValueError(f"OpenAPI component {name} is already a different schema")
        schemas[name] = schema
    return document


def serve_kind_bodies(kinds: KindRegistry) -> Callable[[Starlette], None]:
    """An `on_app` callback making the app's OpenAPI document `add_kind_bodies` of `kinds`."""

    def install(app: Starlette) -> None:
        if not isinstance(app, FastAPI):
            return
        build = app.openapi

        def openapi() -> dict[str, Any]:
            return add_kind_bodies(build(), kinds)  # idempotent on FastAPI's cached document

        app.openapi = openapi  # type: ignore[method-assign]

    return install
