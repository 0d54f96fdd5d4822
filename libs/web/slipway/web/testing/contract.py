"""`assert_contract`: the app serves exactly the OpenAPI document committed beside it."""

import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from slipway.web.service import contract_diff, render_openapi


def assert_contract(app: FastAPI, path: Path | str, *, regenerate: str | None = None) -> None:
    """Raise AssertionError with a short diff when `app.openapi()` differs from the file.

    The documents are compared as JSON values; the diff shows both as the export renders
    them. `regenerate` is the command to name in the message (`Service.regenerate_command`).
    """
    __tracebackhide__ = True
    path = Path(path)
    how = f"run {regenerate} and commit it" if regenerate else "regenerate it and commit it"
    if not path.is_file():
        raise AssertionError(f"no committed contract at {path}: {how}")
    committed: Any = json.loads(path.read_text(encoding="utf-8"))
    generated = app.openapi()
    if committed == generated:
        return
    diff = contract_diff(render_openapi(committed), render_openapi(generated), path)
    raise AssertionError(f"{path} is stale: {how}\n{diff}")
