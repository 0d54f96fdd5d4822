"""The example's entry point: a bad configuration is one readable message and exit 2."""

import pytest

from slipway.web.example.app import service


def test_bad_configuration_exits_2_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXAMPLE_WEB__PORT", "eighty")
    monkeypatch.setenv("EXAMPLE_LOG_LEVEL", "chatty")
    assert service.main() == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("Invalid configuration for Settings:")
    assert "EXAMPLE_WEB__PORT" in captured.err
    assert "EXAMPLE_LOG_LEVEL" in captured.err
    assert "Traceback" not in captured.err
