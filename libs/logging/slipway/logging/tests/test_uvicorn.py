import asyncio
import json
import logging
import logging.config
import socket
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from slipway.logging import RequestIdMiddleware, get_logger, uvicorn_log_config
from slipway.logging.tests.conftest import LogLines

ACCESS_FORMAT = '%s - "%s %s HTTP/%s" %d'


def parse(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_access_record_becomes_structured_fields(json_lines: LogLines) -> None:
    access = logging.getLogger("uvicorn.access")
    access.info(ACCESS_FORMAT, "10.1.2.3:5123", "POST", "/pay?api_key=k1&x=1", "1.1", 201)

    [line] = json_lines()
    assert line["logger"] == "uvicorn.access"
    assert line["service"] == "ledger"
    assert line["event"] == '10.1.2.3:5123 - "POST /pay?api_key=[REDACTED]&x=1 HTTP/1.1" 201'
    assert line["method"] == "POST"
    assert line["path"] == "/pay?api_key=[REDACTED]&x=1"
    assert line["status_code"] == 201
    assert line["client_addr"] == "10.1.2.3:5123"


def test_error_logger_records_with_exceptions(json_lines: LogLines) -> None:
    try:
        raise RuntimeError("app crashed")
    except RuntimeError as exc:
        logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=exc)

    [line] = json_lines()
    assert line["logger"] == "uvicorn.error"
    assert line["level"] == "error"
    assert "RuntimeError: app crashed" in line["exception"]


def test_uvicorn_log_config_installs_the_pipeline(capsys: pytest.CaptureFixture[str]) -> None:
    config = uvicorn_log_config(service="ledger", version="9", environment="production")
    logging.config.dictConfig(config)

    logging.getLogger("uvicorn.error").info("Started server process [%d]", 7)
    get_logger("ledger").info("structlog too")

    lines = parse(capsys.readouterr().out)
    assert [(line["logger"], line["event"]) for line in lines] == [
        ("uvicorn.error", "Started server process [7]"),
        ("ledger", "structlog too"),
    ]
    assert all(line["version"] == "9" for line in lines)


def build_app() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        get_logger("ledger.ping").info("pong")
        return {"ok": "yes"}

    app.add_middleware(RequestIdMiddleware)
    return app


async def test_real_uvicorn_server_logs_through_the_pipeline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        build_app(),
        log_config=uvicorn_log_config(service="ledger", version="9", environment="test"),
        lifespan="off",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        async with asyncio.timeout(10):
            # uvicorn exposes start-up only as a flag, so poll it.
            while not server.started:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        async with httpx.AsyncClient() as client:
            response = await client.get(
                f"http://127.0.0.1:{port}/ping", headers={"X-Request-ID": "uv-req-1"}
            )
    finally:
        server.should_exit = True
        await serving
        listener.close()

    assert response.headers["x-request-id"] == "uv-req-1"
    lines = parse(capsys.readouterr().out)
    by_logger = {line["logger"]: line for line in lines}
    assert by_logger["ledger.ping"]["request_id"] == "uv-req-1"
    access = by_logger["uvicorn.access"]
    assert access["request_id"] == "uv-req-1"
    assert (access["method"], access["path"], access["status_code"]) == ("GET", "/ping", 200)
    assert any(line["logger"] == "uvicorn.error" for line in lines)
    assert {line["service"] for line in lines} == {"ledger"}
