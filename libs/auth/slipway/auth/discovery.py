"""OAuth 2.0 / OpenID Connect discovery: where an issuer's keys and token endpoint are.

The document at `<issuer>/.well-known/openid-configuration` (OpenID Connect Discovery 1.0,
section 4) or `/.well-known/oauth-authorization-server` (RFC 8414) is validated by authlib's
metadata models; on top of them: the document's `issuer` must equal the configured issuer
exactly (OIDC Discovery 4.3, RFC 8414 3.3: a document for another issuer is a mix-up
attack), and in production every URL it names must be https (authlib allows plain http on
loopback only, for development).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc8414 import (  # type: ignore[import-untyped]
    AuthorizationServerMetadata,
)
from authlib.oidc.discovery import (  # type: ignore[import-untyped]
    OpenIDProviderMetadata,
    get_well_known_url,
)

OIDC_WELL_KNOWN_SUFFIX = "/.well-known/openid-configuration"
RFC8414_WELL_KNOWN_SEGMENT = "/.well-known/oauth-authorization-server"


class DiscoveryError(Exception):
    """The provider metadata could not be fetched, or is invalid for the configured issuer."""


@dataclass(frozen=True)
class ProviderMetadata:
    """The members of a validated provider metadata document that Slipway uses."""

    issuer: str
    jwks_uri: str | None
    token_endpoint: str | None
    grant_types_supported: tuple[str, ...]
    token_endpoint_auth_methods_supported: tuple[str, ...]
    document: Mapping[str, Any] = field(repr=False, default_factory=dict)


def discovery_url_for(issuer: str) -> str:
    """The OpenID Connect discovery URL of `issuer`: a trailing "/" dropped, the well-known
    path appended (`https://kc/realms/a` -> `https://kc/realms/a/.well-known/openid-configuration`)."""
    url: str = get_well_known_url(issuer, external=True)
    return url


def parse_provider_metadata(
    document: Any,
    *,
    issuer: str,
    url: str,
    require_https: bool,
    require: tuple[str, ...] = (),
) -> ProviderMetadata:
    """Validate `document` (fetched from `url`) for `issuer`; `DiscoveryError` if it is not.

    An RFC 8414 URL is validated as authorization server metadata, any other as an OpenID
    provider's. `require` names members that must be present (`jwks_uri` for a verifier,
    `token_endpoint` for a client).
    """
    if not isinstance(document, Mapping):
        raise DiscoveryError(f"{url}: the metadata is not a JSON object")
    model = (
        AuthorizationServerMetadata if RFC8414_WELL_KNOWN_SEGMENT in url else OpenIDProviderMetadata
    )
    metadata = model(dict(document))
    try:
        metadata.validate()
    except ValueError as exc:
        raise DiscoveryError(f"{url}: invalid provider metadata: {exc}") from None
    if metadata.get("issuer") != issuer:
        raise DiscoveryError(
            f"{url}: the metadata is for issuer {metadata.get('issuer')!r}, not the configured "
            f"{issuer!r} (they must be equal exactly)"
        )
    for name in require:
        if not isinstance(metadata.get(name), str) or not metadata.get(name):
            raise DiscoveryError(f"{url}: the metadata has no {name}")
    urls = [issuer] + [
        value
        for name in ("jwks_uri", "token_endpoint")
        if isinstance(value := metadata.get(name), str)
    ]
    if require_https:
        for value in urls:
            if not value.startswith("https://"):
                raise DiscoveryError(f"{url}: {value} is not https (required in production)")
    return ProviderMetadata(
        issuer=issuer,
        jwks_uri=metadata.get("jwks_uri"),
        token_endpoint=metadata.get("token_endpoint"),
        grant_types_supported=tuple(metadata.grant_types_supported or ()),
        token_endpoint_auth_methods_supported=tuple(
            metadata.token_endpoint_auth_methods_supported or ()
        ),
        document=dict(document),
    )
