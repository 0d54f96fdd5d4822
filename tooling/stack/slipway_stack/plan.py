"""What the stack runs: the Procfile's processes and the one environment they all get.

`stack_environment(config)` is every variable the three processes read: `STACK_*` for the
Procfile's command lines, `CONTEXTS_*` and `SEARCH_*` for the services' settings. The
development authorization server issues every token (RS256, discovery at
`<issuer>/.well-known/openid-configuration`): search's own (client credentials, client
`search`, audience `contexts`) and users' (`POST /dev/token`, audience contexts and search).
The end-to-end tests start the same processes from the same environment.
"""

import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from honcho.environ import parse_procfile  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from slipway_stack.config import StackConfig

PROCESS_NAMES = ("authz", "contexts", "search")
CONTEXTS_AUDIENCE = "contexts"
SEARCH_AUDIENCE = "search"
SEARCH_CLIENT_ID = "search"
SEARCH_CLIENT_SCOPES = ("contexts:read", "contexts:index")
USER_SCOPES = ("contexts:read", "contexts:write")
CLIENTS_FILE = "clients.json"


@dataclass(frozen=True)
class ProcessSpec:
    """One Procfile line: a name and a shell command (run by /bin/sh, as honcho does)."""

    name: str
    command: str


def procfile_text() -> str:
    """The Procfile shipped in this package."""
    return resources.files("slipway_stack").joinpath("Procfile").read_text()


def processes() -> list[ProcessSpec]:
    """The Procfile's processes, in its order (authz, contexts, search)."""
    parsed = parse_procfile(procfile_text())
    return [ProcessSpec(str(name), str(command)) for name, command in parsed.processes.items()]


def database_url(config: StackConfig, service: str) -> str:
    """`service`'s database: its own PostgreSQL database, or a SQLite file in state_dir."""
    if config.postgres_url is None:
        path = (config.state_dir / f"{service}.db").resolve()
        return f"sqlite+aiosqlite:///{path}"
    name = config.contexts_database if service == "contexts" else config.search_database
    url = make_url(config.postgres_url).set(database=name)
    return url.render_as_string(hide_password=False)


def clients_file(config: StackConfig) -> Path:
    """Where the authorization server's client registrations are written."""
    return (config.state_dir / CLIENTS_FILE).resolve()


def write_clients_file(config: StackConfig) -> Path:
    """Register search's client (readable by this user only); its path."""
    path = clients_file(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    clients = [
        {
            "client_id": SEARCH_CLIENT_ID,
            "client_secret": config.client_secret,
            "scopes": list(SEARCH_CLIENT_SCOPES),
            "audience": CONTEXTS_AUDIENCE,
        }
    ]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(clients, handle, indent=2)
    os.chmod(path, 0o600)
    return path


def _verifier(prefix: str, config: StackConfig, audience: str) -> dict[str, str]:
    """AuthSettings for RS256 tokens of the authorization server, keys by discovery."""
    return {
        f"{prefix}AUTH__ISSUER": config.authz_url,
        f"{prefix}AUTH__AUDIENCE": audience,
        f"{prefix}AUTH__DISCOVERY": "true",
        f"{prefix}AUTH__ALGORITHMS": '["RS256"]',
        # A rotated-in key is published ahead (the next key): a short refresh keeps the
        # stack's verifiers current without an unknown-kid fetch.
        f"{prefix}AUTH__JWKS_REFRESH_INTERVAL_SECONDS": "60",
        f"{prefix}AUTH__JWKS_MIN_REFRESH_INTERVAL_SECONDS": "2",
    }


def _redis(prefix: str, config: StackConfig) -> dict[str, str]:
    if config.redis_url is None:
        return {}
    return {
        f"{prefix}REDIS__URL": config.redis_url,
        f"{prefix}REDIS__KEY_PREFIX": config.redis_key_prefix,
    }


def contexts_environment(config: StackConfig) -> dict[str, str]:
    """contexts' CONTEXTS_* settings."""
    return {
        "CONTEXTS_WEB__HOST": config.host,
        "CONTEXTS_WEB__PORT": str(config.contexts_port),
        # Ctrl-C stops a development stack at once (no load balancer to drain from).
        "CONTEXTS_WEB__DRAIN_DELAY_SECONDS": "0",
        "CONTEXTS_DATABASE__URL": database_url(config, "contexts"),
        **_redis("CONTEXTS_", config),
        **_verifier("CONTEXTS_", config, CONTEXTS_AUDIENCE),
    }


def search_environment(config: StackConfig) -> dict[str, str]:
    """search's SEARCH_* settings: its index, its verifier, and how it follows contexts."""
    return {
        "SEARCH_WEB__HOST": config.host,
        "SEARCH_WEB__PORT": str(config.search_port),
        "SEARCH_WEB__DRAIN_DELAY_SECONDS": "0",
        "SEARCH_DATABASE__URL": database_url(config, "search"),
        "SEARCH_CONTEXTS_PUBLIC_URL": config.contexts_url,
        **_redis("SEARCH_", config),
        **_verifier("SEARCH_", config, SEARCH_AUDIENCE),
        "SEARCH_INDEXING__CONTEXTS__BASE_URL": config.contexts_url,
        # search's own client at the authorization server (client credentials, the token
        # endpoint by discovery); it replaces the development HS256 token.
        "SEARCH_INDEXING__CLIENT__ISSUER": config.authz_url,
        "SEARCH_INDEXING__CLIENT__CLIENT_ID": SEARCH_CLIENT_ID,
        "SEARCH_INDEXING__CLIENT__CLIENT_SECRET": config.client_secret,
        "SEARCH_INDEXING__CLIENT__SCOPE": json.dumps(list(SEARCH_CLIENT_SCOPES)),
        "SEARCH_INDEXING__CLIENT__AUDIENCE": CONTEXTS_AUDIENCE,
    }


def stack_environment(
    config: StackConfig,
    *,
    python: str = sys.executable,
    pythonpath: Sequence[str] = tuple(sys.path),
) -> dict[str, str]:
    """The variables every process of the stack gets (on top of the caller's environment).

    `python` runs each process (`-m contexts.main`, ...); `pythonpath` is handed down as
    PYTHONPATH, so a child finds what this interpreter finds (the stack's pex venv, or a
    Pants test sandbox's sources)."""
    return {
        # Absolute: a process runs in its own working directory (a Pants sandbox lists its
        # source roots relative to its own).
        "PYTHONPATH": os.pathsep.join(os.path.abspath(entry) for entry in pythonpath if entry),
        "PYTHONUNBUFFERED": "1",
        "STACK_PYTHON": python,
        "STACK_HOST": config.host,
        "STACK_AUTHZ_PORT": str(config.authz_port),
        "STACK_AUTHZ_URL": config.authz_url,
        "STACK_CONTEXTS_URL": config.contexts_url,
        "STACK_SEARCH_URL": config.search_url,
        "STACK_CLIENTS_FILE": str(clients_file(config)),
        "STACK_USER_AUDIENCE": CONTEXTS_AUDIENCE,
        "STACK_TOKEN_LIFETIME": f"{config.token_lifetime_seconds:g}",
        **contexts_environment(config),
        **search_environment(config),
    }


def process_environment(
    stack: Mapping[str, str], base: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """A process's full environment: `base` (so `CONTEXTS_LOG_LEVEL=DEBUG` and the like still
    reach the services) without the PEX_* variables of the stack's own launcher, then `stack`,
    whose values win."""
    kept = {name: value for name, value in base.items() if not name.startswith("PEX_")}
    return {**kept, **stack}
