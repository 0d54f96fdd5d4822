"""Pure ASGI middleware counting and timing HTTP requests by route template."""

from collections.abc import Collection
from time import perf_counter
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.observability.metrics import RequestSeries, http_metrics

UNMATCHED_ROUTE = "unmatched"
"""Route label for requests no route matched (404s, slash redirects): keeps cardinality bounded."""

OTHER_METHOD = "OTHER"
_KNOWN_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "QUERY")
)


def _mount_prefix(scope: Scope, outer_root_path: str) -> str:
    """Template of the mount prefix a request was routed through ('' when not mounted)."""
    concrete: str = scope.get("root_path", "")[len(outer_root_path) :]
    if not concrete:
        return ""
    # Starlette keeps the outermost router in scope["router"]; a mount path with parameters
    # (/t/{tenant}) must be labelled by its template, not by the tenant it matched.
    for route in getattr(scope.get("router"), "routes", ()):
        if isinstance(route, Mount) and "{" in route.path:
            match = route.path_regex.match(concrete + "/")
            if match is not None:
                rest = match.group("path").rstrip("/")
                return route.path + ("/" + rest if rest else "")
    return concrete


def route_template(scope: Scope, outer_root_path: str = "") -> str:
    """The path template of the route that handled `scope`, or UNMATCHED_ROUTE."""
    path: Any = None
    fastapi_scope = scope.get("fastapi")
    if fastapi_scope:
        # FastAPI >= 0.16x keeps included routers unflattened: scope["route"].path is then
        # relative to the router; the effective route context carries the full template.
        path = getattr(fastapi_scope.get("effective_route_context"), "path_format", None)
    if path is None:
        route = scope.get("route")
        if route is None:
            return UNMATCHED_ROUTE
        path = getattr(route, "path", None)
        if isinstance(route, Mount):
            path = "" if path is None else path + "/{path}"
    if not isinstance(path, str):
        return UNMATCHED_ROUTE
    if scope.get("root_path", "") != outer_root_path:
        return _mount_prefix(scope, outer_root_path) + path
    return path


class RequestMetrics:
    """Records requests into the HTTP metric families: what `MetricsMiddleware` and the
    platform's fused layer share. Series are looked up once per label set and reused."""

    def __init__(
        self,
        *,
        registry: CollectorRegistry | None = None,
        excluded_paths: Collection[str] = ("/metrics",),
    ) -> None:
        self._stats = http_metrics(registry).requests
        self._excluded_paths = frozenset(excluded_paths)
        for method in (*_KNOWN_METHODS, OTHER_METHOD):
            self._stats.bind_in_progress(method)
        # (route, method, status) -> its series.
        self._series: dict[tuple[str, str, int], RequestSeries] = {}

    def wanted(self, path: str) -> bool:
        """Whether a request to `path` is counted."""
        return path not in self._excluded_paths

    def started(self, method: str) -> str:
        """Count a request in progress; returns the method label `finished` needs."""
        if method not in _KNOWN_METHODS:
            method = OTHER_METHOD
        stats = self._stats
        with stats.lock:
            stats.in_progress[method] += 1
        return method

    def finished(self, method_label: str, route: str, status: int, elapsed: float) -> None:
        """Count the request `started` returned `method_label` for as done."""
        key = (route, method_label, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._stats.series(route, method_label, str(status))
        self._stats.record(series, method_label, elapsed)


class MetricsMiddleware:
    """Counts requests, times them and tracks in-flight ones, labelled by route template."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        registry: CollectorRegistry | None = None,
        excluded_paths: Collection[str] = ("/metrics",),
    ) -> None:
        self.app = app
        self._recorder = RequestMetrics(registry=registry, excluded_paths=excluded_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._recorder.wanted(scope["path"]):
            await self.app(scope, receive, send)
            return
        outer_root_path: str = scope.get("root_path", "")
        status = 500  # what the server sends when the app fails before starting a response

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        method = self._recorder.started(scope["method"])
        start = perf_counter()
        try:
            await self.app(scope, receive, send_with_status)
        finally:
            elapsed = perf_counter() - start
            route = route_template(scope, outer_root_path)
            self._recorder.finished(method, route, status, elapsed)
