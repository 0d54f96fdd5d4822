"""RFC 9728 protected resource metadata: the document, its URLs and a router serving it.

An MCP client that gets a 401 reads `resource_metadata` from the challenge (or tries the
well-known URLs) to learn which authorization server to get a token from, for which resource
and scopes. The document is public, the same for every caller, and cacheable.

The model is slipway.auth's own rather than the `mcp` SDK's `ProtectedResourceMetadata`:
every service (REST-only ones too) mounts it, and a library may not depend on a package only
the MCP service needs. It is field-for-field RFC 9728 section 2 (the members we can fill).
"""

from collections.abc import Sequence
from urllib.parse import urlsplit

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from slipway.auth.settings import WELL_KNOWN_PATH, AuthSettings, metadata_url_for

__all__ = [
    "WELL_KNOWN_PATH",
    "ProtectedResourceMetadata",
    "metadata_paths",
    "metadata_url_for",
    "protected_resource_metadata",
    "protected_resource_router",
]


class ProtectedResourceMetadata(BaseModel):
    """RFC 9728 section 2 metadata; members left None are not sent."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resource: str
    authorization_servers: tuple[str, ...]
    scopes_supported: tuple[str, ...] | None = None
    bearer_methods_supported: tuple[str, ...] | None = None
    resource_signing_alg_values_supported: tuple[str, ...] | None = None
    resource_name: str | None = None
    resource_documentation: str | None = None

    def to_json(self) -> bytes:
        """The document as sent: UTF-8 JSON without the unset members."""
        return self.model_dump_json(exclude_none=True).encode()


def protected_resource_metadata(settings: AuthSettings) -> ProtectedResourceMetadata:
    """The metadata `settings` describe; `ValueError` when `settings.resource` is unset."""
    if settings.resource is None:
        raise ValueError("auth.resource must be set to publish protected resource metadata")
    return ProtectedResourceMetadata(
        resource=settings.resource,
        authorization_servers=settings.metadata_authorization_servers,
        scopes_supported=settings.scopes_supported or None,
        bearer_methods_supported=settings.bearer_methods_supported,
        resource_name=settings.resource_name,
        resource_documentation=settings.resource_documentation,
    )


def metadata_paths(settings: AuthSettings) -> tuple[str, ...]:
    """The paths the metadata is served at on this server: the resource's own well-known
    path (RFC 9728 section 3.1), the root one (MCP clients try it next), and the path of an
    explicitly set `resource_metadata_url`."""
    if settings.resource is None:
        raise ValueError("auth.resource must be set to publish protected resource metadata")
    urls = [metadata_url_for(settings.resource), WELL_KNOWN_PATH]
    if settings.resource_metadata_url is not None:
        urls.append(settings.resource_metadata_url)
    paths: list[str] = []
    for url in urls:
        path = urlsplit(url).path or "/"
        if path not in paths:
            paths.append(path)
    return tuple(paths)


def protected_resource_router(
    settings: AuthSettings, *, paths: Sequence[str] | None = None
) -> APIRouter:
    """GET (and HEAD) of the metadata at `paths` (default `metadata_paths(settings)`).

    Public: no token is asked for. Answered `application/json` with `Cache-Control: public,
    max-age=<resource_metadata_max_age_seconds>` and `Access-Control-Allow-Origin: *` (browser
    MCP clients discover it cross-origin); not part of the OpenAPI document.
    """
    body = protected_resource_metadata(settings).to_json()
    headers = {
        "Cache-Control": f"public, max-age={settings.resource_metadata_max_age_seconds}",
        "Access-Control-Allow-Origin": "*",
    }

    async def metadata() -> Response:
        return Response(body, media_type="application/json", headers=headers)

    router = APIRouter(include_in_schema=False)
    for path in metadata_paths(settings) if paths is None else paths:
        router.add_api_route(
            path, metadata, methods=["GET", "HEAD"], name=f"protected-resource-metadata:{path}"
        )
    return router
