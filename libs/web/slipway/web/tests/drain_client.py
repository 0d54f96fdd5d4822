"""A load client for drain tests: keep-alive HTTP/1.1 workers that record every request's fate.

Each worker holds one connection (an httpx client limited to one) and sends GETs back to
back on it. A request whose connection breaks before a whole response arrived is a client
error: the server reset the connection (`reset`) or closed it (`eof`) unanswered,
which is what a keep-alive client sees when a server closes a connection it has just
reused. After a response with `Connection: close` the worker reconnects if `reconnect` says
so (a client ignoring readiness, like wrk) and otherwise stops (a load balancer that has
taken the instance out sends its next request elsewhere). A refused connect is recorded as
`refused`: nothing was sent, so a client may safely retry it elsewhere.
"""

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class Outcome:
    """What happened to one request."""

    sent_at: float  # time.monotonic() when the request was written
    reused: bool  # sent on a connection that had already carried a response
    status: int | None = None
    connection_close: bool = False  # the response said `Connection: close`
    error: str | None = None  # reset, eof, refused, timeout

    @property
    def failed(self) -> bool:
        """The request was sent and got no whole response, or a 5xx."""
        if self.error is not None:
            return self.error != "refused"
        return self.status is not None and self.status >= 500


@dataclass
class Load:
    """Outcomes of all workers, and the connections they opened."""

    outcomes: list[Outcome] = field(default_factory=list)
    connections: int = 0

    def failures(self) -> list[Outcome]:
        """The requests that were sent and failed."""
        return [outcome for outcome in self.outcomes if outcome.failed]

    def summary(self, since: float | None = None) -> dict[str, int]:
        """Counts by fate: `ok`, `ok_close` (answered with Connection: close), errors, 5xx."""
        counts: Counter[str] = Counter()
        for outcome in self.outcomes:
            if since is not None and outcome.sent_at < since:
                continue
            if outcome.error is not None:
                counts[outcome.error] += 1
            elif outcome.status is not None and outcome.status >= 500:
                counts[f"http_{outcome.status}"] += 1
            else:
                counts["ok_close" if outcome.connection_close else "ok"] += 1
        return dict(counts)


def _error(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "refused"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "eof"  # "Server disconnected without sending a response."
    return "reset"  # ReadError, WriteError: the connection was reset


async def _worker(
    load: Load,
    url: str,
    headers: list[tuple[str, str]],
    stop: asyncio.Event,
    reconnect: Callable[[], bool],
    request_timeout_seconds: float,
) -> None:
    # One connection per worker: a request waits for the previous response, as on wrk's.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(
        limits=limits, timeout=request_timeout_seconds, headers=headers
    ) as client:
        reused = False
        while not stop.is_set():
            sent_at = time.monotonic()
            try:
                response = await client.get(url)
            except httpx.TransportError as exc:
                error = _error(exc)
                load.outcomes.append(Outcome(sent_at, reused, error=error))
                reused = False
                if error == "refused":
                    await asyncio.sleep(0.01)
                if not reconnect():
                    return
                continue
            close = "close" in response.headers.get("connection", "").lower()
            load.outcomes.append(Outcome(sent_at, reused, response.status_code, close))
            if not reused:
                load.connections += 1
            reused = not close
            if close and not reconnect():
                return


async def run_load(
    host: str,
    port: int,
    path: str,
    *,
    workers: int,
    stop: asyncio.Event,
    headers: list[tuple[str, str]] | None = None,
    reconnect: Callable[[], bool] = lambda: True,
    request_timeout_seconds: float = 30.0,
    load: Load | None = None,
) -> Load:
    """Run `workers` keep-alive workers until `stop` is set (or none may reconnect).

    Outcomes go to `load` (a new one if None) as they happen.
    """
    load = Load() if load is None else load
    url = f"http://{host}:{port}{path}"
    await asyncio.gather(
        *(
            _worker(load, url, headers or [], stop, reconnect, request_timeout_seconds)
            for _ in range(workers)
        )
    )
    return load
