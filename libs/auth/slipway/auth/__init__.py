"""Bearer-token (JWT) verification for FastAPI services, plugged into slipway.web."""

from slipway.auth.authenticator import (
    Authenticator,
    AuthSettingsError,
    PrincipalMiddleware,
    bearer_token,
    build_authenticator,
)
from slipway.auth.dependencies import (
    INSUFFICIENT_SCOPE_TYPE,
    INVALID_TOKEN_TYPE,
    MISSING_TOKEN_TYPE,
    bearer_scheme,
    require_scopes,
)
from slipway.auth.jwks import JwksCache, JwksUnavailableError
from slipway.auth.metrics import AuthMetrics, auth_metrics
from slipway.auth.principal import Principal
from slipway.auth.settings import AuthSettings
from slipway.auth.verification import InvalidTokenError, TokenVerifier

__all__ = [
    "INSUFFICIENT_SCOPE_TYPE",
    "INVALID_TOKEN_TYPE",
    "MISSING_TOKEN_TYPE",
    "AuthMetrics",
    "AuthSettings",
    "AuthSettingsError",
    "Authenticator",
    "InvalidTokenError",
    "JwksCache",
    "JwksUnavailableError",
    "Principal",
    "PrincipalMiddleware",
    "TokenVerifier",
    "auth_metrics",
    "bearer_scheme",
    "bearer_token",
    "build_authenticator",
    "require_scopes",
]
