import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from slipway.logging import configure_logging
from slipway.logging.testing import restore_root_logger

__all__ = ["restore_root_logger"]  # what `_restore_logging` builds on

LogLines = Callable[[], list[dict[str, Any]]]


@pytest.fixture(autouse=True)
def _restore_logging(restore_root_logger: None) -> Iterator[None]:
    """Each test configures logging afresh; put the root logger and context back afterwards."""
    yield
    structlog.contextvars.clear_contextvars()
    logging.captureWarnings(False)


@pytest.fixture
def log_buffer() -> io.StringIO:
    """Where the configured pipeline writes."""
    buffer = io.StringIO()
    configure_logging(
        service="ledger", version="2.3.4", environment="test", level="DEBUG", stream=buffer
    )
    return buffer


@pytest.fixture
def json_lines(log_buffer: io.StringIO) -> LogLines:
    """Each line written so far, parsed as JSON (failing the test if one is not)."""

    def parse() -> list[dict[str, Any]]:
        return [json.loads(line) for line in log_buffer.getvalue().splitlines()]

    return parse
