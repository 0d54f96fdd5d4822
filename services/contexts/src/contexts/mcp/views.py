"""Contexts as MCP sees them: `context://` URIs, JSON views, and domain errors as problems."""

from typing import Any

from pydantic import ValidationError

from contexts.api.errors import problem_of
from contexts.domain.errors import DomainError, InvalidInput, field_errors
from contexts.domain.model import Context, ContextKey

URI_SCHEME = "context://"
URI_TEMPLATE = "context://{namespace}/{name}"
JSON = "application/json"


def uri_of(key: ContextKey) -> str:
    """`context://{namespace}/{name}`."""
    return f"{URI_SCHEME}{key.namespace}/{key.name}"


def key_of(uri: str) -> ContextKey:
    """The key a `context://{namespace}/{name}` URI names; `InvalidInput` if it names none."""
    namespace, sep, name = uri.removeprefix(URI_SCHEME).partition("/")
    if not uri.startswith(URI_SCHEME) or not sep or "/" in name:
        raise InvalidInput(f"not a context URI (expected {URI_TEMPLATE}): {uri!r}")
    return ContextKey.parse(namespace, name)


def metadata_of(context: Context) -> dict[str, Any]:
    """What a resource carries besides its body: version, etag, kind, labels, bookkeeping."""
    return {
        "namespace": context.key.namespace,
        "name": context.key.name,
        "version": context.version,
        "etag": context.etag,
        "kind": context.kind,
        "schema_version": context.schema_version,
        "labels": dict(context.labels),
        "owner": context.owner,
        "updated_at": context.updated_at.isoformat(),
        "updated_by": context.updated_by,
    }


def view_of(context: Context) -> dict[str, Any]:
    """A context as a tool returns it: its metadata, URI, ACL and body."""
    return {
        "uri": uri_of(context.key),
        **metadata_of(context),
        "acl": context.acl.model_dump(mode="json"),
        "body": context.body,
    }


def problem_dict(error: DomainError) -> dict[str, Any]:
    """The RFC 9457 problem the REST API answers this domain error with, as a dict."""
    problem = problem_of(error)
    return {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        **problem.extensions,
    }


def invalid_arguments(error: ValidationError) -> InvalidInput:
    """Tool arguments that do not match the tool's input schema, as `InvalidInput`."""
    return InvalidInput("invalid tool arguments", field_errors(error))
