"""A fixture for tests that configure logging: the root logger put back afterwards.

`configure_logging` replaces the root logger's handlers and level; a test that calls it asks
for `restore_root_logger` (import it into the test module or its conftest.py, or list this
module in `pytest_plugins`) so the next test finds logging as it was.
"""

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    """The root logger's handlers and level as they were, after a test configured logging."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
