"""A local OTLP/HTTP receiver that accepts and discards spans.

`python -m slipway_bench.otlp_sink PORT`. The overhead benchmark's "platform+otlp" app
exports to it, so the exporter does all of its work (batching, protobuf encoding, HTTP POST)
against a receiver that costs the server nothing. Built on the standard library's
`http.server`; it answers every `POST /v1/traces` with 200 and an empty
`ExportTraceServiceResponse` (zero bytes of protobuf), and on SIGTERM prints one JSON line
to stdout: how many export requests and body bytes it received.
"""

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

TRACES_PATH = "/v1/traces"


class SinkStats:
    """Export requests and body bytes received, updated by the handler threads."""

    def __init__(self) -> None:
        self.requests = 0
        self.body_bytes = 0
        self._lock = threading.Lock()

    def add(self, body_bytes: int) -> None:
        """Count one export request of `body_bytes`."""
        with self._lock:
            self.requests += 1
            self.body_bytes += body_bytes

    def as_dict(self) -> dict[str, int]:
        """The counts as a JSON-ready dict."""
        with self._lock:
            return {"requests": self.requests, "body_bytes": self.body_bytes}


def make_server(host: str, port: int, stats: SinkStats) -> ThreadingHTTPServer:
    """An HTTP server on `host:port` that swallows OTLP/HTTP trace exports into `stats`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the exporter's requests.Session expects

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            if self.path != TRACES_PATH:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            stats.add(length)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """No line per request."""

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    """Serve on 127.0.0.1:PORT until SIGTERM, then print the counts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    stats = SinkStats()
    server = make_server(args.host, args.port, stats)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    server.serve_forever()
    server.server_close()
    sys.stdout.write(json.dumps(stats.as_dict()) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
