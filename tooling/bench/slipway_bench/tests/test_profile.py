"""Attributing py-spy's collapsed stacks to the platform's layers, on synthetic stacks."""

from pathlib import Path

import pytest

from slipway_bench.profile import (
    CATEGORIES,
    OTHER,
    Breakdown,
    categorize,
    category_of_file,
    format_breakdown,
    format_collapsed,
    frame_file,
    parse_collapsed,
    pyspy_command,
)

ROOT = (
    "<module> (contexts/main.py:12);main (contexts/main.py:9);run (uvicorn/server.py:67)"
    ";run (asyncio/runners.py:190);Runner.run (asyncio/runners.py:118)"
)
ASGI = (
    ROOT + ";HttpToolsProtocol.run_asgi (uvicorn/protocols/http/httptools_impl.py:416)"
    ";TracingMiddleware.__call__ (slipway/observability/tracing.py:140)"
    ";RequestIdMiddleware.__call__ (slipway/logging/request_id.py:51)"
    ";AccessLogMiddleware.__call__ (slipway/logging/access.py:88)"
)
HANDLER = (
    ASGI + ";AuthMiddleware.__call__ (slipway/auth/asgi.py:70)"
    ";RateLimitMiddleware.__call__ (slipway/web/ratelimit/middleware.py:60)"
    ";Router.__call__ (starlette/routing.py:715)"
    ";app (fastapi/routing.py:301)"
    ";get_context (contexts/api/contexts.py:120)"
    ";ContextService.get (contexts/domain/service.py:88)"
    ";SqlContextRepository.get (contexts/adapters/sql/repository.py:140)"
)
# py-spy's raw output: one line per distinct stack, outermost first, then the sample count.
COLLAPSED = f"""\
{ROOT} 10
{ASGI};AccessLogMiddleware.write (slipway/logging/access.py:120);dumps (json/__init__.py:231) 5
{ASGI};emit (structlog/_log_levels.py:150);dumps (orjson/__init__.py:1) 3
{HANDLER};AsyncSession.execute (sqlalchemy/ext/asyncio/session.py:461) 30
{HANDLER};AsyncSession.execute (sqlalchemy/ext/asyncio/session.py:461)\
;Connection.fetch (asyncpg/connection.py:690) 20
{HANDLER[: HANDLER.index(";get_context")]};solve_dependencies (fastapi/dependencies/utils.py:560)\
;validate (pydantic/main.py:600) 12
{ASGI};AuthMiddleware.__call__ (slipway/auth/asgi.py:70)\
;decode (jwt/api_jws.py:300);compare_digest (hmac.py:1) 8
{ASGI};AuthMiddleware.__call__ (slipway/auth/asgi.py:70) 2
thread_main (some/thread.py:4);<lambda> (<string>:1) 4
{ROOT} 6
"""


def test_innermost_frame_of_interest_names_the_category() -> None:
    stacks = parse_collapsed(COLLAPSED)
    assert stacks[ROOT] == 16  # repeated stacks are merged
    by_category = Breakdown.of(stacks, cpu_us_per_request=1000.0).samples
    assert by_category == {
        "event loop/asyncio": 16,
        "access log (slipway.logging)": 5,  # json.dumps is looked through to its caller
        "logging/structlog/orjson": 3,
        "SQLAlchemy": 30,
        "asyncpg": 20,
        "pydantic": 12,
        "auth (slipway.auth, jwt)": 10,  # jwt and slipway.auth together; hmac looked through
        OTHER: 4,  # no frame of interest at all
    }


def test_shares_become_microseconds_per_request() -> None:
    breakdown = Breakdown.of(parse_collapsed(COLLAPSED), cpu_us_per_request=1000.0)
    assert breakdown.total == 100
    assert breakdown.share("SQLAlchemy") == pytest.approx(0.30)
    assert breakdown.us_per_request("SQLAlchemy") == pytest.approx(300.0)
    assert breakdown.us_per_request("tracing (slipway.observability)") == 0.0
    assert Breakdown.of({}, 1000.0).us_per_request("SQLAlchemy") is None
    assert Breakdown.of(parse_collapsed(COLLAPSED), None).us_per_request("asyncpg") is None
    as_json = breakdown.as_dict()
    assert as_json["samples"] == 100
    assert list(as_json["categories"])[:2] == ["SQLAlchemy", "asyncpg"]  # largest first
    assert as_json["categories"]["asyncpg"] == {
        "samples": 20,
        "share": 0.2,
        "us_per_request": 200.0,
    }


