"""A service's development token command: mint what its embedded HS256 default accepts.

A service's `devtoken.py` is its docstring, its default scopes and
`sys.exit(dev_token_main(sys.argv[1:], Settings, default_scopes=...))`. The command reads the
same settings as the service (`<PREFIX>AUTH__*`, `<PREFIX>GROUPS_CLAIM`), so the token matches
what the running service accepts, and refuses (exit 2) unless a development HS256 secret is
configured outside production.
"""

import argparse
import sys
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from slipway.auth.settings import AuthSettings
from slipway.auth.signing import hs256_signing_key, mint_token
from slipway.config import ConfigError, Environment, ServiceSettings, env_var_name, load_settings

DEFAULT_TTL_SECONDS = 3600.0


@runtime_checkable
class DevTokenSettings(Protocol):
    """What the command reads from a service's settings."""

    @property
    def environment(self) -> Environment: ...
    @property
    def auth(self) -> AuthSettings: ...
    @property
    def groups_claim(self) -> str: ...


def dev_token_main(
    argv: Sequence[str],
    settings_cls: type[ServiceSettings],
    *,
    default_scopes: Sequence[str],
    description: str | None = None,
    prog: str = "token",
) -> int:
    """Print a token for the subject (`--sub`), scopes (`--scope`, else `default_scopes`),
    groups (`--group`, in the settings' `groups_claim`) and lifetime (`--ttl`) given; 2 with a
    message on stderr when the settings are invalid or have no development HS256 secret."""
    summary = (description or "").strip().splitlines()
    parser = argparse.ArgumentParser(prog=prog, description=summary[0] if summary else None)
    parser.add_argument("--sub", default="dev", help="the subject (default: dev)")
    parser.add_argument(
        "--scope",
        action="append",
        default=[],
        help=f"a scope to grant (repeat it); default: {' '.join(default_scopes)}",
    )
    parser.add_argument("--group", action="append", default=[], help="a group (repeat it)")
    parser.add_argument(
        "--ttl", type=float, default=DEFAULT_TTL_SECONDS, help="lifetime in seconds"
    )
    args = parser.parse_args(list(argv))
    try:
        settings = load_settings(settings_cls)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not isinstance(settings, DevTokenSettings):
        raise TypeError(f"{settings_cls.__name__} has no auth, environment or groups_claim")
    secret = settings.auth.hs256_secret
    if secret is None or settings.environment is Environment.PRODUCTION:
        variables = env_var_name(settings_cls, "auth") + "__*"
        print(f"no development HS256 secret is configured ({variables})", file=sys.stderr)
        return 2
    claims = {settings.groups_claim: args.group} if args.group else None
    token = mint_token(
        hs256_signing_key(secret.get_secret_value()),
        issuer=settings.auth.issuer,
        audience=settings.auth.audience,
        subject=args.sub,
        scopes=args.scope or list(default_scopes),
        expires_in=args.ttl,
        claims=claims,
    )
    print(token)
    return 0
