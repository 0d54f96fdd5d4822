import pytest
from prometheus_client import CollectorRegistry


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh registry per test, so counts never leak between tests."""
    return CollectorRegistry()
