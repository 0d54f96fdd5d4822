"""Fixtures for the example service's tests: its Service, settings and captured logs.

`app` and `client` come from the slipway.web.testing plugin, built from `service`.
"""

import io
import logging
from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from slipway.config import Environment
from slipway.logging import configure_logging
from slipway.web import Service, WebSettings
from slipway.web.example.app import Settings
from slipway.web.example.app import service as example_service
from slipway.web.example.tests.log_capture import CapturedLogs

pytest_plugins = ["slipway.web.testing"]

MAX_BODY_BYTES = 512


@pytest.fixture
def service() -> Service[Settings]:
    """The example service."""
    return example_service


@pytest.fixture
def settings() -> Settings:
    """Example settings for tests: JSON logs, a small body limit."""
    return Settings(environment=Environment.TEST, web=WebSettings(max_body_bytes=MAX_BODY_BYTES))


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
