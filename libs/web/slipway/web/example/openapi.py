"""Write the example's OpenAPI document: `./pants run libs/web/slipway/web/example:openapi`.

An argument overrides the path (`-` prints it); `--check` exits 1 when the file is stale.
"""

import sys

from slipway.web.example.app import service

if __name__ == "__main__":
    sys.exit(service.export_openapi())
