"""Fixtures for the example service's API tests: settings, app, client and captured logs."""

import io
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from slipway.config import Environment
from slipway.logging import configure_logging
from slipway.web import WebSettings
from slipway.web.example.app import Settings, build_app
from slipway.web.example.tests.log_capture import CapturedLogs
from slipway.web.testing import app_client

MAX_BODY_BYTES = 512


@pytest.fixture
def settings() -> Settings:
    """Example settings for tests: JSON logs, a small body limit."""
    return Settings(environment=Environment.TEST, web=WebSettings(max_body_bytes=MAX_BODY_BYTES))


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    """The example app."""
    return build_app(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to the app through ASGITransport, lifespan running."""
    async with app_client(app) as http:
        yield http


@pytest.fixture
def logs(app: FastAPI, settings: Settings) -> Iterator[CapturedLogs]:
    """Log lines of the app (configured after create_app, which logs to stdout)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(
        service=settings.service_name,
        version=settings.version,
        environment=settings.environment.value,
        stream=stream,
    )
    yield CapturedLogs(stream)
    root.handlers[:] = handlers
    root.setLevel(level)
