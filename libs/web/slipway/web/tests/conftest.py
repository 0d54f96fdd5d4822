"""Fixtures shared by the slipway.web tests."""

import pytest

from slipway.config import Environment, ServiceSettings
from slipway.logging.testing import restore_root_logger

__all__ = ["restore_root_logger"]  # a fixture of the tests that configure logging


@pytest.fixture
def service_settings() -> ServiceSettings:
    """Plain service settings for a test app."""
    return ServiceSettings(service_name="web-test", environment=Environment.TEST)
