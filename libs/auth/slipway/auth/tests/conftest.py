"""Fixtures for the slipway.auth tests: keys, a real JWKS server on loopback, a test app."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client import CollectorRegistry

from slipway.auth import Authenticator, AuthSettings, Principal, build_authenticator, require_scopes
from slipway.auth.testing import (
    JwksServer,
    SigningKey,
    generate_signing_key,
    jwks_document,
    serve_jwks,
)
from slipway.config import Environment
from slipway.logging import RequestIdMiddleware
from slipway.web.problems import install_problem_handlers
from slipway.web.ratelimit import MemoryRateLimitBackend, RateLimitMiddleware
from slipway.web.testing import app_client

ISSUER = "https://issuer.test/"
AUDIENCE = "contexts-api"


@dataclass(frozen=True)
class Keys:
    """The issuer's published keys, and an attacker's key that reuses the RSA kid."""

    rsa: SigningKey
    ec: SigningKey
    attacker_rsa: SigningKey
    attacker_ec: SigningKey


@pytest.fixture(scope="session")
def keys() -> Keys:
    """Key pairs, generated once per session (RSA generation is slow)."""
    rsa = generate_signing_key("RS256", kid="rsa-1")
    return Keys(
        rsa=rsa,
        ec=generate_signing_key("ES256", kid="ec-1"),
        attacker_rsa=generate_signing_key("RS256", kid=rsa.kid),
        attacker_ec=generate_signing_key("ES256", kid="attacker-ec"),
    )


@pytest.fixture(scope="session")
def jwks_server(keys: Keys) -> Iterator[JwksServer]:
    """The issuer's JWKS (RSA and EC key) served by uvicorn on 127.0.0.1; not to be changed."""
    with serve_jwks(jwks_document(keys.rsa, keys.ec)) as server:
        yield server


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh metrics registry per test."""
    return CollectorRegistry()


@pytest.fixture
def auth_settings(jwks_server: JwksServer) -> AuthSettings:
    """Settings trusting the test issuer's JWKS."""
    return AuthSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_server.url)


@pytest.fixture
def authenticator(auth_settings: AuthSettings, registry: CollectorRegistry) -> Authenticator:
    """An authenticator for the test environment."""
    return build_authenticator(auth_settings, environment=Environment.TEST, registry=registry)


def contexts_router() -> APIRouter:
    """Routes guarded by scopes, and one public route."""
    router = APIRouter()

    @router.get("/contexts")
    async def list_contexts(
        principal: Annotated[Principal, require_scopes("contexts:read")],
    ) -> dict[str, Any]:
        return {
            "subject": principal.subject,
            "scopes": sorted(principal.scopes),
            "client_id": principal.client_id,
        }

    @router.post("/contexts")
    async def create_context(
        principal: Annotated[Principal, require_scopes("contexts:read", "contexts:write")],
    ) -> dict[str, str]:
        return {"subject": principal.subject}

    @router.get("/me")
    async def me(principal: Annotated[Principal, require_scopes()]) -> dict[str, str]:
        return {"subject": principal.subject}

    @router.get("/public")
    async def public() -> dict[str, str]:
        return {"hello": "world"}

    return router


def build_app(authenticator: Authenticator, *, rate_limit: int | None = None) -> FastAPI:
    """An app wired as create_app wires `ServiceParts.auth`: bound, middleware outside the limiter.

    Built on FastAPI directly so these tests do not depend on create_app's middleware order.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await authenticator.resource.start()
        try:
            yield
        finally:
            await authenticator.resource.stop()

    app = FastAPI(lifespan=lifespan)
    install_problem_handlers(app)
    app.include_router(contexts_router())
    authenticator.bind(app)
    if rate_limit is not None:
        app.add_middleware(
            RateLimitMiddleware,
            backend=MemoryRateLimitBackend(),
            requests=rate_limit,
            window_seconds=60,
        )
    middleware = authenticator.middleware()
    app.add_middleware(middleware.cls, *middleware.args, **middleware.kwargs)
    app.add_middleware(RequestIdMiddleware)
    return app


@pytest.fixture
async def client(authenticator: Authenticator) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the test app, its lifespan (and so the JWKS fetch) running."""
    async with app_client(build_app(authenticator)) as http:
        yield http
