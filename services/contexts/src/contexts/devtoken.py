"""Mint a development bearer token for the embedded default (HS256, the development secret).

    ./pants run services/contexts:token -- --sub alice --scope contexts:read --scope contexts:write
    TOKEN=$(./pants run services/contexts:token -- --sub alice --scope contexts:write)
    curl -H "Authorization: Bearer $TOKEN" 127.0.0.1:8000/v1/kinds

Reads the same settings as the service (CONTEXTS_AUTH__*), so the token matches what
`./pants run services/contexts:serve` accepts. Refuses to run unless HS256 is configured,
which slipway.auth allows only outside production.
"""

import sys

from contexts.settings import Settings
from slipway.auth.devtoken import dev_token_main


def main(argv: list[str]) -> int:
    """Print a token for the subject, scopes and groups given on the command line."""
    return dev_token_main(
        argv, Settings, default_scopes=("contexts:read", "contexts:write"), description=__doc__
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
