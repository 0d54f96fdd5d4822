"""`/health` (liveness, no dependencies) and `/ready` (every readiness check, concurrently).

`/ready` answers 503 problem+json while draining or when a critical check fails; when only
non-critical checks fail (dependencies the service can keep serving without) it answers 200
`{"status": "degraded", "checks": {...}}`, so the instance stays in rotation.
"""

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from slipway.observability import record_readiness
from slipway.web.lifecycle import Lifecycle, ReadinessCheck
from slipway.web.problems import problem_response
from slipway.web.responses import ORJSONResponse

NOT_READY_TYPE = "urn:slipway:problem:not-ready"


async def run_check(check: ReadinessCheck, timeout_seconds: float) -> dict[str, Any]:
    """Run one check with a timeout; its status is `ok`, `failed` or `timeout`."""
    started = time.perf_counter()
    result: dict[str, Any]
    try:
        async with asyncio.timeout(timeout_seconds):
            await check()
    except TimeoutError:
        result = {"status": "timeout", "detail": f"no answer within {timeout_seconds:g}s"}
    except Exception as exc:
        result = {"status": "failed", "detail": f"{type(exc).__name__}: {exc}"}
    else:
        result = {"status": "ok"}
    result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    record_readiness(check.name, result["status"] == "ok")
    return result


async def run_checks(
    checks: Sequence[ReadinessCheck],
    timeout_seconds: float,
    noncritical: Sequence[ReadinessCheck] = (),
) -> dict[str, Any]:
    """Run every check concurrently; a mapping of check name to its result.

    The result of each `noncritical` check also says `"critical": false`.
    """
    every = [*checks, *noncritical]
    results = await asyncio.gather(*(run_check(check, timeout_seconds) for check in every))
    for result in results[len(checks) :]:
        result["critical"] = False
    return {check.name: result for check, result in zip(every, results, strict=True)}


def _failing(results: dict[str, Any], *, critical: bool) -> list[str]:
    return sorted(
        name
        for name, result in results.items()
        if result["status"] != "ok" and result.get("critical", True) is critical
    )


def probes_router(
    lifecycle: Lifecycle,
    checks: Sequence[ReadinessCheck],
    timeout_seconds: float,
    noncritical: Sequence[ReadinessCheck] = (),
) -> APIRouter:
    """The router serving /health and /ready; a failing `noncritical` check degrades /ready
    (200, `"status": "degraded"`) where a failing one of `checks` fails it (503)."""
    router = APIRouter()
    add_probe_routes(router, lifecycle, checks, timeout_seconds, noncritical=noncritical)
    return router


def add_probe_routes(
    router: APIRouter,
    lifecycle: Lifecycle,
    checks: Sequence[ReadinessCheck],
    timeout_seconds: float,
    noncritical: Sequence[ReadinessCheck] = (),
) -> None:
    """Add /health and /ready (tagged `probes`) to `router`, as `probes_router` serves them.

    `create_app` adds them to the app's own router: a request to any other route then tries
    them as two plain routes, not through an included router's matching (~10 k instructions).
    """
    noncritical_names = {check.name for check in noncritical}
    both = sorted({c.name for c in checks if c.name in noncritical_names}) if noncritical else []
    if both:
        raise ValueError(f"readiness checks both critical and non-critical: {', '.join(both)}")

    @router.get("/health", tags=["probes"], summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/ready",
        tags=["probes"],
        summary="Readiness: dependencies answer and not draining",
        responses={
            503: {
                "description": "not ready: draining, or a readiness check failed (`checks`)",
                "content": {"application/problem+json": {}},
            }
        },
    )
    async def ready(request: Request) -> Response:
        if lifecycle.draining:
            return problem_response(
                request.scope,
                503,
                title="Not ready",
                detail="shutting down",
                type=NOT_READY_TYPE,
                extensions={"draining": True, "checks": {}},
            )
        results = await run_checks(checks, timeout_seconds, noncritical)
        failing = _failing(results, critical=True)
        if not failing:
            degraded = _failing(results, critical=False)
            if degraded:
                return ORJSONResponse(
                    {"status": "degraded", "degraded": degraded, "checks": results}
                )
            return ORJSONResponse({"status": "ok", "checks": results})
        return problem_response(
            request.scope,
            503,
            title="Not ready",
            detail=f"failing checks: {', '.join(failing)}",
            type=NOT_READY_TYPE,
            extensions={"draining": False, "checks": results},
        )
