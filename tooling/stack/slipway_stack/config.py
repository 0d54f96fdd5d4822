"""The stack's command line: what to run where, checked before anything starts.

`parse_config(argv, environ)` returns a `StackConfig` or exits with argparse's one-screen
message (usage, then `stack: error: ...`, status 2) for a bad flag or value.
"""

import argparse
import os
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

POSTGRES_ENV = "SLIPWAY_STACK_POSTGRES_URL"
REDIS_ENV = "SLIPWAY_STACK_REDIS_URL"
STATE_DIR_ENV = "SLIPWAY_STACK_STATE_DIR"

DEFAULT_HOST = "127.0.0.1"
DEFAULT_AUTHZ_PORT = 9400
DEFAULT_CONTEXTS_PORT = 8000
DEFAULT_SEARCH_PORT = 8001
DEFAULT_STATE_DIR = Path(".stack")
DEFAULT_CONTEXTS_DATABASE = "contexts"
DEFAULT_SEARCH_DATABASE = "search"
DEFAULT_TOKEN_LIFETIME_SECONDS = 300.0
MAX_TOKEN_LIFETIME_SECONDS = 86_400.0

DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
REDIS_PREFIX = re.compile(r"^[A-Za-z0-9:._-]{0,100}$")

EPILOG = f"""\
examples:
  ./pants run tooling/stack                          # SQLite files in .stack/, no Redis
  ./pants run tooling/stack -- --postgres postgresql://postgres@127.0.0.1:5432/postgres \\
      --redis redis://127.0.0.1:6379/0               # each service its own database
environment: {POSTGRES_ENV}, {REDIS_ENV}, {STATE_DIR_ENV} stand in for the flags.
Ctrl-C stops every process."""


@dataclass(frozen=True)
class StackConfig:
    """Where the three processes listen and what they store their state in."""

    host: str = DEFAULT_HOST
    authz_port: int = DEFAULT_AUTHZ_PORT
    contexts_port: int = DEFAULT_CONTEXTS_PORT
    search_port: int = DEFAULT_SEARCH_PORT
    state_dir: Path = DEFAULT_STATE_DIR
    # The server URL the services' databases are created on (its own database is only used
    # to connect); None: SQLite files in state_dir.
    postgres_url: str | None = None
    contexts_database: str = DEFAULT_CONTEXTS_DATABASE
    search_database: str = DEFAULT_SEARCH_DATABASE
    # None: no Redis (contexts streams in-process; search follows its HTTP event feed).
    redis_url: str | None = None
    # Prepended to every Redis key of both services (they share contexts' streams).
    redis_key_prefix: str = ""
    token_lifetime_seconds: float = DEFAULT_TOKEN_LIFETIME_SECONDS
    # search's client secret at the authorization server: new for every run.
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)

    @property
    def authz_url(self) -> str:
        """The authorization server's issuer URL."""
        return f"http://{self.host}:{self.authz_port}"

    @property
    def contexts_url(self) -> str:
        """contexts' base URL."""
        return f"http://{self.host}:{self.contexts_port}"

    @property
    def search_url(self) -> str:
        """search's base URL."""
        return f"http://{self.host}:{self.search_port}"


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"{value} is not a port (1-65535)")
    return value


