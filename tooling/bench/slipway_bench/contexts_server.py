"""Serve the real contexts service for the benchmark.

`python -m slipway_bench.contexts_server --port PORT --database-url postgresql+asyncpg://...`

The app is `contexts.main.build_app(Settings(...))`, exactly what `services/contexts:serve`
runs, with: the given PostgreSQL database (Alembic migrations run at start-up), no Redis (the
outbox relay publishes to the in-process event stream), the development HS256 auth default,
JSON logs at INFO (the access log goes to stdout, which the benchmark discards), and the rate
limiter on with a limit the load never reaches. Served by `slipway.web.build_server` under
uvicorn (one process, uvloop, httptools), like the overhead benchmark's platform app.
"""

import argparse

from pydantic import SecretStr

from contexts.main import build_app
from contexts.settings import Settings
from slipway.config import Environment
from slipway.db import DatabaseSettings
from slipway.logging import configure_logging
from slipway.web import RateLimitSettings, WebSettings, build_server
from slipway_bench.server import HOST, UVICORN_OPTIONS

# Measured, never refused: the default (600 per minute per principal) would answer 429.
BENCH_RATE_LIMIT = RateLimitSettings(enabled=True, requests=1_000_000_000, window_seconds=1.0)


def bench_settings(port: int, database_url: str) -> Settings:
    """The service's settings for the benchmark (see the module docstring)."""
    return Settings(
        environment=Environment.DEVELOPMENT,  # HS256 development tokens are refused otherwise
        log_level="INFO",
        log_renderer="json",
        web=WebSettings(host=HOST, port=port, rate_limit=BENCH_RATE_LIMIT, drain_delay_seconds=0.0),
        database=DatabaseSettings(url=SecretStr(database_url)),
        redis=None,
        migrate_on_startup=True,
    )


def serve(port: int, database_url: str) -> None:
    """Serve the contexts service on 127.0.0.1:`port` until SIGTERM."""
    settings = bench_settings(port, database_url)
    configure_logging(
        service=settings.service_name,
        version=settings.version,
        environment=settings.environment.value,
        level=settings.log_level,
        renderer=settings.log_renderer,
    )
    build_server(build_app(settings), settings.web, **UVICORN_OPTIONS).run()


def main() -> None:
    """Command line entry point of the server subprocess."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    serve(args.port, args.database_url)


if __name__ == "__main__":
    main()