@pytest.mark.parametrize(
    ("path", "category"),
    [
        ("slipway/logging/request_id.py", "request id (slipway.logging)"),
        ("/src/libs/logging/slipway/logging/access.py", "access log (slipway.logging)"),
        ("slipway/logging/rendering.py", "logging/structlog/orjson"),
        ("logging/__init__.py", "logging/structlog/orjson"),
        ("slipway/observability/tracing.py", "tracing (slipway.observability)"),
        ("opentelemetry/sdk/trace/__init__.py", "tracing (slipway.observability)"),
        ("slipway/observability/middleware.py", "metrics (slipway.observability)"),
        ("prometheus_client/metrics.py", "metrics (slipway.observability)"),
        ("slipway/web/security.py", "security headers (slipway.web)"),
        ("slipway/web/limits.py", "request limits (slipway.web)"),
        ("slipway/web/ratelimit/memory_backend.py", "rate limit (slipway.web)"),
        ("slipway/web/problems.py", "problems (slipway.web)"),
        ("slipway/web/idempotency/middleware.py", "idempotency (slipway.web)"),
        ("slipway/web/body_limit.py", "body limit (slipway.web)"),
        ("slipway/web/platform_layer.py", "platform layer (slipway.web)"),
        ("slipway/web/draining.py", "slipway.web, other"),
        ("/work/main/libs/logging/slipway/logging/access.py", "access log (slipway.logging)"),
        ("/work/main/libs/auth/slipway/auth/token_cache.py", "auth (slipway.auth, jwt)"),
        ("/usr/lib/python3.11/asyncio/runners.py", "event loop/asyncio"),
        ("/work/main/services/contexts/src/contexts/api/contexts.py", "contexts api"),
        (
            "/root/.pex/installed_wheels/abc/PyJWT-2.9.whl/jwt/api_jwt.py",
            "auth (slipway.auth, jwt)",
        ),
        ("fastapi/dependencies/utils.py", "FastAPI/Starlette routing, dependencies"),
        ("fastapi/telemetry/_asgi.py", "FastAPI native telemetry"),
        ("starlette/middleware/exceptions.py", "FastAPI/Starlette routing, dependencies"),
        ("pydantic_core/core_schema.py", "pydantic"),
        ("contexts/domain/service.py", "contexts domain"),
        ("contexts/adapters/sql/repository.py", "contexts adapters"),
        ("slipway_bench/limit_app.py", "limit app handler"),
        ("sqlalchemy/orm/session.py", "SQLAlchemy"),
        ("asyncpg/pool.py", "asyncpg"),
        ("uvicorn/protocols/http/httptools_impl.py", "uvicorn/httptools"),
        ("uvloop/__init__.py", "event loop/asyncio"),
        ("threading.py", "event loop/asyncio"),
        ("json/encoder.py", None),  # the standard library is looked through
        ("typing.py", None),
        ("mycontexts/x.py", None),  # a rule matches whole path segments only
        ("myjwt/x.py", None),
    ],
)
def test_files_map_to_their_layer(path: str, category: str | None) -> None:
    assert category_of_file(path) == category


def test_every_category_has_a_rule_and_other_comes_last() -> None:
    assert CATEGORIES[-1] == OTHER
    assert len(set(CATEGORIES)) == len(CATEGORIES)


def test_frames_without_a_file_are_skipped() -> None:
    assert frame_file("run (uvicorn/server.py:67)") == "uvicorn/server.py"
    assert frame_file("<lambda> (a b/c (x).py:3)") is None  # a name we cannot read: skipped
    assert frame_file('process 20088:"/usr/bin/python3 -m contexts.main"') is None
    assert frame_file("idle") is None
    stack = ['process 1:"python -m slipway_bench.limit_app"', "get (asyncpg/pool.py:1)"]
    assert categorize(stack) == "asyncpg"
    assert categorize(['process 1:"python (asyncpg/pool.py:1)"']) == OTHER


def test_collapsed_output_round_trips_most_samples_first() -> None:
    stacks = parse_collapsed(COLLAPSED + "garbage line\n\n")
    text = format_collapsed(stacks)
    assert parse_collapsed(text) == stacks
    assert text.splitlines()[0].endswith(" 30")


def test_breakdown_table_puts_the_apps_side_by_side() -> None:
    contexts = Breakdown.of(parse_collapsed(COLLAPSED), 1000.0)
    limit = Breakdown.of({ROOT: 3, f"{ROOT};get (asyncpg/pool.py:1)": 1}, 200.0)
    lines = format_breakdown("GET", {"contexts": contexts, "limit": limit}).splitlines()
    assert lines[0].startswith("GET where the CPU per request goes")
    assert lines[0].split()[-2:] == ["contexts", "limit"]
    assert lines[2].startswith("SQLAlchemy")
    assert lines[2].split()[1:] == ["300", "30.0%", "-"]  # no SQLAlchemy in the limit
    asyncpg = next(line for line in lines if line.startswith("asyncpg"))
    assert asyncpg.split()[1:] == ["200", "20.0%", "50", "25.0%"]
    assert lines[-1].split()[-4:] == ["1000", "100", "200", "4"]


def test_pyspy_records_without_pausing_the_server() -> None:
    command = pyspy_command(
        "/usr/bin/py-spy", 42, Path("out/o.txt"), duration_s=8, rate=250, subprocesses=False
    )
    assert command == [
        "/usr/bin/py-spy",
        "record",
        "--pid",
        "42",
        "--rate",
        "250",
        "--format",
        "raw",
        "--nonblocking",
        "--duration",
        "8",
        "--full-filenames",
        "--output",
        "out/o.txt",
    ]
    workers = pyspy_command("py-spy", 1, Path("o"), duration_s=1, rate=1, subprocesses=True)
    assert workers[-1] == "--subprocesses"
