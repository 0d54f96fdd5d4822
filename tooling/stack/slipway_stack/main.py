"""`./pants run tooling/stack`: contexts, search and the development authorization server.

honcho runs the Procfile's three processes (prefixed, coloured output; Ctrl-C stops them
all, and so does any one of them exiting). See `--help` and tooling/stack/README.md.
"""

import json
import os
import sys
from collections.abc import Mapping, Sequence

from honcho.manager import Manager  # type: ignore[import-untyped]
from honcho.printer import Printer  # type: ignore[import-untyped]

from slipway_stack.config import StackConfig, parse_config, redact
from slipway_stack.plan import (
    CONTEXTS_AUDIENCE,
    SEARCH_AUDIENCE,
    USER_SCOPES,
    process_environment,
    processes,
    stack_environment,
    write_clients_file,
)
from slipway_stack.servers import StackError, prepare


def user_token_command(config: StackConfig, subject: str = "alice") -> str:
    """A shell line that puts a development user token into $TOKEN."""
    body = json.dumps(
        {
            "sub": subject,
            "scopes": list(USER_SCOPES),
            "audience": [CONTEXTS_AUDIENCE, SEARCH_AUDIENCE],
        }
    )
    return (
        f"TOKEN=$(curl -s -X POST {config.authz_url}/dev/token "
        f"-H 'content-type: application/json' -d '{body}' "
        "| python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')"
    )


def banner(config: StackConfig, created: Sequence[str] = ()) -> str:
    """What the stack prints before it starts: where everything is, and how to try it."""
    if config.postgres_url is None:
        storage = f"SQLite files in {config.state_dir.resolve()}"
    else:
        storage = (
            f"PostgreSQL {redact(config.postgres_url)}: databases {config.contexts_database}, "
            f"{config.search_database}"
        )
        if created:
            storage += f" (created: {', '.join(created)})"
    events = (
        f"Redis {redact(config.redis_url)} (search's consumer group on contexts' stream)"
        if config.redis_url
        else "no Redis (search follows contexts' HTTP event feed)"
    )
    return "\n".join(
        [
            "slipway stack (development only)",
            f"  authorization server  {config.authz_url}  (discovery, JWKS, /token, /dev/token)",
            f"  contexts              {config.contexts_url}/docs",
            f"  search                {config.search_url}/docs",
            f"  storage               {storage}",
            f"  events                {events}",
            "",
            "a user token (alice; contexts:read, contexts:write; for contexts and search):",
            f"  {user_token_command(config)}",
            "write a context, then find it:",
            f"  curl -X PUT {config.contexts_url}/v1/contexts/team-a/runbook "
            "-H \"authorization: Bearer $TOKEN\" -H 'content-type: application/json' "
            '-d \'{"kind": "document", "body": {"content": "# Rollback runbook"}}\'',
            f"  curl '{config.search_url}/v1/search?q=rollback' "
            '-H "authorization: Bearer $TOKEN"',
            f"rotate the signing key: curl -X POST {config.authz_url}/dev/rotate",
            "Ctrl-C stops everything.",
            "",
        ]
    )


def run(config: StackConfig, environ: Mapping[str, str]) -> int:
    """Prepare the servers and files, then run the Procfile under honcho until it stops."""
    created = prepare(config)
    config.state_dir.mkdir(parents=True, exist_ok=True)
    write_clients_file(config)
    environment = process_environment(stack_environment(config), environ)
    print(banner(config, created), flush=True)
    manager = Manager(Printer(sys.stdout, colour=sys.stdout.isatty()))
    for process in processes():
        manager.add_process(process.name, process.command, env=environment)
    manager.loop()
    return int(manager.returncode or 0)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> None:
    """The command line entry point."""
    env = os.environ if environ is None else environ
    config = parse_config(sys.argv[1:] if argv is None else argv, env)
    try:
        code = run(config, env)
    except StackError as exc:
        print(f"stack: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    raise SystemExit(code)


if __name__ == "__main__":
    main()
