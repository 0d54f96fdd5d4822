"""The error responses the platform can send, documented on every operation of the app's OpenAPI.

`create_app` installs `document_platform_errors` on the app's document generation, so the
contract lists what the stack answers, all `application/problem+json` with the `Problem`
schema (`ValidationProblem` for 422):

- 401 (with `WWW-Authenticate`) and 403 on operations with a security requirement, which
  `slipway.auth.require_scopes` adds (its `Security(bearer_scheme)` dependency);
- 429 (with `Retry-After`) when rate limiting is on, except on its exempt paths;
- 413 and 415 on operations with a request body, 422 wherever FastAPI documents it (instead
  of its `HTTPValidationError`, which the runtime never sends);
- 414, 431 and 500 on every operation.

A response a route declares itself keeps its description; any error response without a
problem schema gets one. The request media types of `slipway.web.accepts` are listed under
`requestBody.content`, each with the body's schema.
"""

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from slipway.web.media_types import ACCEPT_HEADERS, MediaTypeGuard

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
VALIDATION_PROBLEM_REF = "#/components/schemas/ValidationProblem"
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

PROBLEM_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "title": "Problem",
        "description": "An RFC 9457 problem document; `request_id` is the one to quote.",
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string", "format": "uri-reference", "default": "about:blank"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 100, "maximum": 599},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "request_id": {"type": ["string", "null"]},
        },
        "additionalProperties": True,
    },
    "ProblemFieldError": {
        "title": "ProblemFieldError",
        "description": "One invalid part of the request.",
        "type": "object",
        "required": ["loc", "pointer", "message", "type"],
        "properties": {
            "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
            "pointer": {"type": "string"},
            "message": {"type": "string"},
            "type": {"type": "string"},
        },
    },
    "ValidationProblem": {
        "title": "ValidationProblem",
        "description": "A problem whose `errors` list each invalid part of the request.",
        "allOf": [
            {"$ref": PROBLEM_REF},
            {
                "type": "object",
                "properties": {
                    "errors": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/ProblemFieldError"},
                    }
                },
            },
        ],
    },
}

_STRING = {"schema": {"type": "string"}}
_INTEGER = {"schema": {"type": "integer", "minimum": 0}}
# status -> (description, headers)
_PLATFORM: dict[int, tuple[str, dict[str, Any]]] = {
    401: (
        "Unauthorized: no valid bearer token",
        {"WWW-Authenticate": {"description": "the Bearer challenge (RFC 6750)", **_STRING}},
    ),
    403: ("Forbidden: the token lacks a required scope", {}),
    413: ("Content Too Large: the body exceeds the size limit", {}),
    414: ("URI Too Long: the request target exceeds the limit", {}),
    415: ("Unsupported Media Type", {}),
    422: ("Validation failed: `errors` lists each invalid part of the request", {}),
    429: (
        "Too Many Requests: the rate limit is exhausted",
        {"Retry-After": {"description": "seconds until a request is allowed", **_INTEGER}},
    ),
    431: ("Request Header Fields Too Large", {}),
    500: ("Internal error: quote the `request_id`", {}),
}


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _walk(dependency)


def _accepted_media_types(app: FastAPI) -> dict[tuple[str, str], tuple[str, ...]]:
    """(path, method) -> the media types of its `accepts` guard, for every schema route."""
    found: dict[tuple[str, str], tuple[str, ...]] = {}
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for dependency in _walk(route.dependant):
            if isinstance(dependency.call, MediaTypeGuard):
                for method in route.methods or ():
                    path = str(route.path_format)
                    found[(path, method.lower())] = dependency.call.media_types
    return found


def _problem_content(status: int) -> dict[str, Any]:
    ref = VALIDATION_PROBLEM_REF if status == 422 else PROBLEM_REF
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": ref}}}


def _document(
    responses: dict[str, Any], status: int, headers: dict[str, Any] | None = None
) -> None:
    description, default_headers = _PLATFORM.get(status, ("problem details", {}))
    response = responses.setdefault(str(status), {"description": description})
    content = response.get("content") or {}
    if not content.get(PROBLEM_MEDIA_TYPE, {}).get("schema"):
        response["content"] = _problem_content(status)
    if response.get("description") in ("Validation Error", "", None):
        response["description"] = description
    merged = {**default_headers, **(headers or {})}
    if merged:
        response.setdefault("headers", {}).update(
            {name: spec for name, spec in merged.items() if name not in response["headers"]}
        )


def _request_body_types(operation: dict[str, Any], media_types: Iterable[str]) -> None:
    body = operation.get("requestBody")
    if not body:
        return
    content: dict[str, Any] = body.get("content", {})
    schema: dict[str, Any] = next(iter(content.values()), {})
    body["content"] = {media_type: dict(schema) for media_type in media_types}


def document_platform_errors(
    document: dict[str, Any],
    *,
    rate_limited: bool,
    rate_limit_exempt: Iterable[str] = (),
    accepted: dict[tuple[str, str], tuple[str, ...]] | None = None,
) -> dict[str, Any]:
    """Add the platform's problem responses to every operation of `document` (in place)."""
    exempt = frozenset(rate_limit_exempt)
    accepted = accepted or {}
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            if (path, method) in accepted:
                types = accepted[(path, method)]
                _request_body_types(operation, types)
                header = ACCEPT_HEADERS.get(method.upper())
                extra: dict[str, Any] | None = None
                if header is not None:
                    extra = {header: {"description": "the accepted media types", **_STRING}}
                _document(responses, 415, extra)
            if operation.get("security"):
                _document(responses, 401)
                _document(responses, 403)
            if operation.get("requestBody"):
                _document(responses, 413)
                _document(responses, 415)
            _document(responses, 414)
            if "422" in responses:
                _document(responses, 422)
            if rate_limited and path not in exempt:
                _document(responses, 429)
            _document(responses, 431)
            _document(responses, 500)
            for status in list(responses):
                if status.isdigit() and int(status) >= 400:
                    _document(responses, int(status))
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in PROBLEM_SCHEMAS.items():
        schemas.setdefault(name, schema)
    for name in _FASTAPI_VALIDATION_SCHEMAS:  # HTTPValidationError first: it uses the other
        others = {key: value for key, value in schemas.items() if key != name}
        if name in schemas and f"/{name}'" not in repr((document.get("paths"), others)):
            del schemas[name]
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    return document


def install_platform_openapi(
    app: FastAPI, *, rate_limited: bool, rate_limit_exempt: Iterable[str] = ()
) -> None:
    """Make `app.openapi()` (and /openapi.json) document the platform's problems.

    FastAPI caches the document; it is amended once per generated document, so a later
    wrapper of `app.openapi` (an `on_app` callback) sees, and may amend, the result.
    """
    build: Callable[[], dict[str, Any]] = app.openapi
    exempt = tuple(rate_limit_exempt)
    amended: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = build()
        if not amended or amended[0] is not document:
            document_platform_errors(
                document,
                rate_limited=rate_limited,
                rate_limit_exempt=exempt,
                accepted=_accepted_media_types(app),
            )
            amended[:] = [document]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
