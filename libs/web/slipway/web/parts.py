"""`ServiceParts`: what a service's composition root hands to `create_app`.

A service builds one `ServiceParts` in its `composition.py`; `create_app` orders everything in
it itself (resources in order, middleware at fixed places, auth just outside the rate limiter),
so no service ever reaches into the app after it is built.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from fastapi import APIRouter
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp

from slipway.web.lifecycle import ReadinessCheck, Resource
from slipway.web.ratelimit.base import RateLimitBackend


@runtime_checkable
class AppAuth(Protocol):
    """What `create_app` needs of an authenticator (`slipway.auth.Authenticator` is one)."""

    @property
    def resource(self) -> Resource:
        """Started before the service's own resources (e.g. the key set refresh)."""
        ...

    @property
    def readiness_check(self) -> ReadinessCheck:
        """Part of /ready (e.g. a key set has been fetched)."""
        ...

    def middleware(self) -> Middleware:
        """Identifies the caller; `create_app` puts it just outside the rate limiter."""
        ...

    def bind(self, app: Starlette) -> None:
        """Leave what route dependencies need on the app (called once, by `create_app`)."""
        ...


@dataclass(frozen=True, slots=True)
class Mount:
    """An extra ASGI app inside every middleware: under `path`, or at `path` only if `exact`.

    A prefix mount answers `path/...` (and redirects `path` to `path/`); `exact=True` serves
    the one path itself, every method, as an endpoint such as MCP's `/mcp` wants.
    """

    path: str
    app: ASGIApp
    name: str | None = None
    exact: bool = False


@dataclass
class ServiceParts:
    """A service's routers, resources, checks, middleware, auth and mounts, for `create_app`.

    - `resources` start in order after the platform's own and stop in reverse;
    - `middleware` runs inside the platform's (request id, access log, metrics, security
      headers, CORS, errors, auth, rate limit, body limit), first listed outermost;
    - `readiness_checks` fail `/ready` (503) when one fails; `noncritical_checks` only
      degrade it (200 `{"status": "degraded", ...}` naming them): dependencies the service
      keeps serving without, so its instances stay in rotation while they are down;
    - `rate_limit_backend` replaces the in-memory limiter (e.g. slipway.cache's Redis one);
    - `on_app` callbacks see the built app once, for what must name it (rarely needed).
    """

    routers: list[APIRouter] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    readiness_checks: list[ReadinessCheck] = field(default_factory=list)
    noncritical_checks: list[ReadinessCheck] = field(default_factory=list)
    middleware: list[Middleware] = field(default_factory=list)
    auth: AppAuth | None = None
    mounts: list[Mount] = field(default_factory=list)
    rate_limit_backend: RateLimitBackend | None = None
    on_app: list[Callable[[Starlette], None]] = field(default_factory=list)
