"""Serve the example: `./pants run libs/web:example` or `python -m slipway.web.example`.

A bad configuration prints the one-screen ConfigError message on stderr and exits 2.
"""

import sys

from slipway.web.example.app import service

if __name__ == "__main__":
    sys.exit(service.main())
