"""Which parts of a service keep state in one process, and so cannot serve from several workers.

With `web.workers > 1` every worker is its own process: an in-memory rate limiter would let
each worker allow the whole limit, an in-memory idempotency store would replay only in the
worker that saw the first request, an in-process event stream would fan out only that
worker's writes. `Service.main` refuses such a configuration at start-up
(`single_process_problems`), naming what to change.

A part (a resource, readiness check, rate-limit backend, middleware option, mount) declares
it keeps per-process state with a `multiprocess_safe = False` attribute (a property works),
optionally with `multiprocess_advice`, what to configure instead. Objects a part holds
directly (its attributes) are looked at too, so an in-memory stream inside a relay is found.
A part with a `url` naming an in-memory SQLite database (slipway.db's `Database`) is refused
as well: each worker would have its own, empty one.
"""

from collections.abc import Iterator
from typing import Any

from slipway.web.idempotency import InMemoryIdempotencyStore
from slipway.web.parts import ServiceParts
from slipway.web.ratelimit import MemoryRateLimitBackend
from slipway.web.settings import WebSettings

# slipway.web's own in-process implementations; other libs' declare `multiprocess_safe`.
_IN_PROCESS: dict[type, str] = {
    MemoryRateLimitBackend: "use a shared rate-limit backend (parts.rate_limit_backend,"
    " slipway.cache's RedisRateLimitBackend: configure Redis)",
    InMemoryIdempotencyStore: "use a shared store (slipway.db's SqlIdempotencyStore)",
}


def _attributes(obj: Any) -> list[Any]:
    values = list(getattr(obj, "__dict__", {}).values())
    for cls in type(obj).__mro__:
        for slot in getattr(cls, "__slots__", ()):
            if isinstance(slot, str) and hasattr(obj, slot):
                values.append(getattr(obj, slot))
    return values


def _parts_of(parts: ServiceParts) -> Iterator[Any]:
    yield from parts.resources
    yield from parts.readiness_checks
    yield from parts.noncritical_checks
    if parts.rate_limit_backend is not None:
        yield parts.rate_limit_backend
    if parts.auth is not None:
        yield parts.auth
    for middleware in parts.middleware:
        yield from middleware.kwargs.values()
    for mount in parts.mounts:
        yield mount.app


def _in_memory_sqlite(url: Any) -> bool:
    """Whether `url` (a SQLAlchemy URL) names an in-memory SQLite database."""
    backend = getattr(url, "get_backend_name", None)
    if not callable(backend) or backend() != "sqlite":
        return False
    query = getattr(url, "query", {}) or {}
    return getattr(url, "database", None) in (None, "", ":memory:") or query.get("mode") == "memory"


def single_process_advice(obj: Any) -> str | None:
    """What to use instead if `obj` keeps per-process state, else None."""
    for cls, advice in _IN_PROCESS.items():
        if isinstance(obj, cls):
            return advice
    if _in_memory_sqlite(getattr(obj, "url", None)):  # e.g. slipway.db's Database
        return "an in-memory SQLite database lives in one process: use a SQLite file or PostgreSQL"
    try:
        safe = getattr(obj, "multiprocess_safe", True)
    except Exception:  # a property that cannot answer says nothing
        return None
    if safe is False:
        return str(getattr(obj, "multiprocess_advice", "") or "use a shared backend")
    return None


def _describe(obj: Any) -> str:
    name = getattr(obj, "name", None)
    kind = type(obj).__name__
    return f"{name} ({kind})" if isinstance(name, str) and name != kind else kind


def single_process_parts(parts: ServiceParts) -> list[tuple[str, str]]:
    """(what, advice) for every part, or object a part holds, that keeps per-process state."""
    found: list[tuple[str, str]] = []
    seen: set[int] = set()
    for part in _parts_of(parts):
        for obj in (part, *_attributes(part)):
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            advice = single_process_advice(obj)
            if advice is not None:
                found.append((_describe(obj), advice))
    return found


def single_process_problems(
    parts: ServiceParts, web: WebSettings, *, workers_variable: str, rate_limit_variable: str
) -> list[str]:
    """Why `parts` cannot serve from `web.workers` processes; empty when they can (or 1 worker).

    The variables name the settings in the message: `workers_variable` (e.g.
    `BILLING_WEB__WORKERS`) and `rate_limit_variable` (`BILLING_WEB__RATE_LIMIT__ENABLED`).
    """
    if web.workers == 1:
        return []
    workers = f"{workers_variable}={web.workers}"
    problems: list[str] = []
    if web.rate_limit.enabled and parts.rate_limit_backend is None:
        problems.append(
            f"{workers}: the rate limiter counts in each process's memory, so every worker"
            f" would allow the whole limit; give the service a shared backend"
            f" (parts.rate_limit_backend: Redis) or set {rate_limit_variable}=false"
        )
    for what, advice in single_process_parts(parts):
        problems.append(
            f"{workers}: {what} keeps its state in one process; {advice}, or set"
            f" {workers_variable}=1"
        )
    return problems
