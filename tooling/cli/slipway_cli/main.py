"""The `slipway` command line: argument parsing, dispatch, and errors as one-screen messages.

Exit codes: 0 done; 1 the command found something to act on (update conflicts or failures,
projects behind the newest template release); 2 bad input or an unusable repository.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from slipway_cli import gitrepo, releases, target
from slipway_cli.commands import drift, new, update
from slipway_cli.errors import EXIT_USAGE, SlipwayError

PROG = "slipway"
_DEBUG_ENV = "SLIPWAY_DEBUG"


class _Parser(argparse.ArgumentParser):
    """argparse that exits with EXIT_USAGE and a hint to --help on bad arguments."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\nSee `{self.prog} --help`.\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser for every command; each command has its own --help."""
    parser = _Parser(
        prog=PROG,
        description=(
            "Stamp services and libs from the monorepo's Copier templates and keep them "
            "updated. Run from anywhere inside the repository."
        ),
        epilog="Exit codes: 0 done, 1 something to act on (conflicts, drift), 2 error.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    new_cmd = commands.add_parser(
        "new",
        help="stamp a new service or lib from its template",
        description=(
            "Create services/NAME or libs/NAME from the repository's Copier template. Questions "
            "take their defaults unless answered with --data; one without a default is asked in "
            "a terminal. The root copier.yml checks every answer before anything is written."
        ),
    )
    new_cmd.add_argument("kind", choices=("service", "lib"), help="which template to stamp")
    new_cmd.add_argument("name", help="kebab-case project name, e.g. billing or order-history")
    new_cmd.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=(
            "answer a template question (repeatable); without a terminal, needed for any "
            "question that has no default"
        ),
    )
    new_cmd.add_argument(
        "--release", metavar="VERSION", help="template release to stamp (default: the newest)"
    )
    new_cmd.add_argument(
        "--defaults",
        action="store_true",
        help="never ask, even in a terminal: a question without a default needs --data",
    )

    update_cmd = commands.add_parser(
        "update",
        help="copier-update stamped projects to a newer template",
        description=(
            "Run `copier update` on stamped projects to a template release, conflicts left "
            "inline in the files. Refuses uncommitted changes in the projects or the templates."
        ),
    )
    update_cmd.add_argument("names", nargs="*", metavar="NAME", help="project name or path")
    update_cmd.add_argument("--all", action="store_true", help="update every stamped project")
    update_cmd.add_argument(
        "--release",
        metavar="VERSION",
        help="template release to update to (default: the newest, templates/releases.yml)",
    )

    drift_cmd = commands.add_parser(
        "drift",
        help="list each project's template release against the newest",
        description=(
            "Compare each stamped project's template release (`_commit` in its answers file) "
            "with the newest release in templates/releases.yml, and warn about template-owned "
            "files edited locally. Exits 1 when any project is not on the newest release."
        ),
    )
    drift_cmd.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def dispatch(args: argparse.Namespace, cwd: Path) -> int:
    """Run the parsed command in the repository holding `cwd`; return the exit code."""
    root = gitrepo.repo_root(cwd)
    if args.command == "new":
        return new.run(
            root,
            args.kind,
            args.name,
            new.parse_data(args.data),
            vcs_ref=target.choose(root, args.release).commit,
            defaults=args.defaults,
            out=sys.stdout,
        )
    if args.command == "update":
        return update.run(
            root, args.names, update_all=args.all, release=args.release, out=sys.stdout
        )
    return drift.run(root, as_json=args.json, out=sys.stdout)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse `argv`, run the command, turn every error into a short message."""
    args = build_parser().parse_args(argv)
    try:
        return dispatch(args, Path.cwd())
    except SlipwayError as error:
        print(f"{PROG}: error: {error.message}", file=sys.stderr)
        return error.exit_code
    except releases.ReleaseError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if os.environ.get(_DEBUG_ENV):
            raise
        print(
            f"{PROG}: unexpected error: {type(error).__name__}: {error}\n"
            f"Set {_DEBUG_ENV}=1 to see the traceback.",
            file=sys.stderr,
        )
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