def _url(*schemes: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        parts = urlsplit(text)
        if parts.scheme not in schemes or not parts.hostname:
            shown = " or ".join(f"{scheme}://" for scheme in schemes)
            raise argparse.ArgumentTypeError(f"{_redact(text)!r} is not a {shown}HOST URL")
        try:
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            raise argparse.ArgumentTypeError(f"{_redact(text)!r} has a bad port") from None
        return text

    return parse


def _database_name(text: str) -> str:
    if not DATABASE_NAME.match(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a database name (lower case letters, digits, _; 63 at most)"
        )
    return text


def _redis_prefix(text: str) -> str:
    if not REDIS_PREFIX.match(text):
        raise argparse.ArgumentTypeError(f"{text!r}: letters, digits and :._- only")
    return text


def _lifetime(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 10 <= value <= MAX_TOKEN_LIFETIME_SECONDS:
        raise argparse.ArgumentTypeError(f"{value:g}: between 10 and 86400 seconds")
    return value


def _host(text: str) -> str:
    if not text or any(c.isspace() or c in "/@:[]" for c in text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a host name or IPv4 address")
    return text


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def redact(url: str) -> str:
    """`url` with its password replaced by `***`, for printing."""
    return _redact(url)


def build_parser() -> argparse.ArgumentParser:
    """The `stack` argument parser."""
    parser = argparse.ArgumentParser(
        prog="stack",
        description="Run contexts, search and the development authorization server together "
        "(honcho). Development only.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", type=_host, default=DEFAULT_HOST, help="bind address")
    parser.add_argument("--authz-port", type=_port, default=DEFAULT_AUTHZ_PORT, metavar="N")
    parser.add_argument("--contexts-port", type=_port, default=DEFAULT_CONTEXTS_PORT, metavar="N")
    parser.add_argument("--search-port", type=_port, default=DEFAULT_SEARCH_PORT, metavar="N")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"SQLite files and the stack's files (default .stack, ${STATE_DIR_ENV})",
    )
    parser.add_argument(
        "--postgres",
        type=_url("postgresql", "postgres"),
        default=None,
        metavar="URL",
        help="run both services on this PostgreSQL server, each in its own database, "
        f"created when missing (${POSTGRES_ENV})",
    )
    parser.add_argument(
        "--contexts-database", type=_database_name, default=DEFAULT_CONTEXTS_DATABASE
    )
    parser.add_argument("--search-database", type=_database_name, default=DEFAULT_SEARCH_DATABASE)
    parser.add_argument(
        "--redis",
        type=_url("redis", "rediss"),
        default=None,
        metavar="URL",
        help=f"stream contexts' events through this Redis; search follows them with its own "
        f"consumer group (${REDIS_ENV})",
    )
    parser.add_argument(
        "--redis-prefix", type=_redis_prefix, default="", help="key prefix of both services"
    )
    parser.add_argument(
        "--token-lifetime",
        type=_lifetime,
        default=DEFAULT_TOKEN_LIFETIME_SECONDS,
        metavar="SECONDS",
        help="lifetime of the tokens the authorization server issues (default 300)",
    )
    return parser


def parse_config(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> StackConfig:
    """The configuration `argv` (and the SLIPWAY_STACK_* variables) describe; exits with
    status 2 and one message when something is wrong."""
    parser = build_parser()
    args = parser.parse_args(list(argv))
    postgres = args.postgres
    if postgres is None and environ.get(POSTGRES_ENV):
        postgres = _checked(parser, _url("postgresql", "postgres"), environ[POSTGRES_ENV])
    redis = args.redis
    if redis is None and environ.get(REDIS_ENV):
        redis = _checked(parser, _url("redis", "rediss"), environ[REDIS_ENV])
    state_dir = args.state_dir or Path(environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)
    ports = {
        "--authz-port": args.authz_port,
        "--contexts-port": args.contexts_port,
        "--search-port": args.search_port,
    }
    if len(set(ports.values())) != len(ports):
        shown = ", ".join(f"{flag} {port}" for flag, port in ports.items())
        parser.error(f"the three ports must differ ({shown})")
    if postgres is not None and args.contexts_database == args.search_database:
        parser.error("--contexts-database and --search-database must differ")
    if state_dir.exists() and not state_dir.is_dir():
        parser.error(f"--state-dir {state_dir}: not a directory")
    return StackConfig(
        host=args.host,
        authz_port=args.authz_port,
        contexts_port=args.contexts_port,
        search_port=args.search_port,
        state_dir=state_dir,
        postgres_url=postgres,
        contexts_database=args.contexts_database,
        search_database=args.search_database,
        redis_url=redis,
        redis_key_prefix=args.redis_prefix,
        token_lifetime_seconds=args.token_lifetime,
    )


def _checked(parser: argparse.ArgumentParser, check: Callable[[str], str], value: str) -> str:
    try:
        return check(value)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
