"""`AuthSettings`: which issuer, audience and keys a service accepts bearer tokens from."""

from typing import Literal, Self
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from slipway.auth.discovery import discovery_url_for
from slipway.auth.scopes import DEFAULT_SCOPE_IMPLICATIONS, ScopeImplications

Algorithm = Literal["RS256", "ES256", "HS256"]

ASYMMETRIC_ALGORITHMS: frozenset[str] = frozenset({"RS256", "ES256"})

# RFC 7518 section 3.2: an HS256 key must be at least as long as the hash output.
MIN_HS256_SECRET_BYTES = 32


class AuthSettings(BaseModel):
    """Bearer-token verification; a service nests it as `auth` (e.g. `BILLING_AUTH__ISSUER`).

    RS256/ES256 keys come from `jwks_url`. HS256 with `hs256_secret` is for development and
    test only: `build_authenticator` refuses it in production.
    """

    issuer: str = Field(examples=["https://auth.example.com/"])
    audience: str = Field(min_length=1, examples=["contexts-api"])
    jwks_url: str | None = Field(
        default=None, examples=["https://auth.example.com/.well-known/jwks.json"]
    )
    discovery: bool = Field(
        default=False,
        description="take jwks_url from the issuer's OpenID Connect discovery document "
        "(<issuer>/.well-known/openid-configuration), resolved at start-up",
    )
    discovery_url: str | None = Field(
        default=None,
        description="the provider metadata URL when it is not <issuer>/.well-known/"
        "openid-configuration (e.g. an RFC 8414 /.well-known/oauth-authorization-server "
        "URL); setting it turns discovery on",
        examples=["https://auth.example.com/.well-known/oauth-authorization-server"],
    )
    algorithms: tuple[Algorithm, ...] = Field(
        default=("RS256", "ES256"), min_length=1, description="token algorithms accepted"
    )
    leeway_seconds: float = Field(
        default=30.0, ge=0, le=300, description="clock skew allowed on exp, nbf and iat"
    )
    jwks_refresh_interval_seconds: float = Field(
        default=300.0, gt=0, description="how often the key set is fetched again"
    )
    jwks_min_refresh_interval_seconds: float = Field(
        default=30.0,
        ge=0,
        description="least time between fetches caused by tokens with an unknown kid, and the "
        "retry delay while no key set could be fetched",
    )
    jwks_timeout_seconds: float = Field(default=5.0, gt=0)
    max_token_bytes: int = Field(
        default=8192, gt=0, description="longer tokens are refused before being parsed"
    )
    max_token_lifetime_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="tokens whose exp - iat is longer are refused (a stolen token is bounded)",
    )
    hs256_secret: SecretStr | None = Field(
        default=None, description="development/test only: a shared HS256 key (32+ bytes)"
    )
    token_cache_max_entries: int = Field(
        default=4096,
        ge=0,
        description="verified tokens whose principal is kept (LRU), so a token is verified "
        "once, not on every request; 0 turns the cache off",
    )
    token_cache_max_age_seconds: float = Field(
        default=60.0,
        ge=0,
        description="longest a verified token is reused before being verified again, even "
        "while its exp allows more; 0 turns the cache off",
    )

    scope_implications: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_SCOPE_IMPLICATIONS),
        description="scope -> scopes it implies, transitively; one '*' in a key matches any "
        "text and stands for it in the implied scopes; {} turns implication off",
        examples=[{"*:admin": ["*:read", "*:write"], "billing:owner": ["billing:admin"]}],
    )
    # The protected resource (RFC 9728 metadata, RFC 8707 audience).
    resource: str | None = Field(
        default=None,
        description="this server's resource identifier (RFC 9728/RFC 8707): the canonical "
        "https URI clients name as `resource`, e.g. the MCP endpoint; tokens whose aud is it "
        "are accepted too, and the metadata document names it",
        examples=["https://contexts.example.com/mcp"],
    )
    authorization_servers: tuple[str, ...] = Field(
        default=(),
        description="issuer identifiers of the authorization servers the metadata names; "
        "empty: (issuer,)",
        examples=[["https://auth.example.com/"]],
    )
    scopes_supported: tuple[str, ...] = Field(
        default=(), description="scopes the metadata lists (empty: none listed)"
    )
    bearer_methods_supported: tuple[Literal["header"], ...] = Field(
        default=("header",), description="how tokens may be sent; only the header is read"
    )
    resource_name: str | None = Field(default=None, description="human-readable name")
    resource_documentation: str | None = Field(
        default=None, description="URL of documentation for developers"
    )
    resource_metadata_max_age_seconds: int = Field(
        default=3600, ge=0, description="Cache-Control max-age of the metadata document"
    )
    resource_metadata_url: str | None = Field(
        default=None,
        description="RFC 9728 protected resource metadata URL, sent as resource_metadata in "
        "every WWW-Authenticate challenge (the MCP authorization spec asks for it); unset: "
        "derived from `resource` (the well-known path inserted before its path)",
        examples=["https://contexts.example.com/.well-known/oauth-protected-resource/mcp"],
    )

    @field_validator("scope_implications")
    @classmethod
    def _implications_compile(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        ScopeImplications(value)  # raises ValueError, reported as a settings error
        return value

    @model_validator(mode="after")
    def _keys_match_algorithms(self) -> Self:
        hs256 = "HS256" in self.algorithms
        if hs256 and self.hs256_secret is None:
            raise ValueError("algorithms include HS256 but hs256_secret is not set")
        if self.hs256_secret is not None:
            if not hs256:
                raise ValueError("hs256_secret is set but algorithms do not include HS256")
            if len(self.hs256_secret.get_secret_value().encode()) < MIN_HS256_SECRET_BYTES:
                raise ValueError(f"hs256_secret must be at least {MIN_HS256_SECRET_BYTES} bytes")
        if self.discovers and self.jwks_url:
            raise ValueError("set jwks_url or discovery (discovery_url), not both")
        if ASYMMETRIC_ALGORITHMS & set(self.algorithms) and not (self.jwks_url or self.discovers):
            raise ValueError("jwks_url is required for RS256/ES256 tokens (or discovery=true)")
        if self.discovery_url is not None and not _plain_http_url(self.discovery_url):
            raise ValueError("discovery_url must be an http(s) URL without spaces")
        if self.discovers and not _plain_http_url(self.issuer):
            raise ValueError("discovery needs an http(s) issuer URL")
        if self.jwks_url and not self.jwks_url.startswith(("https://", "http://")):
            raise ValueError("jwks_url must be an http(s) URL")
        # They go into a header or a document verbatim: no spaces, controls or quotes.
        for name in ("resource_metadata_url", "resource", "resource_documentation"):
            url = getattr(self, name)
            if url is not None and not _plain_http_url(url):
                raise ValueError(f"{name} must be an http(s) URL without spaces")
        for server in self.authorization_servers:
            if not _plain_http_url(server):
                raise ValueError("authorization_servers must be http(s) URLs without spaces")
        if self.resource is not None and "#" in self.resource:
            raise ValueError("resource must not have a fragment (RFC 8707 section 2)")
        for scope in self.scopes_supported:
            if not scope or any(char in _NOT_SCOPE_CHARS or ord(char) < 0x21 for char in scope):
                raise ValueError(f"scopes_supported: {scope!r} is not a scope (RFC 6749 3.3)")
        return self

    @property
    def discovers(self) -> bool:
        """Whether the JWKS URL comes from the provider metadata (discovery)."""
        return self.discovery or self.discovery_url is not None

    @property
    def effective_discovery_url(self) -> str | None:
        """The provider metadata URL when discovering, else None."""
        if self.discovery_url is not None:
            return self.discovery_url
        return discovery_url_for(self.issuer) if self.discovery else None

    @property
    def metadata_authorization_servers(self) -> tuple[str, ...]:
        """The authorization servers the metadata names: the configured ones, else the issuer."""
        return self.authorization_servers or (self.issuer,)

    @property
    def challenge_metadata_url(self) -> str | None:
        """The `resource_metadata` challenge parameter: set explicitly, or derived from
        `resource` by RFC 9728 section 3.1; None without either."""
        if self.resource_metadata_url is not None:
            return self.resource_metadata_url
        if self.resource is not None:
            return metadata_url_for(self.resource)
        return None


# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_NOT_SCOPE_CHARS = frozenset('"\\\x7f')

WELL_KNOWN_PATH = "/.well-known/oauth-protected-resource"


def _plain_http_url(url: str) -> bool:
    return url.startswith(("https://", "http://")) and not any(
        char.isspace() or char == '"' or ord(char) < 0x20 or ord(char) == 0x7F for char in url
    )


def metadata_url_for(resource: str) -> str:
    """The RFC 9728 (section 3.1) metadata URL of a resource identifier: the well-known path
    goes between the host and the path (a trailing "/" of the path dropped), query kept.

    `https://host/mcp` -> `https://host/.well-known/oauth-protected-resource/mcp`;
    `https://host/` -> `https://host/.well-known/oauth-protected-resource`.
    """
    parts = urlsplit(resource)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, WELL_KNOWN_PATH + path, parts.query, ""))
