"""Keys, tokens and a real JWKS server on loopback, for services' own tests."""

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send

from slipway.auth.devserver import (
    DevAuthorizationServer,
    DevClient,
    serve_authorization_server,
)
from slipway.auth.signing import (
    SigningKey,
    generate_signing_key,
    hs256_signing_key,
    jwks_document,
    mint_token,
)

JWKS_PATH = "/.well-known/jwks.json"


class JwksServer:
    """An issuer's JWKS endpoint over real HTTP on 127.0.0.1; change `document` or `status`."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document: Mapping[str, Any] = document
        self.status = 200  # e.g. 503 to play an issuer that is down
        self.requests = 0
        self.url = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve `document` at JWKS_PATH, 404 elsewhere."""
        if scope["type"] != "http":
            return
        self.requests += 1
        status = self.status if scope["path"] == JWKS_PATH else 404
        body = json.dumps(self.document).encode() if status == 200 else b"{}"
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@contextmanager
def serve_jwks(
    document: Mapping[str, Any], *, timeout_seconds: float = 10.0
) -> Iterator[JwksServer]:
    """Serve `document` with uvicorn, in a thread, on a free 127.0.0.1 port (sets `url`).

    A thread of its own lets a session-scoped fixture share one server across tests and
    event loops; use it from sync or async code alike.
    """
    jwks = JwksServer(document)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(jwks, lifespan="off", log_level="warning", access_log=False, ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=asyncio.run, args=(server.serve(sockets=[sock]),), name="jwks-server", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + timeout_seconds
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the JWKS server did not start")
            time.sleep(0.005)
        jwks.url = f"http://127.0.0.1:{port}{JWKS_PATH}"
        yield jwks
    finally:
        server.should_exit = True
        thread.join(timeout_seconds)
        sock.close()


__all__ = [
    "JWKS_PATH",
    "DevAuthorizationServer",
    "DevClient",
    "JwksServer",
    "SigningKey",
    "generate_signing_key",
    "hs256_signing_key",
    "jwks_document",
    "mint_token",
    "serve_authorization_server",
    "serve_jwks",
]
