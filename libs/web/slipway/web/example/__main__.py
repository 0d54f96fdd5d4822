"""Serve the example: `./pants run libs/web:example` or `python -m slipway.web.example`.

A bad configuration prints the one-screen ConfigError message on stderr and exits 2.
"""

import sys

from slipway.config import ConfigError, load_settings
from slipway.logging import configure_logging
from slipway.web import serve
from slipway.web.example.app import Settings, build_app


def main() -> int:
    """Load settings, configure logging and serve until SIGTERM/SIGINT; the exit code."""
    try:
        settings = load_settings(Settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    # Before anything logs; create_app configures the same pipeline again (idempotent).
    configure_logging(
        service=settings.service_name,
        version=settings.version,
        environment=settings.environment.value,
        level=settings.log_level,
        renderer=settings.log_renderer,
    )
    serve(build_app(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
