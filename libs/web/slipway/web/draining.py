"""`Connection: close` on every HTTP response once the app is draining.

When uvicorn's graceful exit starts it closes every idle keep-alive connection. A client
that has just sent its next request on one of them gets a reset or an EOF instead of an
answer (the HTTP/1.1 keep-alive race), and cannot tell whether the request was processed.
Measured on the contexts service on PostgreSQL with 64 keep-alive clients: 0 to 9 such
resets per SIGTERM, all on reused connections within 0.1 s of the listener closing.

Answering with `Connection: close` during the drain delay closes each connection right
after a whole response, at a moment the client knows it must not reuse it; by the time the
listener closes, busy clients hold no keep-alive connection to lose a request on.

Clients that ignore readiness and reconnect after every `Connection: close` (wrk does) wait
in the kernel's accept queue instead, and closing the listener resets every connection
queued there, request sent: 57 or 58 resets per SIGTERM in the same measurement.
`accept_pending` takes those connections off the queue just before the listener closes, so
`DrainingServer` can answer them (with `Connection: close`) like any other.
"""

import os
import socket
from collections.abc import Iterable, MutableMapping
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from slipway.web.lifecycle import Lifecycle


class CloseWhenDraining:
    """ASGI wrapper: while `lifecycle.draining`, HTTP responses carry `Connection: close`.

    Draining is checked when the response starts, so a request that began before SIGTERM
    and answers during the drain closes its connection too. uvicorn honours the header: it
    closes the connection once the response is sent.
    """

    def __init__(self, app: ASGIApp, lifecycle: Lifecycle) -> None:
        self.app = app
        self.lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass everything through; mark HTTP responses started while draining."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and self.lifecycle.draining:
                say_connection_close(message)
            await send(message)

        await self.app(scope, receive, send_closing)


def say_connection_close(start: MutableMapping[str, Any]) -> None:
    """Make the `http.response.start` message `start` say `Connection: close` (replacing any
    other `Connection`); uvicorn then closes the connection once the response is sent."""
    start.setdefault("headers", [])  # optional in http.response.start
    MutableHeaders(scope=start)["connection"] = "close"


def accept_pending(servers: Iterable[Any]) -> list[socket.socket]:
    """Accept, without waiting, every connection queued on the servers' listening sockets.

    Call it right before closing the listeners, with no `await` in between: whatever the
    kernel has queued is then served rather than reset by the close.
    """
    pending: list[socket.socket] = []
    for server in servers:
        for listener in server.sockets or ():
            # A duplicate of the listening descriptor: the server keeps its own socket, and
            # the duplicate is closed here, so the server's close still closes the listener.
            with socket.socket(fileno=os.dup(listener.fileno())) as duplicate:
                duplicate.setblocking(False)
                while True:
                    try:
                        connection, _ = duplicate.accept()
                    except OSError:  # BlockingIOError: the queue is empty
                        break
                    connection.setblocking(False)
                    pending.append(connection)
    return pending
