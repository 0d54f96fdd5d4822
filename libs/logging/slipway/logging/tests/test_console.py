import io
import logging

from slipway.logging import REDACTED, configure_logging, get_logger


def test_console_renderer_is_readable_and_redacts() -> None:
    buffer = io.StringIO()
    configure_logging(
        service="ledger", version="1", environment="development", renderer="console", stream=buffer
    )

    fields = {"status": 200, "password": "hunter2"}
    get_logger("ledger.web").info("request handled", **fields)
    logging.getLogger("uvicorn.error").warning("shutting down")

    first, second = buffer.getvalue().splitlines()
    assert first.endswith(
        f"Z [info     ] request handled                [ledger.web] password={REDACTED} status=200"
    )
    assert first[:4].isdigit()
    assert "\x1b[" not in first  # a StringIO is not a terminal: no colours
    assert "[warning  ] shutting down" in second
    assert "[uvicorn.error]" in second
    assert "hunter2" not in buffer.getvalue()
    # Service identity is for machines; the console line leaves it out.
    assert "service=" not in first
