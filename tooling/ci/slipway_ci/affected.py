"""Affected-only CI: run Pants on what changed since a base commit, or on everything.

Usage (from anywhere inside the repository; CI calls it through `tooling/ci/affected`):

    affected [--base REF] [--dry-run | --list]

Exit codes: 0 all steps passed (or nothing changed), 1 a step failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from slipway_ci.inputs import changes_templates, directory_of, is_global_input, project_input

TEMPLATE_STEPS: tuple[tuple[str, ...], ...] = (
    ("./pants", "run", "tooling/cli", "--", "drift"),
    ("tooling/template_tests/run",),
)

EVERYTHING = "::"
DEFAULT_UPSTREAM = "origin/main"
# For `DIR::` arguments: a directory the change deleted selects nothing instead of failing.
SPEC_FLAGS: tuple[str, ...] = ("--unmatched-cli-globs=ignore",)

# Runs `git ARGS` in the repository; returns stripped stdout, or None when git fails.
GitRunner = Callable[[Sequence[str]], str | None]


class CiError(Exception):
    """Bad input (unknown ref, not a git repository): reported in one line, exit code 2."""


@dataclass(frozen=True)
class Plan:
    """What changed since `base` and so what to run; `base` None means there is no base."""

    base: str | None
    changed: tuple[str, ...]
    global_hits: tuple[str, ...]

    @property
    def everything(self) -> bool:
        """Whether to run on every target rather than on the changed ones."""
        return self.base is None or bool(self.global_hits)

    @property
    def project_dirs(self) -> tuple[str, ...]:
        """Directories whose every target runs because a project input in them changed."""
        if self.everything:
            return ()
        dirs = sorted({directory_of(path) for path in self.changed if project_input(path)})
        return tuple(d for d in dirs if not any(d.startswith(f"{outer}/") for outer in dirs))

    @property
    def templates(self) -> bool:
        """Whether to run the template scenarios: everything runs, or a template input changed."""
        return self.everything or any(changes_templates(path) for path in self.changed)

    @property
    def nothing(self) -> bool:
        """Whether there is a base and nothing changed since it."""
        return self.base is not None and not self.changed


def default_base(git: GitRunner) -> str | None:
    """The merge-base with origin/main, else HEAD's parent, else None (run everything)."""
    for args in (
        ("merge-base", "HEAD", DEFAULT_UPSTREAM),
        ("rev-parse", "--verify", "--quiet", "HEAD~1^{commit}"),
    ):
        found = git(args)
        if found:
            return found
    return None


def explicit_base(ref: str, git: GitRunner) -> str:
    """The merge-base of `ref` and HEAD (the base of `git diff REF...HEAD`), else `ref` itself."""
    commit = git(("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"))
    if not commit:
        raise CiError(f"unknown git ref {ref!r}: fetch it first (CI needs fetch-depth: 0)")
    return git(("merge-base", commit, "HEAD")) or commit


def changed_files(base: str, git: GitRunner) -> tuple[str, ...]:
    """Files changed since `base`: commits, uncommitted and untracked files, renames as both."""
    diff = git(("diff", "--name-only", "--no-renames", base))
    untracked = git(("ls-files", "--others", "--exclude-standard"))
    if diff is None or untracked is None:
        raise CiError(f"git could not list the files changed since {base}")
    return tuple(sorted({line for line in (diff + "\n" + untracked).splitlines() if line}))


def make_plan(base: str | None, git: GitRunner) -> Plan:
    """Diff against `base` (when there is one) and find the global inputs among the changes."""
    if base is None:
        return Plan(base=None, changed=(), global_hits=())
    changed = changed_files(base, git)
    return Plan(base, changed, tuple(path for path in changed if is_global_input(path)))


def changed_flags(plan: Plan, *, dependents: bool) -> list[str]:
    """Pants options selecting the changed targets, with their transitive dependents or not."""
    flags = [f"--changed-since={plan.base}"]
    if dependents:
        flags.append("--changed-dependents=transitive")
    return flags


def project_specs(plan: Plan) -> list[str]:
    """Pants arguments selecting every target in the plan's project directories (`DIR::`)."""
    return [f"{directory}::" for directory in plan.project_dirs]


def step_commands(plan: Plan) -> list[list[str]]:
    """The commands CI runs: on the changed targets, on the project directories, templates."""
    checks = ["tailor", "--check", "update-build-files", "--check", "lint"]
    tests = ["check", "test"]
    if plan.everything:
        commands = [["./pants", *checks, EVERYTHING], ["./pants", *tests, EVERYTHING]]
    else:
        commands = [
            ["./pants", *changed_flags(plan, dependents=False), *checks],
            ["./pants", *changed_flags(plan, dependents=True), *tests],
        ]
    # Pants refuses target arguments next to --changed-since: the project directories run apart.
    if plan.project_dirs:
        specs = project_specs(plan)
        commands.extend(
            [["./pants", *SPEC_FLAGS, *checks, *specs], ["./pants", *SPEC_FLAGS, *tests, *specs]]
        )
    if plan.templates:
        commands.extend(list(step) for step in TEMPLATE_STEPS)
    return commands


