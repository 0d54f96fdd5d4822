"""Serve one benchmark app under uvicorn: `python -m slipway_bench.server bare|platform PORT`.

Both apps get the same uvicorn settings (one process, uvloop, httptools, no reload, uvicorn's
access log off); the only difference is the access log, which is part of the platform stack:
the platform's AccessLogMiddleware writes every request through slipway.logging as a JSON line
at INFO (stdout, which the benchmark sends to /dev/null), the bare app logs nothing.
"""

import argparse
from typing import Any

import uvicorn

from slipway.web import build_server
from slipway_bench.apps import bare_app, platform_app, platform_settings

HOST = "127.0.0.1"
UVICORN_OPTIONS: dict[str, Any] = {"loop": "uvloop", "http": "httptools"}
"""Given to both servers; slipway.web.build_server adds `lifespan="on"`, the bare one does too."""


def serve(kind: str, port: int) -> None:
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
    build_server(platform_app(settings, web), web, **UVICORN_OPTIONS).run()


def main() -> None:
    """Command line entry point of the server subprocess."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("bare", "platform"))
    parser.add_argument("port", type=int)
    args = parser.parse_args()
    serve(args.kind, args.port)


if __name__ == "__main__":
    main()
