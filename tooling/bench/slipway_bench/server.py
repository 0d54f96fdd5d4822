"""Serve one benchmark app under uvicorn: `python -m slipway_bench.server KIND PORT`.

KIND is `bare`, `platform` or `platform+otlp` (the platform exporting its spans to the OTLP/HTTP
receiver at `--otlp-endpoint`, see `slipway_bench.otlp_sink`).

Both apps get the same uvicorn settings (one process, uvloop, httptools, no reload, uvicorn's
access log off). The platform is served as a service is (`slipway.web.build_server`): its
protocol is uvicorn's httptools one refusing over-long targets and header blocks while parsing,
and its responses name no server. The access log is part of the platform stack:
the platform's AccessLogMiddleware writes every request through slipway.logging as a JSON line
at INFO (stdout, which the benchmark sends to /dev/null), the bare app logs nothing.
"""

import argparse
import os
import sys
from typing import Any

import uvicorn

from slipway.web import build_server
from slipway_bench.apps import bare_app, platform_app, platform_settings

HOST = "127.0.0.1"


def child_pythonpath() -> str:
    """This interpreter's `sys.path` as a `PYTHONPATH` for a benchmark's child process, each
    entry made absolute: a child started in another directory (`cwd=`) finds the same code."""
    return os.pathsep.join(os.path.abspath(entry) for entry in sys.path if entry)


UVICORN_OPTIONS: dict[str, Any] = {"loop": "uvloop", "http": "httptools"}
"""The bare server's; slipway.web.build_server adds `lifespan="on"`, the bare one does too."""
PLATFORM_OPTIONS: dict[str, Any] = {"loop": "uvloop"}
"""The platform server's: build_server's own protocol, which is httptools with the limits."""


KINDS = ("bare", "platform", "platform+otlp")


def serve(
    kind: str, port: int, *, otlp_endpoint: str | None = None, sample_ratio: float = 1.0
) -> None:
    """Run the `kind` app on 127.0.0.1:`port` until SIGTERM."""
    if kind == "bare":
        config = uvicorn.Config(
            bare_app(),
            host=HOST,
            port=port,
            lifespan="on",
            log_config=None,
            access_log=False,
            **UVICORN_OPTIONS,
        )
        uvicorn.Server(config).run()
        return
    settings, web = platform_settings(HOST, port)
    web = web.model_copy(update={"drain_delay_seconds": 0.0})
    if kind == "platform+otlp" and not otlp_endpoint:
        raise SystemExit("platform+otlp needs --otlp-endpoint")
    app = platform_app(
        settings,
        web,
        otlp_endpoint=otlp_endpoint if kind == "platform+otlp" else None,
        sample_ratio=sample_ratio,
    )
    build_server(app, web, **PLATFORM_OPTIONS).run()


def main() -> None:
    """Command line entry point of the server subprocess."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("port", type=int)
    parser.add_argument("--otlp-endpoint", default=None, help="OTLP/HTTP base URL")
    parser.add_argument("--sample-ratio", type=float, default=1.0)
    args = parser.parse_args()
    serve(args.kind, args.port, otlp_endpoint=args.otlp_endpoint, sample_ratio=args.sample_ratio)


if __name__ == "__main__":
    main()
