from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_from_machine_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads a developer's .env, /run/secrets or SLIPWAY_* variables by accident."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLIPWAY_ENV_FILE", "")
    monkeypatch.setenv("SLIPWAY_SECRETS_DIR", "")
