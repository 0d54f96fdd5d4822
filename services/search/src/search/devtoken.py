"""Mint a development bearer token for the embedded default (HS256, the development secret).

    ./pants run services/search:token -- --sub alice --group ops
    TOKEN=$(./pants run services/search:token -- --sub alice)
    curl -H "Authorization: Bearer $TOKEN" '127.0.0.1:8001/v1/search?q=runbook'

Reads the same settings as the service (SEARCH_AUTH__*), so the token matches what
`./pants run services/search:serve` accepts. Refuses to run unless HS256 is configured,
which slipway.auth allows only outside production.
"""

import argparse
import sys

from search.domain.acl import READ_SCOPE
from search.settings import Settings
from slipway.auth.testing import hs256_signing_key, mint_token
from slipway.config import ConfigError, Environment, load_settings


def main(argv: list[str]) -> int:
    """Print a token for the subject, scopes and groups given on the command line."""
    parser = argparse.ArgumentParser(prog="token", description=__doc__.splitlines()[0])
    parser.add_argument("--sub", default="dev", help="the subject (default: dev)")
    parser.add_argument(
        "--scope", action="append", default=[], help=f"a scope (repeat it); default: {READ_SCOPE}"
    )
    parser.add_argument("--group", action="append", default=[], help="a group (repeat it)")
    parser.add_argument("--ttl", type=float, default=3600.0, help="lifetime in seconds")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(Settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    secret = settings.auth.hs256_secret
    if secret is None or settings.environment is Environment.PRODUCTION:
        print("no development HS256 secret is configured (SEARCH_AUTH__*)", file=sys.stderr)
        return 2
    claims = {settings.groups_claim: args.group} if args.group else None
    token = mint_token(
        hs256_signing_key(secret.get_secret_value()),
        issuer=settings.auth.issuer,
        audience=settings.auth.audience,
        subject=args.sub,
        scopes=args.scope or [READ_SCOPE],
        expires_in=args.ttl,
        claims=claims,
    )
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
