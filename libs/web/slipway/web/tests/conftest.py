"""Fixtures shared by the slipway.web tests."""

import logging
from collections.abc import Iterator

import pytest

from slipway.config import Environment, ServiceSettings


@pytest.fixture
def service_settings() -> ServiceSettings:
    """Plain service settings for a test app."""
    return ServiceSettings(service_name="web-test", environment=Environment.TEST)


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    """The root logger's handlers and level as they were, after a test configured logging."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
