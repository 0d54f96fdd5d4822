"""Fixtures shared by the slipway.web tests."""

import pytest

from slipway.config import Environment, ServiceSettings


@pytest.fixture
def service_settings() -> ServiceSettings:
    """Plain service settings for a test app."""
    return ServiceSettings(service_name="web-test", environment=Environment.TEST)
