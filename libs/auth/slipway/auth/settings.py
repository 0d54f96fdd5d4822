"""`AuthSettings`: which issuer, audience and keys a service accepts bearer tokens from."""

from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

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
    audience: str = Field(examples=["contexts-api"])
    jwks_url: str | None = Field(
        default=None, examples=["https://auth.example.com/.well-known/jwks.json"]
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

    scope_implications: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_SCOPE_IMPLICATIONS),
        description="scope -> scopes it implies, transitively; one '*' in a key matches any "
        "text and stands for it in the implied scopes; {} turns implication off",
        examples=[{"*:admin": ["*:read", "*:write"], "billing:owner": ["billing:admin"]}],
    )
    resource_metadata_url: str | None = Field(
        default=None,
        description="RFC 9728 protected resource metadata URL, sent as resource_metadata in "
        "every WWW-Authenticate challenge (the MCP authorization spec asks for it)",
        examples=["https://contexts.example.com/.well-known/oauth-protected-resource"],
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
        if ASYMMETRIC_ALGORITHMS & set(self.algorithms) and not self.jwks_url:
            raise ValueError("jwks_url is required for RS256/ES256 tokens")
        if self.jwks_url and not self.jwks_url.startswith(("https://", "http://")):
            raise ValueError("jwks_url must be an http(s) URL")
        url = self.resource_metadata_url
        # It goes into a header verbatim: no spaces, controls or quotes to escape or inject.
        if url and (
            not url.startswith(("https://", "http://"))
            or any(char.isspace() or char == '"' or ord(char) < 0x20 for char in url)
        ):
            raise ValueError("resource_metadata_url must be an http(s) URL without spaces")
        return self
