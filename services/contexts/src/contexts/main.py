"""The app factory and the entry point: `./pants run services/contexts:serve`.

Template-owned and kept thin: the service's own wiring is in `composition.py`.
"""

import sys

from fastapi import FastAPI

import contexts
from contexts.composition import compose
from contexts.settings import Settings
from slipway.config import ConfigError, load_settings
from slipway.logging import configure_logging
from slipway.web import create_app, serve

TITLE = "contexts"
# The package docstring's paragraph, on one line: the answer to copier's `description`.
DESCRIPTION = " ".join((contexts.__doc__ or "").split("\n\n", 1)[-1].split())


def build_app(settings: Settings) -> FastAPI:
    """The service's app: its routers, resources and readiness checks on slipway.web."""
    return create_app(settings, compose(settings), title=TITLE, description=DESCRIPTION)


def main() -> int:
    """Load the settings and serve until SIGTERM/SIGINT; exit 2 on a bad configuration."""
    try:
        settings = load_settings(Settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
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
