"""A scratch copy of the repository, as its own git repo, where templates are stamped and built.

The scratch repo shares Pants' caches (lmdb store, named caches) with the real checkout, so its
Pants runs reuse everything already built; only the rendered projects are new work.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

GIT_IDENTITY = (
    "-c",
    "user.name=Slipway template tests",
    "-c",
    "user.email=template-tests@slipway.invalid",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "tag.gpgsign=false",
)


class StepFailedError(Exception):
    """A command the scenario needed did not behave as expected."""


@dataclass
class Result:
    """What a finished command returned and printed."""

    args: Sequence[str]
    returncode: int
    output: str


@dataclass
class Workspace:
    """The scratch repository and the commands run in it."""

    root: Path
    copier: Path
    log_lines: list[str] = field(default_factory=list)

    def run(
        self,
        *args: str,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        quiet: bool = False,
        prefix: Sequence[str] = (),
    ) -> Result:
        """Run a command in the scratch repo; raise StepFailedError when `check` and it fails.

        `prefix` goes right after the program name and is not echoed (git's identity options).
        """
        shown = " ".join(args)
        print(f"   $ {shown}", flush=True)
        completed = subprocess.run(  # noqa: S603 - the commands are this tool's own
            [args[0], *prefix, *args[1:]],
            cwd=self.root,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        result = Result(args=args, returncode=completed.returncode, output=completed.stdout)
        if not quiet or completed.returncode != 0:
            self._echo(completed.stdout)
        if check and completed.returncode != 0:
            raise StepFailedError(f"`{shown}` exited with {completed.returncode}")
        return result

    def git(self, *args: str, check: bool = True) -> Result:
        """Run git with a fixed identity, so commits work on any machine."""
        return self.run("git", *args, check=check, quiet=True, prefix=GIT_IDENTITY)

    def pants(self, *args: str, check: bool = True) -> Result:
        """Run the scratch repo's own ./pants launcher."""
        return self.run("./pants", *args, check=check)

    def slipway(self, *args: str, check: bool = True) -> Result:
        """Run the slipway CLI through Pants, as the README documents."""
        return self.run("./pants", "run", "tooling/cli", "--", *args, check=check)

    def commit_all(self, message: str) -> None:
        """Stage everything and commit it."""
        self.git("add", "-A")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)

    def tag(self, name: str) -> None:
        """Tag HEAD (an annotated tag, as a release would be)."""
        self.git("tag", "-a", name, "-m", f"templates {name}")

    def changed_paths(self) -> list[str]:
        """Paths `git status` reports as changed or new, relative to the repo root."""
        out = self.git("status", "--porcelain", "--untracked-files=all").output
        return sorted(line[3:].strip() for line in out.splitlines() if line.strip())

    def _echo(self, text: str) -> None:
        for line in text.rstrip().splitlines()[-60:]:
            print(f"     {line}", flush=True)


def repository_files(source: Path) -> list[str]:
    """The working tree a developer is testing: tracked and untracked-but-not-ignored files.

    Projects already stamped in the repository (services/x/, libs/y/ with an answers file) stay
    out: they record template versions (tags) that the scratch repo's history does not have.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],  # noqa: S607
        cwd=source,
        stdout=subprocess.PIPE,
        check=True,
    ).stdout.decode()
    stamped = {
        answers.parent.relative_to(source).as_posix() + "/"
        for folder in ("services", "libs")
        for answers in (source / folder).glob("*/.copier-answers.yml")
    }
    return sorted(
        path
        for path in {p for p in listed.split("\0") if p}
        if (source / path).is_file() and not path.startswith(tuple(stamped))
    )


def create(source: Path, copier: Path, parent: Path | None = None) -> Workspace:
    """Copy the working tree of `source` into a fresh git repo and commit it."""
    base = Path(tempfile.mkdtemp(prefix="slipway-template-tests-", dir=parent))
    root = base / "repo"
    root.mkdir()
    for relative in repository_files(source):
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / relative, target)
    workspace = Workspace(root=root, copier=copier)
    workspace.git("init", "--quiet", "--initial-branch=main")
    workspace.commit_all("Snapshot of the repository under test")
    return workspace


def stop_pantsd(workspace: Workspace) -> None:
    """Stop the scratch repo's Pants daemon, which would otherwise outlive the run."""
    for pidfile in (workspace.root / ".pids").glob("*/pantsd/pid"):
        try:
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        except (ValueError, OSError):
            continue


def remove(workspace: Workspace) -> None:
    """Delete the scratch repo."""
    shutil.rmtree(workspace.root.parent, ignore_errors=True)


def fail(message: str) -> None:
    """Print a one-line failure and exit non-zero."""
    print(f"template tests: {message}", file=sys.stderr)
    raise SystemExit(1)
