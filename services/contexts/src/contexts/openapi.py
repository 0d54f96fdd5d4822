"""Write the service's OpenAPI document, the committed contract.

    ./pants run services/contexts:openapi

writes services/contexts/openapi.json (run it from the repository root; an
argument overrides the path). The contract test fails when the file differs from the app.
"""

import json
import sys
from pathlib import Path
from typing import Any

from contexts.main import build_app
from contexts.settings import Settings
from slipway.config import Environment

CONTRACT = Path("services/contexts/openapi.json")


def generated_openapi() -> dict[str, Any]:
    """The OpenAPI document the app serves at /openapi.json, with default settings."""
    settings = Settings(environment=Environment.TEST)
    app = build_app(settings)
    document: dict[str, Any] = app.openapi()
    return document


def render(document: dict[str, Any]) -> str:
    """The document as committed: indented, keys in the app's order, a final newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """Write the document to the path in `argv`, else to the committed contract."""
    target = Path(argv[0]) if argv else CONTRACT
    if not argv and not target.parent.is_dir():
        print(f"{target.parent} not found: run from the repository root", file=sys.stderr)
        return 2
    target.write_text(render(generated_openapi()), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
