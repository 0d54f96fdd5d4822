"""`slipway_stack.wait`: what the Procfile starts the services behind."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from slipway_stack.wait import main, wait_for


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ok" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_returns_once_every_url_answers_2xx(server: str) -> None:
    assert wait_for([f"{server}/ok", f"{server}/ok"], timeout_seconds=5) == []
    assert main([f"{server}/ok"]) == 0


def test_a_url_that_does_not_answer_2xx_fails_after_the_timeout(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert wait_for([f"{server}/ok", f"{server}/down"], timeout_seconds=0.3) == [f"{server}/down"]
    assert main([f"{server}/down", "--timeout", "0.2"]) == 1
    assert capsys.readouterr().err.strip() == f"gave up after 0.2 s waiting for {server}/down"
