"""`Authenticator`: the verifier plus its key set, plugged into a slipway.web app."""

import logging
from collections.abc import Sequence

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from slipway.auth import problems
from slipway.auth.jwks import JwksCache
from slipway.auth.principal import Principal
from slipway.auth.scopes import ScopeImplications
from slipway.auth.settings import ASYMMETRIC_ALGORITHMS, AuthSettings
from slipway.auth.verification import InvalidTokenError, TokenVerifier
from slipway.config import Environment

logger = logging.getLogger("slipway.auth")

# Where `bind` puts the authenticator and where the middleware leaves its result.
APP_STATE_KEY = "slipway_authenticator"
PRINCIPAL_STATE_KEY = "principal"  # the key slipway.web's rate limiter reads
OUTCOME_STATE_KEY = "slipway.auth.outcome"  # (token, Principal or InvalidTokenError)


class AuthSettingsError(ValueError):
    """The auth settings are unsafe for the environment they would run in."""


class Authenticator:
    """Verifies bearer tokens; a slipway.web `AppAuth`, and the `Resource` for its key set."""

    name = "auth-jwks"

    def __init__(
        self, verifier: TokenVerifier, *, resource_metadata_url: str | None = None
    ) -> None:
        self.verifier = verifier
        self.resource_metadata_url = resource_metadata_url

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

    async def principal_or_problem(
        self,
        connection: Scope | HTTPConnection,
        required: str | Sequence[str] = (),
        *,
        any_of: bool = False,
        challenge_scope: Sequence[str] | None = None,
    ) -> Principal:
        """The caller's principal holding `required` (all, or one `any_of`), else `ProblemError`.

        The one token-to-problem path: no token is 401 `missing-token`, a refused one 401
        `invalid-token`, too few effective scopes 403 `insufficient-scope` (see
        `slipway.auth.problems`). Every challenge names the scopes to ask for (`scope=`:
        `challenge_scope` when given, else `required`, or its first `any_of`) and the RFC 9728
        `resource_metadata` URL when there is one. Takes an ASGI scope or a Starlette
        request/websocket.
        """
        scope = connection.scope if isinstance(connection, HTTPConnection) else connection
        wanted = (required,) if isinstance(required, str) else tuple(required)
        token = bearer_token_of(scope)
        if not token:
            raise problems.missing_token(
                self.resource_metadata_url, _asked(wanted, any_of, challenge_scope)
            )
        try:
            principal = await self.authenticate_request(scope, token)
        except InvalidTokenError as error:
            raise problems.invalid_token(
                error, self.resource_metadata_url, _asked(wanted, any_of, challenge_scope)
            ) from None
        held = (
            principal.has_any_scope(*wanted) if any_of and wanted else principal.has_scopes(*wanted)
        )
        if not held:
            missing = [name for name in wanted if name not in principal.scopes]
            raise problems.insufficient_scope(
                wanted,
                missing,
                any_of=any_of,
                resource_metadata_url=self.resource_metadata_url,
                scope=_asked(wanted, any_of, challenge_scope),
            )
        return principal

    def middleware(self) -> Middleware:
        """`PrincipalMiddleware` for this authenticator; `create_app` places it."""
        return Middleware(PrincipalMiddleware, authenticator=self)

    def bind(self, app: Starlette) -> None:
        """Make `require_scopes` on `app` use this authenticator (`create_app` calls it)."""
        bound = getattr(app.state, APP_STATE_KEY, None)
        if bound is not None and bound is not self:
            raise RuntimeError("another Authenticator is already bound to this app")
        setattr(app.state, APP_STATE_KEY, self)


def _asked(
    wanted: tuple[str, ...], any_of: bool, challenge_scope: Sequence[str] | None
) -> tuple[str, ...]:
    """The scopes a refusal's challenge asks for; built only when refusing."""
    if challenge_scope is None:
        return problems.challenge_scope(wanted, any_of=any_of)
    return tuple(challenge_scope)


def bound_authenticator(app: Starlette) -> Authenticator:
    """The authenticator `bind` left on `app`; `RuntimeError` when there is none."""
    found = getattr(app.state, APP_STATE_KEY, None)
    if not isinstance(found, Authenticator):
        raise RuntimeError(
            "no Authenticator bound to this app: pass it to create_app (ServiceParts.auth)"
        )
    return found


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def bearer_token_of(scope: Scope) -> str | None:
    """The bearer token of an HTTP or WebSocket scope's `Authorization` header, else None."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return bearer_token(value.decode("latin-1"))
    return None


class PrincipalMiddleware:
    """Verifies a bearer token when there is one and leaves the `Principal` in the scope state.

    It never refuses a request: routes decide with `require_scopes` (or a `BearerGate`),
    which reuse the result. Outside the rate limiter, so it keys on the principal.
    """

    def __init__(self, app: ASGIApp, *, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Identify the caller, then pass the request on."""
        if scope["type"] == "http":
            token = bearer_token_of(scope)
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
        if settings.resource is not None and not settings.resource.startswith("https://"):
            raise AuthSettingsError("auth.resource: must be https:// in production (RFC 9728)")
        discovery_url = settings.effective_discovery_url
        if discovery_url is not None and not discovery_url.startswith("https://"):
            raise AuthSettingsError(
                "auth.discovery: the issuer (discovery_url) must be https:// in production"
            )
    jwks = None
    asymmetric = ASYMMETRIC_ALGORITHMS.intersection(settings.algorithms)
    if (settings.jwks_url is not None or settings.discovers) and asymmetric:
        jwks = JwksCache(
            settings.jwks_url,
            discovery_url=settings.effective_discovery_url,
            issuer=settings.issuer,
            require_https=environment is Environment.PRODUCTION,
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
        resource=settings.resource,
        jwks=jwks,
        hs256_secret=secret.get_secret_value() if secret is not None else None,
        leeway_seconds=settings.leeway_seconds,
        max_token_bytes=settings.max_token_bytes,
        max_lifetime_seconds=settings.max_token_lifetime_seconds,
        scope_implications=ScopeImplications(settings.scope_implications),
        registry=registry,
        cache_max_entries=settings.token_cache_max_entries,
        cache_max_age_seconds=settings.token_cache_max_age_seconds,
    )
    return Authenticator(verifier, resource_metadata_url=settings.challenge_metadata_url)
