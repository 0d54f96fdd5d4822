"""Mint a development bearer token for the embedded default (HS256, the development secret).

    ./pants run services/search:token -- --sub alice --group ops
    TOKEN=$(./pants run services/search:token -- --sub alice)
    curl -H "Authorization: Bearer $TOKEN" '127.0.0.1:8001/v1/search?q=runbook'

Reads the same settings as the service (SEARCH_AUTH__*), so the token matches what
`./pants run services/search:serve` accepts. Refuses to run unless HS256 is configured,
which slipway.auth allows only outside production.
"""

import sys

from search.domain.acl import READ_SCOPE
from search.settings import Settings
from slipway.auth.devtoken import dev_token_main


def main(argv: list[str]) -> int:
    """Print a token for the subject, scopes and groups given on the command line."""
    return dev_token_main(argv, Settings, default_scopes=(READ_SCOPE,), description=__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
