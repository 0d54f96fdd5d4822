"""Rewrite openapi.json, the committed contract, from the app.

    ./pants run services/search:openapi

Run from the repository root; a path argument writes elsewhere (`-`: stdout), `--check` compares.
"""

import sys

from search.main import service

if __name__ == "__main__":
    sys.exit(service.export_openapi())
