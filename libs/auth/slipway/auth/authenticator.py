"""`Authenticator`: the verifier plus its key set, plugged into a slipway.web app."""

import logging

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from slipway.auth.jwks import JwksCache
from slipway.auth.principal import Principal
from slipway.auth.settings import ASYMMETRIC_ALGORITHMS, AuthSettings
from slipway.auth.verification import InvalidTokenError, TokenVerifier
from slipway.config import Environment
from slipway.web.body_limit import BodyLimitMiddleware
from slipway.web.ratelimit import RateLimitMiddleware

logger = logging.getLogger("slipway.auth")

# Where `install` puts the authenticator and where the middleware leaves its result.
APP_STATE_KEY = "slipway_authenticator"
PRINCIPAL_STATE_KEY = "principal"  # the key slipway.web's rate limiter reads
OUTCOME_STATE_KEY = "slipway.auth.outcome"  # (token, Principal or InvalidTokenError)


class AuthSettingsError(ValueError):
    """The auth settings are unsafe for the environment they would run in."""


class Authenticator:
    """Verifies bearer tokens; also the `Resource` and `ReadinessCheck` for its key set."""

    name = "auth-jwks"

    def __init__(self, verifier: TokenVerifier) -> None:
        self.verifier = verifier

    @property
    def resource(self) -> "Authenticator":
        """The `Resource` to pass to `create_app(resources=...)`."""
        return self

    @property
    def readiness_check(self) -> "Authenticator":
        """The `ReadinessCheck` to pass to `create_app(readiness_checks=...)`."""
        return self

    async def start(self) -> None:
        """Fetch the key set (an unreachable issuer does not fail start-up) and keep it fresh."""
        if self.verifier.jwks is not None:
            await self.verifier.jwks.start()

    async def stop(self) -> None:
        """Stop refreshing the key set."""
        if self.verifier.jwks is not None:
            await self.verifier.jwks.stop()

    async def __call__(self) -> None:
        """Readiness: fails while no key set has been fetched (HS256-only: always ready)."""
        if self.verifier.jwks is not None:
            await self.verifier.jwks()

    async def authenticate(self, token: str) -> Principal:
        """The principal of a valid token; raises `InvalidTokenError` otherwise."""
        return await self.verifier.verify(token)

    async def authenticate_request(self, scope: Scope, token: str) -> Principal:
        """`authenticate`, once per request: the outcome is kept in the scope state.

        A valid token's principal also goes to `scope["state"]["principal"]`.
        """
        state = scope.setdefault("state", {})
        outcome = state.get(OUTCOME_STATE_KEY)
        if not (isinstance(outcome, tuple) and outcome[0] == token):
            try:
                outcome = (token, await self.authenticate(token))
            except InvalidTokenError as exc:
                outcome = (token, exc)
            state[OUTCOME_STATE_KEY] = outcome
        result: Principal | InvalidTokenError = outcome[1]
        if isinstance(result, InvalidTokenError):
            raise result
        state[PRINCIPAL_STATE_KEY] = result
        return result

    def install(self, app: Starlette) -> None:
        """Make `require_scopes` find this authenticator, and add `PrincipalMiddleware`.

        Call it after `create_app`, before the first request. The middleware goes just
        outside the rate limiter, which keys on the principal it leaves in
        `scope["state"]["principal"]`, and inside request ids, tracing and error handling, so
        what it logs carries the request's ids.
        """
        if app.middleware_stack is not None:
            raise RuntimeError("install the authenticator before the app serves requests")
        setattr(app.state, APP_STATE_KEY, self)
        stack = app.user_middleware
        stack.insert(principal_position(stack), Middleware(PrincipalMiddleware, authenticator=self))


def principal_position(stack: list[Middleware]) -> int:
    """Where in an outermost-first middleware list `PrincipalMiddleware` belongs.

    Just outside slipway.web's rate limiter when there is one, else just outside its body
    limit, else innermost.
    """
    classes: list[object] = [entry.cls for entry in stack]
    for anchor in (RateLimitMiddleware, BodyLimitMiddleware):
        if anchor in classes:
            return classes.index(anchor)
    return len(stack)


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


class PrincipalMiddleware:
    """Verifies a bearer token when there is one and leaves the `Principal` in the scope state.

    It never refuses a request: routes decide with `require_scopes`, which reuses the result.
    """

    def __init__(self, app: ASGIApp, *, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Identify the caller, then pass the request on."""
        if scope["type"] == "http":
            authorization = next(
                (value for name, value in scope["headers"] if name == b"authorization"), None
            )
            token = bearer_token(authorization.decode("latin-1") if authorization else None)
            if token:
                try:
                    await self.authenticator.authenticate_request(scope, token)
                except InvalidTokenError:
                    pass  # a route that needs a principal answers 401
                except Exception:  # outside the problem handlers: let the route try again
                    logger.exception("verifying a bearer token failed unexpectedly")
        await self.app(scope, receive, send)


def build_authenticator(
    settings: AuthSettings,
    *,
    environment: Environment | str,
    registry: CollectorRegistry | None = None,
) -> Authenticator:
    """The authenticator for `settings`; HS256 and plain-http JWKS only outside production."""
    environment = Environment(environment)
    if environment is Environment.PRODUCTION:
        if settings.hs256_secret is not None or "HS256" in settings.algorithms:
            raise AuthSettingsError(
                "auth.hs256_secret / HS256: shared-secret tokens are for development and test "
                "only; in production use RS256/ES256 keys from jwks_url"
            )
        if settings.jwks_url is not None and not settings.jwks_url.startswith("https://"):
            raise AuthSettingsError("auth.jwks_url: must be https:// in production")
    jwks = None
    asymmetric = ASYMMETRIC_ALGORITHMS.intersection(settings.algorithms)
    if settings.jwks_url is not None and asymmetric:
        jwks = JwksCache(
            settings.jwks_url,
            algorithms=asymmetric,
            refresh_interval_seconds=settings.jwks_refresh_interval_seconds,
            min_refresh_interval_seconds=settings.jwks_min_refresh_interval_seconds,
            timeout_seconds=settings.jwks_timeout_seconds,
            registry=registry,
        )
    secret = settings.hs256_secret
    verifier = TokenVerifier(
        issuer=settings.issuer,
        audience=settings.audience,
        jwks=jwks,
        hs256_secret=secret.get_secret_value() if secret is not None else None,
        leeway_seconds=settings.leeway_seconds,
        max_token_bytes=settings.max_token_bytes,
        registry=registry,
    )
    return Authenticator(verifier)
