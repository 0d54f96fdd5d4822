"""OAuth 2.0 client credentials (RFC 6749 section 4.4) for a service's outgoing calls.

`ClientCredentialsTokenSource.token()` hands out an access token, cached until
`refresh_margin_seconds` before it expires, fetched once however many callers ask at the same
time, and kept in use while the authorization server is down until it really expires.
Requests are built and responses parsed by authlib (`prepare_token_request`, `ClientAuth`,
`OAuth2Token`, `OAuth2Error`); the HTTP call goes through the `TokenHttpClient` given, in
a service a `slipway.http.ResilientClient` (timeouts, retries, breaker, retry budget).
slipway.auth does not import slipway.http (they are siblings): any object with async `get`
and `post` returning an `httpx.Response` will do.

`BearerTokenAuth(source)` is an `httpx.Auth` sending `Authorization: Bearer <token>` on every
request, and on a 401 invalidating the token, fetching a new one and retrying once.
"""

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, Literal, Protocol, Self

import httpx
from authlib.oauth2.auth import ClientAuth  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749 import OAuth2Token  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_token_request,
)
from pydantic import BaseModel, Field, SecretStr, model_validator

from slipway.auth.discovery import DiscoveryError, discovery_url_for, parse_provider_metadata

logger = logging.getLogger("slipway.auth")

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class TokenHttpClient(Protocol):
    """What the token source needs of an HTTP client; `slipway.http.ResilientClient` is one.

    A failed call may raise; an exception carrying an `httpx.Response` as `response` (as
    slipway.http's `UpstreamStatusError` and httpx's `HTTPStatusError` do) is read as the
    authorization server's answer (e.g. a 401 `invalid_client`).
    """

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET `url`."""
        ...

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """POST `url`."""
        ...


class TokenUnavailableError(Exception):
    """No usable access token: the authorization server could not be reached or refused,
    and no cached token is still valid."""


class TokenRequestRefusedError(TokenUnavailableError):
    """The authorization server answered the token request with an OAuth error
    (RFC 6749 section 5.2: `invalid_client`, `invalid_scope`, ...)."""

    def __init__(self, error: str, description: str | None, status: int) -> None:
        detail = f": {description}" if description else ""
        super().__init__(f"the token request was refused ({status} {error}{detail})")
        self.error = error
        self.description = description
        self.status = status


class ClientCredentialsSettings(BaseModel):
    """A service's own OAuth client; nested e.g. as `SEARCH_CONTEXTS_TOKEN__CLIENT_ID`.

    The token endpoint is `token_url`, or the `token_endpoint` of `issuer`'s discovery
    document (`<issuer>/.well-known/openid-configuration`, or `discovery_url`).
    """

    token_url: str | None = Field(default=None, examples=["https://auth.example.com/token"])
    issuer: str | None = Field(
        default=None,
        description="discover the token endpoint from this issuer's metadata",
        examples=["https://auth.example.com/"],
    )
    discovery_url: str | None = Field(
        default=None,
        description="the metadata URL when not <issuer>/.well-known/openid-configuration",
    )
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    scope: tuple[str, ...] = Field(default=(), description="scopes asked for (space-joined)")
    audience: str | None = Field(
        default=None, description="`audience` parameter (Auth0 and others use it)"
    )
    resource: str | None = Field(
        default=None, description="RFC 8707 `resource` parameter: the API the token is for"
    )
    auth_method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"
    refresh_margin_seconds: float = Field(
        default=30.0, ge=0, description="fetch a new token this long before the cached expires"
    )
    retry_after_failure_seconds: float = Field(
        default=2.0,
        ge=0,
        description="after a failed refresh, callers keep the still-valid cached token for "
        "this long before the next attempt (an outage is not asked about on every call)",
    )
    default_lifetime_seconds: float = Field(
        default=300.0, gt=0, description="lifetime assumed when the response has no expires_in"
    )

    @model_validator(mode="after")
    def _one_endpoint(self) -> Self:
        if (self.token_url is None) == (self.issuer is None and self.discovery_url is None):
            raise ValueError("set token_url, or issuer (with discovery), not both")
        if self.discovery_url is not None and self.issuer is None:
            raise ValueError("discovery_url needs the issuer the metadata must name")
        for name in ("token_url", "issuer", "discovery_url"):
            value = getattr(self, name)
            if value is not None and not value.startswith(("https://", "http://")):
                raise ValueError(f"{name} must be an http(s) URL")
        return self


class ClientCredentialsTokenSource:
    """Access tokens for this service's own client, cached and refreshed once at a time."""

    def __init__(
        self,
        settings: ClientCredentialsSettings,
        http: TokenHttpClient,
        *,
        require_https: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if require_https:
            for url in (settings.token_url, settings.issuer, settings.discovery_url):
                if url is not None and not url.startswith("https://"):
                    raise ValueError(f"{url}: the authorization server must be https")
        self.settings = settings
        self.http = http
        self.require_https = require_https
        self._clock = clock
        self._client_auth = ClientAuth(
            settings.client_id, settings.client_secret.get_secret_value(), settings.auth_method
        )
        self._token_endpoint = settings.token_url
        self._access_token: str | None = None
        self._expires_at = 0.0
        self._next_attempt_at = 0.0
        self._last_error: TokenUnavailableError | None = None
        self._lock = asyncio.Lock()
        self.requests = 0  # token requests sent (tests and metrics)

    @property
    def expires_at(self) -> float | None:
        """When the cached token expires (epoch seconds by the clock), None without one."""
        return self._expires_at if self._access_token is not None else None

    async def token(self) -> str:
        """A valid access token: the cached one, or a fresh one when it is about to expire.

        Raises `TokenUnavailableError` (`TokenRequestRefusedError` for an OAuth error)
        when none can be had and the cached one (if any) has expired.
        """
        cached = self._fresh()
        if cached is not None:
            return cached
        async with self._lock:
            cached = self._fresh()  # refreshed while this caller waited
            if cached is not None:
                return cached
            now = self._clock()
            if now < self._next_attempt_at:  # a refresh just failed: do not ask again yet
                return self._still_valid_or_raise(now)
            try:
                await self._refresh()
            except TokenUnavailableError as exc:
                self._last_error = exc
                now = self._clock()
                self._next_attempt_at = now + self.settings.retry_after_failure_seconds
                if self._access_token is not None and now < self._expires_at:
                    logger.warning(
                        "refreshing the access token of %s failed; using the cached one until "
                        "it expires in %.0fs: %s",
                        self.settings.client_id,
                        self._expires_at - now,
                        exc,
                    )
                return self._still_valid_or_raise(now)
            assert self._access_token is not None  # noqa: S101 - set by _refresh
            return self._access_token

    def invalidate(self, token: str | None = None) -> None:
        """Drop the cached token (only if it is `token`, when given: a 401 for an old token
        must not throw away the one another caller just fetched)."""
        if token is None or token == self._access_token:
            self._access_token = None
            self._expires_at = 0.0
            self._next_attempt_at = 0.0

    def _fresh(self) -> str | None:
        if self._access_token is None:
            return None
        if self._clock() < self._expires_at - self.settings.refresh_margin_seconds:
            return self._access_token
        return None

    def _still_valid_or_raise(self, now: float) -> str:
        if self._access_token is not None and now < self._expires_at:
            return self._access_token
        self._access_token = None
        raise self._last_error or TokenUnavailableError("no access token")

    async def _refresh(self) -> None:
        endpoint = await self._endpoint()
        s = self.settings
        extra: dict[str, Any] = {}
        if s.scope:
            extra["scope"] = list(s.scope)
        if s.audience:
            extra["audience"] = s.audience
        if s.resource:
            extra["resource"] = s.resource
        body = prepare_token_request("client_credentials", **extra)
        headers = {
            "Content-Type": FORM_CONTENT_TYPE,
            "Accept": "application/json",
            # A token request is safe to repeat (each gives a new token, none is consumed):
            # the key only tells slipway.http's client to retry it like an idempotent call.
            "Idempotency-Key": uuid.uuid4().hex,
        }
        _, headers, body = self._client_auth.prepare("POST", endpoint, headers, body)
        self.requests += 1
        asked_at = self._clock()
        response = await self._send(endpoint, headers, body)
        token = _parse_token_response(response)
        lifetime = float(token.get("expires_in") or s.default_lifetime_seconds)
        self._access_token = token["access_token"]
        self._expires_at = asked_at + lifetime  # from when it was asked: errs early
        self._next_attempt_at = 0.0
        self._last_error = None

    async def _send(self, endpoint: str, headers: dict[str, str], body: str) -> httpx.Response:
        try:
            return await self.http.post(endpoint, content=body.encode(), headers=headers)
        except Exception as exc:
            response = getattr(exc, "response", None)
            if isinstance(response, httpx.Response):
                return response  # an HTTP error status: the body says which
            if self.settings.token_url is None:
                self._token_endpoint = None  # discover again next time: it may have moved
            raise TokenUnavailableError(
                f"the token endpoint {endpoint} could not be reached: {exc}"
            ) from exc

    async def _endpoint(self) -> str:
        if self._token_endpoint is not None:
            return self._token_endpoint
        s = self.settings
        assert s.issuer is not None  # noqa: S101 - by the settings validator
        url = s.discovery_url or discovery_url_for(s.issuer)
        try:
            response = await self.http.get(url, headers={"Accept": "application/json"})
            metadata = parse_provider_metadata(
                response.json(),
                issuer=s.issuer,
                url=url,
                require_https=self.require_https,
                require=("token_endpoint",),
            )
        except DiscoveryError as exc:
            raise TokenUnavailableError(str(exc)) from exc
        except Exception as exc:
            raise TokenUnavailableError(f"OIDC discovery at {url} failed: {exc}") from exc
        assert metadata.token_endpoint is not None  # noqa: S101 - required above
        self._token_endpoint = metadata.token_endpoint
        return metadata.token_endpoint


def _parse_token_response(response: httpx.Response) -> Any:
    """The `OAuth2Token` of a successful response; `TokenUnavailableError` otherwise."""
    if response.status_code >= 500 or response.status_code == 429:
        raise TokenUnavailableError(f"the token endpoint is unavailable ({response.status_code})")
    try:
        document = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        document = None
    if not isinstance(document, dict):
        raise TokenUnavailableError(
            f"the token endpoint answered {response.status_code} without a JSON object"
        )
    if "error" in document or response.status_code >= 400:
        error = document.get("error")
        description = document.get("error_description")
        raise TokenRequestRefusedError(
            error if isinstance(error, str) else "server_error",
            description if isinstance(description, str) else None,
            response.status_code,
        )
    token = OAuth2Token.from_dict(document)
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TokenUnavailableError("the token response has no access_token")
    if str(token.get("token_type", "")).lower() != "bearer":
        raise TokenUnavailableError(f"unsupported token_type {token.get('token_type')!r}")
    expires_in = token.get("expires_in")
    if expires_in is not None and (
        isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0
    ):
        raise TokenUnavailableError(f"invalid expires_in {expires_in!r}")
    return token


class TokenSource(Protocol):
    """Anything that hands out bearer tokens and can be told one was refused."""

    async def token(self) -> str:
        """A currently valid access token."""
        ...

    def invalidate(self, token: str | None = None) -> None:
        """Forget `token` (the upstream refused it)."""
        ...


class BearerTokenAuth(httpx.Auth):
    """`Authorization: Bearer <token>` from a token source on every request; on a 401,
    invalidate that token, get a new one and retry once.

    `ResilientClient(settings, auth=BearerTokenAuth(source))`, or per call `auth=`. The
    token source must use a different client (the one of the authorization server).
    A `TokenUnavailableError` from the source propagates to the caller.
    """

    requires_request_body = True  # the retry after a 401 re-sends the body

    def __init__(self, source: TokenSource) -> None:
        self.source = source

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        """Not supported: the token source is async."""
        raise RuntimeError("BearerTokenAuth works with httpx.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Send with the current token; after a 401, once more with a fresh one."""
        token = await self.source.token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            self.source.invalidate(token)
            fresh = await self.source.token()
            request.headers["Authorization"] = f"Bearer {fresh}"
            yield request
