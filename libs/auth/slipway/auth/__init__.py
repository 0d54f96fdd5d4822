"""Bearer-token (JWT) verification for FastAPI services, plugged into slipway.web."""

from slipway.auth.asgi import BearerGate, OnPrincipal
from slipway.auth.authenticator import (
    Authenticator,
    AuthSettingsError,
    PrincipalMiddleware,
    bearer_token,
    bearer_token_of,
    bound_authenticator,
    build_authenticator,
)
from slipway.auth.client_credentials import (
    BearerTokenAuth,
    ClientCredentialsSettings,
    ClientCredentialsTokenSource,
    TokenHttpClient,
    TokenRequestRefusedError,
    TokenSource,
    TokenUnavailableError,
)
from slipway.auth.dependencies import bearer_scheme, require_scopes
from slipway.auth.discovery import (
    DiscoveryError,
    ProviderMetadata,
    discovery_url_for,
    parse_provider_metadata,
)
from slipway.auth.jwks import JwksCache, JwksUnavailableError
from slipway.auth.metrics import AuthMetrics, auth_metrics
from slipway.auth.principal import Principal
from slipway.auth.problems import (
    INSUFFICIENT_SCOPE_TITLE,
    INSUFFICIENT_SCOPE_TYPE,
    INVALID_TOKEN_TITLE,
    INVALID_TOKEN_TYPE,
    MISSING_TOKEN_TITLE,
    MISSING_TOKEN_TYPE,
)
from slipway.auth.resource import (
    WELL_KNOWN_PATH,
    ProtectedResourceMetadata,
    metadata_paths,
    metadata_url_for,
    protected_resource_metadata,
    protected_resource_router,
)
from slipway.auth.scopes import DEFAULT_SCOPE_IMPLICATIONS, ScopeImplications
from slipway.auth.settings import AuthSettings
from slipway.auth.verification import InvalidTokenError, TokenVerifier

__all__ = [
    "DEFAULT_SCOPE_IMPLICATIONS",
    "INSUFFICIENT_SCOPE_TITLE",
    "INSUFFICIENT_SCOPE_TYPE",
    "INVALID_TOKEN_TITLE",
    "INVALID_TOKEN_TYPE",
    "MISSING_TOKEN_TITLE",
    "MISSING_TOKEN_TYPE",
    "WELL_KNOWN_PATH",
    "AuthMetrics",
    "AuthSettings",
    "AuthSettingsError",
    "Authenticator",
    "BearerGate",
    "BearerTokenAuth",
    "ClientCredentialsSettings",
    "ClientCredentialsTokenSource",
    "DiscoveryError",
    "InvalidTokenError",
    "JwksCache",
    "JwksUnavailableError",
    "OnPrincipal",
    "Principal",
    "PrincipalMiddleware",
    "ProtectedResourceMetadata",
    "ProviderMetadata",
    "ScopeImplications",
    "TokenHttpClient",
    "TokenRequestRefusedError",
    "TokenSource",
    "TokenUnavailableError",
    "TokenVerifier",
    "auth_metrics",
    "bearer_scheme",
    "bearer_token",
    "bearer_token_of",
    "bound_authenticator",
    "build_authenticator",
    "discovery_url_for",
    "metadata_paths",
    "metadata_url_for",
    "parse_provider_metadata",
    "protected_resource_metadata",
    "protected_resource_router",
    "require_scopes",
]
