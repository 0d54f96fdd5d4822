"""`/health` (liveness, no dependencies) and `/ready` (every readiness check, concurrently)."""

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


async def run_checks(checks: Sequence[ReadinessCheck], timeout_seconds: float) -> dict[str, Any]:
    """Run every check concurrently; a mapping of check name to its result."""
    results = await asyncio.gather(*(run_check(check, timeout_seconds) for check in checks))
    return {check.name: result for check, result in zip(checks, results, strict=True)}


def probes_router(
    lifecycle: Lifecycle, checks: Sequence[ReadinessCheck], timeout_seconds: float
) -> APIRouter:
    """The router serving /health and /ready."""
    router = APIRouter(tags=["probes"])

    @router.get("/health", summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/ready",
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
        results = await run_checks(checks, timeout_seconds)
        if all(result["status"] == "ok" for result in results.values()):
            return ORJSONResponse({"status": "ok", "checks": results})
        failing = sorted(name for name, result in results.items() if result["status"] != "ok")
        return problem_response(
            request.scope,
            503,
            title="Not ready",
            detail=f"failing checks: {', '.join(failing)}",
            type=NOT_READY_TYPE,
            extensions={"draining": False, "checks": results},
        )

    return router