def list_commands(plan: Plan) -> list[list[str]]:
    """The Pants commands listing every target that the test steps would select, together."""
    if plan.everything:
        return [["./pants", "list", EVERYTHING]]
    commands = [["./pants", *changed_flags(plan, dependents=True), "list"]]
    if plan.project_dirs:
        commands.append(["./pants", *SPEC_FLAGS, "list", *project_specs(plan)])
    return commands


def say(message: str) -> None:
    """Print a progress or error message on stderr (stdout is for plans and target lists)."""
    print(f"affected: {message}", file=sys.stderr, flush=True)


def make_git(root: Path) -> GitRunner:
    """A GitRunner for the repository at `root`."""

    def git(args: Sequence[str]) -> str | None:
        try:
            done = subprocess.run(  # noqa: S603 - fixed argv, no shell
                ["git", *args],  # noqa: S607 - git from PATH, as every developer runs it
                cwd=root,
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError as error:
            raise CiError(f"cannot run git: {error}") from None
        return done.stdout.strip() if done.returncode == 0 else None

    return git


def repo_root(cwd: Path) -> Path:
    """The top of the git work tree containing `cwd`, which must hold the `pants` launcher."""
    top = make_git(cwd)(("rev-parse", "--show-toplevel"))
    if not top:
        raise CiError(f"{cwd} is not inside a git repository (run this from the Slipway checkout)")
    root = Path(top)
    if not (root / "pants").is_file():
        raise CiError(f"{root} has no ./pants launcher: is this the Slipway repository?")
    return root


def describe(plan: Plan) -> str:
    """One line saying why the plan selects what it does."""
    if plan.base is None:
        return f"no base commit (no {DEFAULT_UPSTREAM}, no parent commit): running everything"
    short = plan.base[:12]
    if plan.global_hits:
        shown = ", ".join(plan.global_hits[:5]) + (" ..." if len(plan.global_hits) > 5 else "")
        return f"global inputs changed since {short} ({shown}): running everything"
    message = f"{len(plan.changed)} files changed since {short}: running on affected targets"
    if plan.project_dirs:
        inputs = ", ".join(path for path in plan.changed if project_input(path))
        message += f" and on every target in {', '.join(plan.project_dirs)} ({inputs})"
    return message


def list_targets(root: Path, commands: Sequence[Sequence[str]]) -> int:
    """Print the sorted addresses all `commands` (Pants `list` runs) print; their exit code."""
    addresses: set[str] = set()
    for command in commands:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command, cwd=root, stdout=subprocess.PIPE, text=True, check=False
        )
        if done.returncode != 0:
            return done.returncode
        addresses.update(done.stdout.split())
    if addresses:
        print("\n".join(sorted(addresses)))
    return 0


def run_steps(root: Path, commands: Sequence[Sequence[str]]) -> int:
    """Run every command from `root`, even after a failure; 1 if any failed, else 0."""
    failed = []
    for command in commands:
        say(f"running: {shlex.join(command)}")
        if subprocess.run(command, cwd=root, check=False).returncode != 0:  # noqa: S603
            failed.append(shlex.join(command))
    for command_line in failed:
        say(f"FAILED: {command_line}")
    return 1 if failed else 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="affected",
        description="Run Pants lint, check and test on what changed since a base ref.",
    )
    parser.add_argument(
        "--base",
        metavar="REF",
        help=f"diff REF...HEAD (default: merge-base with {DEFAULT_UPSTREAM}, else HEAD~1)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    mode.add_argument("--list", action="store_true", help="print the selected target addresses")
    return parser.parse_args(argv)


def execute(args: argparse.Namespace, cwd: Path) -> int:
    """Plan from `args` in the repository containing `cwd`, then print, list or run."""
    root = repo_root(cwd)
    git = make_git(root)
    base = explicit_base(args.base, git) if args.base else default_base(git)
    plan = make_plan(base, git)
    if plan.nothing:
        say(f"nothing changed since {plan.base}: nothing to do")
        return 0
    say(describe(plan))
    if args.dry_run:
        print("\n".join(shlex.join(command) for command in step_commands(plan)))
        return 0
    if args.list:
        return list_targets(root, list_commands(plan))
    return run_steps(root, step_commands(plan))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: returns the exit code; bad input is one line on stderr, never a traceback."""
    args = parse_args(argv)
    try:
        return execute(args, Path.cwd())
    except CiError as error:
        say(f"error: {error}")
        return 2
    except KeyboardInterrupt:
        say("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
