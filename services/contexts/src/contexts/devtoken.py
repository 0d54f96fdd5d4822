"""Mint a development bearer token for the embedded default (HS256, the development secret).

    ./pants run services/contexts:token -- --sub alice --scope contexts:read --scope contexts:write
    TOKEN=$(./pants run services/contexts:token -- --sub alice --scope contexts:write)
    curl -H "Authorization: Bearer $TOKEN" 127.0.0.1:8000/v1/kinds

Reads the same settings as the service (CONTEXTS_AUTH__*), so the token matches what
`./pants run services/contexts:serve` accepts. Refuses to run unless HS256 is configured,
which slipway.auth allows only outside production.
"""

import argparse
import sys

from contexts.settings import Settings
from slipway.auth.testing import hs256_signing_key, mint_token
from slipway.config import ConfigError, Environment, load_settings


def main(argv: list[str]) -> int:
    """Print a token for the subject, scopes and groups given on the command line."""
    parser = argparse.ArgumentParser(prog="token", description=__doc__.splitlines()[0])
    parser.add_argument("--sub", default="dev", help="the subject (default: dev)")
    parser.add_argument(
        "--scope",
        action="append",
        default=[],
        help="a scope to grant (repeat it); default: contexts:read contexts:write",
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
        print("no development HS256 secret is configured (CONTEXTS_AUTH__*)", file=sys.stderr)
        return 2
    scopes = args.scope or ["contexts:read", "contexts:write"]
    claims = {settings.groups_claim: args.group} if args.group else None
    token = mint_token(
        hs256_signing_key(secret.get_secret_value()),
        issuer=settings.auth.issuer,
        audience=settings.auth.audience,
        subject=args.sub,
        scopes=scopes,
        expires_in=args.ttl,
        claims=claims,
    )
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
