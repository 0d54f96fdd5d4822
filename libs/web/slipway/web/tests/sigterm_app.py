"""A service for the SIGTERM test: `python -m slipway.web.tests.sigterm_app` (env configures).

SIGTERM_APP_PORT: port to listen on; SIGTERM_APP_JOURNAL: file the resource writes to on
start and stop, with how many slow requests had completed when it stopped.
"""

import asyncio
import os
from pathlib import Path

from fastapi import APIRouter

from slipway.config import Environment, ServiceSettings
from slipway.web import RateLimitSettings, ServiceParts, WebSettings, create_app, serve

completed = 0
router = APIRouter()


@router.get("/slow")
async def slow(seconds: float = 2.0) -> dict[str, str]:
    """Answer after `seconds`."""
    global completed
    await asyncio.sleep(seconds)
    completed += 1
    return {"status": "done"}


class JournalResource:
    """Writes its start and stop into the journal file."""

    name = "journal"

    def __init__(self, path: Path) -> None:
        self.path = path

    async def start(self) -> None:
        """Note the start."""
        self.path.write_text("started\n")

    async def stop(self) -> None:
        """Note the stop and how many slow requests had completed by then."""
        with self.path.open("a") as journal:
            journal.write(f"stopped after {completed}\n")


def main() -> None:
    """Serve the test app until SIGTERM."""
    web = WebSettings(
        port=int(os.environ["SIGTERM_APP_PORT"]),
        drain_delay_seconds=1.0,
        shutdown_grace_seconds=10,
        rate_limit=RateLimitSettings(enabled=False),
    )
    settings = ServiceSettings(service_name="sigterm-test", environment=Environment.TEST)
    journal = JournalResource(Path(os.environ["SIGTERM_APP_JOURNAL"]))
    app = create_app(settings, ServiceParts(routers=[router], resources=[journal]), web=web)
    serve(app)


if __name__ == "__main__":
    main()
