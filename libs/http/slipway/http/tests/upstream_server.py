"""A real local upstream that fails on purpose, served by uvicorn on 127.0.0.1 in a thread."""

import asyncio
import socket
import socketserver
import struct
import threading
import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

ALL_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
ECHOED_HEADERS = ("x-request-id", "traceparent", "idempotency-key")


class HitCounter:
    """Requests seen per key, shared between the server thread and the tests."""

    def __init__(self) -> None:
        self._hits: Counter[str] = Counter()
        self.request_ids: dict[str, list[str | None]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> int:
        """Count a request for `key`; returns how many there have been."""
        with self._lock:
            self._hits[key] += 1
            return self._hits[key]

    def __getitem__(self, key: str) -> int:
        with self._lock:
            return self._hits[key]


def build_app(hits: HitCounter) -> Starlette:
    """Endpoints: /echo, /status/{code}, /fail/{key}, /slow/{key}."""

    async def echo(request: Request) -> Response:
        hits.hit("echo")
        wanted = {name: request.headers.get(name) for name in ECHOED_HEADERS}
        return JSONResponse({"method": request.method, "headers": wanted})

    async def status(request: Request) -> Response:
        code = int(request.path_params["code"])
        hits.hit(f"status/{code}/{request.query_params.get('key', '')}")
        return PlainTextResponse(str(code), status_code=code)

    async def fail(request: Request) -> Response:
        # `times` failures with `status` (and Retry-After when given), then 200; each after `delay`.
        key = request.path_params["key"]
        seen = hits.hit(key)
        hits.request_ids.setdefault(key, []).append(request.headers.get("x-request-id"))
        await asyncio.sleep(float(request.query_params.get("delay", "0")))
        if seen <= int(request.query_params.get("times", "1000000")):
            headers = {}
            if "retry_after" in request.query_params:
                headers["Retry-After"] = request.query_params["retry_after"]
            code = int(request.query_params.get("status", "503"))
            return PlainTextResponse("failing", status_code=code, headers=headers)
        return PlainTextResponse("recovered")

    async def slow(request: Request) -> Response:
        hits.hit(request.path_params["key"])
        await asyncio.sleep(float(request.query_params.get("delay", "0.5")))
        return PlainTextResponse("slow")

    return Starlette(
        routes=[
            Route("/echo", echo, methods=ALL_METHODS),
            Route("/status/{code:int}", status, methods=ALL_METHODS),
            Route("/fail/{key}", fail, methods=ALL_METHODS),
            Route("/slow/{key}", slow, methods=ALL_METHODS),
        ]
    )


class _DroppingHandler(socketserver.BaseRequestHandler):
    """Resets the first `times` connections per key (RST, no response), then answers 200."""

    server: "_DroppingServer"

    def handle(self) -> None:
        head = self.request.recv(65536).decode("latin-1")
        target = head.split(" ", 2)[1] if head.count(" ") >= 2 else "/"
        url = urlsplit(target)
        times = int(parse_qs(url.query).get("times", ["1000000"])[0])
        if self.server.hits.hit(url.path) <= times:
            # SO_LINGER 0: close() sends RST, the client sees a reset connection.
            self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        body = b"recovered"
        self.request.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (len(body), body)
        )


class _DroppingServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, hits: HitCounter) -> None:
        super().__init__(("127.0.0.1", 0), _DroppingHandler)
        self.hits = hits


class FailingUpstream:
    """The HTTP app on `base_url`, a connection-dropping server on `drop_url`, a dead port."""

    def __init__(self) -> None:
        self.hits = HitCounter()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        config = uvicorn.Config(
            build_app(self.hits), log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._dropper = _DroppingServer(self.hits)
        self.drop_url = f"http://127.0.0.1:{self._dropper.server_address[1]}"
        self._dropper_thread = threading.Thread(target=self._dropper.serve_forever, daemon=True)
        # Bound but never listening: connecting is refused.
        self._dead = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._dead.bind(("127.0.0.1", 0))
        self.dead_url = f"http://127.0.0.1:{self._dead.getsockname()[1]}"

    def start(self) -> None:
        """Serve in background threads; return once uvicorn is accepting connections."""
        self._thread.start()
        self._dropper_thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test upstream did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Shut both servers down and release the sockets."""
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._dropper.shutdown()
        self._dropper.server_close()
        self._socket.close()
        self._dead.close()
